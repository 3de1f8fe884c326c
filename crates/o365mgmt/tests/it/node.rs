//! The official MCP TypeScript SDK from npm, for the MCP tests: `O365_TEST_NODE_MODULES` (a
//! directory whose `node_modules` holds it; set by .ci/run), else installed once under the
//! target directory (needs Node 18+ and npm with access to the registry).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// What the suite is written against.
pub const SDK: &str = "@modelcontextprotocol/sdk@1.32.2";

/// A directory with the SDK in its `node_modules`, where client scripts are run from.
pub fn sdk_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var("O365_TEST_NODE_MODULES")
            .map(PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_TARGET_TMPDIR")).join("ts-mcp"));
        let ready = dir
            .join("node_modules/@modelcontextprotocol/sdk/package.json")
            .is_file();
        if !ready {
            std::fs::create_dir_all(&dir).unwrap();
            let ok = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir)
                .arg(SDK)
                .status();
            assert!(
                ok.is_ok_and(|s| s.success()),
                "npm install {SDK} failed: install Node 18+ with npm (the npm registry must be reachable)"
            );
        }
        dir
    })
}

/// The client script `name` (from tests/) copied next to the SDK once, ready for `node`.
pub fn script(name: &str) -> PathBuf {
    static COPIED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let to = sdk_dir().join(name);
    let mut copied = COPIED.lock().unwrap_or_else(|e| e.into_inner());
    if !copied.iter().any(|c| c == name) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(name);
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        copied.push(name.to_string());
    }
    to
}
