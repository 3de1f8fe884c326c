//! The real clients and servers no one here wrote, from PyPI: the official MCP Python SDK,
//! confluent-kafka (librdkafka) to read Kafka, and the forward proxy proxy.py.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// What the suite is written against.
pub const PACKAGES: [&str; 3] = ["mcp==1.30.0", "confluent-kafka==2.16.1", "proxy.py==2.4.10"];

/// A Python with [`PACKAGES`]: `O365_TEST_PYTHON` (set by .ci/run), else a virtualenv made once
/// under the target directory (needs `python3` and access to PyPI).
pub fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        if let Ok(p) = std::env::var("O365_TEST_PYTHON") {
            return PathBuf::from(p);
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-venv");
        let py = venv.join("bin").join("python");
        let ready = Command::new(&py)
            .args(["-c", "import mcp, confluent_kafka, proxy"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ready {
            let ok = Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv)
                .status();
            assert!(
                ok.is_ok_and(|s| s.success()),
                "python3 -m venv {} failed: install python3 (with venv)",
                venv.display()
            );
            let ok = Command::new(&py)
                .args(["-m", "pip", "install", "-q"])
                .args(PACKAGES)
                .status();
            assert!(
                ok.is_ok_and(|s| s.success()),
                "pip install {PACKAGES:?} failed: PyPI must be reachable"
            );
        }
        py
    })
}
