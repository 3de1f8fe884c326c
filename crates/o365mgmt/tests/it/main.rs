//! End-to-end tests of the `o365mgmt` binary.
#![allow(missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_o365mgmt"))
}

/// A long-running command that prints one JSON line on stdout first (where it listens); killed
/// when dropped, so a failing test leaves no process behind.
pub struct Served {
    pub child: std::process::Child,
    /// Its first line.
    pub line: serde_json::Value,
}

impl Served {
    /// Spawn `c` (stderr discarded) and read its first line.
    pub fn start(mut c: Command) -> Served {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let line = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON line ({e}): {line:?}"));
        Served { child, line }
    }

    /// A string field of the first line (`url`, `listen`, `mcp_url`).
    pub fn field(&self, key: &str) -> String {
        self.line[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key} in {}", self.line))
            .to_string()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every event `Id` in a JSONL file, and how many lines it has.
pub fn jsonl_ids(path: &std::path::Path) -> (std::collections::BTreeSet<String>, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["Id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let n = ids.len();
    (ids.into_iter().collect(), n)
}

/// A spawned process killed when dropped, so a failing test leaves none behind.
pub struct Reaped(pub std::process::Child);

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn emulator_prints_one_json_line_serves_and_stops_on_sigterm() {
    let mut child = bin()
        .args(["emulator", "--addr", "127.0.0.1:0", "--seed", "9"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(crate::Reaped)
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    for k in [
        "api_root",
        "login_endpoint",
        "tenant_id",
        "client_id",
        "client_secret",
    ] {
        assert!(
            v[k].as_str().is_some_and(|s| !s.is_empty()),
            "{k} in {line}"
        );
    }
    assert_eq!(v["seed"], 9);
    let root = v["api_root"].as_str().unwrap();
    assert!(root.starts_with("http://127.0.0.1:") && !root.ends_with(":0"));
    // It really serves: a token with the printed credentials.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                v["login_endpoint"].as_str().unwrap(),
                v["tenant_id"].as_str().unwrap()
            ))
            .form(&[
                ("client_id", v["client_id"].as_str().unwrap()),
                ("client_secret", v["client_secret"].as_str().unwrap()),
                ("scope", &format!("{root}/.default")),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let code = child.wait().unwrap();
    assert!(code.success(), "clean exit on SIGTERM: {code:?}");
}

#[test]
fn emulator_prints_shell_settings_that_work_as_sourced_from_anywhere() {
    // The example file, loaded from another directory: its certificate path is the file's.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../emulator.example.toml");
    let home = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["emulator", "--print-env", "--config", example])
        .current_dir(home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(crate::Reaped)
        .unwrap();
    let mut env = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "the emulator stopped before it was ready: {env}");
        env.push_str(&line);
        if line.starts_with("# o365mgmt emulator: ready") {
            break;
        }
    }
    let file = home.path().join("emulator.env");
    std::fs::write(&file, &env).unwrap();
    let state = env
        .lines()
        .find_map(|l| l.strip_prefix("export O365_STATE="))
        .expect("its own state")
        .trim_matches('\'')
        .to_string();
    assert!(
        state.starts_with(std::env::temp_dir().to_str().unwrap()),
        "{state}"
    );
    // Sourced by a shell as the README does, a command works against it with nothing else set.
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            ". {} && exec {} ping -o json",
            file.display(),
            env!("CARGO_BIN_EXE_o365mgmt")
        ))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .current_dir(home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        std::path::Path::new(&state).exists(),
        "ping recorded into the emulator's state"
    );
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(child.wait().unwrap().success());
    assert!(
        !std::path::Path::new(&state).exists(),
        "its state goes with it"
    );
}

#[test]
fn emulator_rejects_a_bad_config_with_the_field_named() {
    let dir = std::env::temp_dir().join(format!("o365mgmt-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("bad.toml");
    std::fs::write(&p, "[api]\npage_size = 0\n").unwrap();
    let out = bin()
        .args(["emulator", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("api.page_size"), "{err}");
    assert!(out.stdout.is_empty());
    let out = bin()
        .args(["emulator", "--config", "/nonexistent/x.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.toml"));
}

#[test]
fn demo_runs_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("demo.sqlite");
    let out = bin()
        .arg("demo")
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Successfully connected to the O365 Management API"),
        "{text}"
    );
    assert!(text.contains("already enabled"), "{text}");
    assert!(text.contains("Data gap for Audit.Exchange"), "{text}");
    assert!(text.contains("gap: ["), "{text}");
    // The events collected, read back through the view `events`: three operations with counts.
    let after = text
        .split("FROM events GROUP BY operation")
        .nth(1)
        .unwrap_or_else(|| panic!("no query shown: {text}"));
    let counted = after
        .lines()
        .skip(1)
        .take(3)
        .filter(|l| {
            l.split_whitespace()
                .last()
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
        .count();
    assert_eq!(counted, 3, "{text}");
    assert!(text.contains("Done."));
    // --state keeps the journal for later: the same rows through `journal`.
    let out = bin()
        .args(["journal", "--output", "json", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 7);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

mod alerts;
mod backfill;
mod cli;
mod clouds;
mod collect;
mod fleet;
mod fleet_group;
mod identity;
mod kafka;
mod kafka_security;
mod kafka_sink;
mod mcp;
mod node;
mod proxy;
mod python;
mod readme;
mod reliability;
mod shipping;
mod status;
mod tls;
mod upgrade;
mod webhook;
