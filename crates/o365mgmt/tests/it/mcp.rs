//! `o365mgmt mcp` driven by the official MCP SDKs (Python and TypeScript), over stdio and
//! streamable HTTP.

use std::io::{BufRead as _, BufReader};

use std::process::{Command, Stdio};

use crate::bin;
use crate::cli::Emu;
use crate::python::python;

fn script() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py")
}

fn report(out: std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "MCP client failed:\n{stdout}\n{stderr}"
    );
    let v: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["ok"], true);
    assert!(v["checks"].as_u64().unwrap() > 60, "{v}");
    v
}

fn journal_vias(e: &Emu) -> Vec<String> {
    let out = e.cmd(&["journal", "--limit", "100"]).output().unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["via"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn stdio_with_the_python_sdk() {
    let e = Emu::new();
    let mut c = Command::new(python());
    c.arg(script())
        .arg("stdio")
        .arg(env!("CARGO_BIN_EXE_o365mgmt"));
    e.configure(&mut c);
    let v = report(c.output().unwrap());
    assert_eq!(v["mode"], "stdio");
    // Same journal as the CLI: the tool calls that ran are there, marked as MCP.
    let vias = journal_vias(&e);
    assert_eq!(
        vias.len(),
        8,
        "the eight calls that ran (rejected and declined ones are not journaled): {vias:?}"
    );
    assert!(vias.iter().all(|v| v == "mcp"));
}

#[test]
fn streamable_http_with_the_python_sdk_and_a_token() {
    let e = Emu::new();
    let token_file = e.home.path().join("token");
    std::fs::write(&token_file, "0123456789abcdef0123456789abcdef\n").unwrap();
    let mut server = e
        .cmd(&["mcp", "--http", "127.0.0.1:0", "--auth-token-file"])
        .arg(&token_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(crate::Reaped)
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = serde_json::from_str::<serde_json::Value>(&line).unwrap()["mcp_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );

    // Without the token: 401.
    let status = e.rt.block_on(async {
        reqwest::Client::new()
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 401);

    let mut c = Command::new(python());
    c.arg(script())
        .arg("http")
        .arg(&url)
        .arg("0123456789abcdef0123456789abcdef");
    e.configure(&mut c);
    let v = report(c.output().unwrap());
    assert_eq!(v["mode"], "http");
    assert!(journal_vias(&e).iter().any(|v| v == "mcp"));

    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success(), "clean exit on SIGTERM");
}

/// The TypeScript SDK's client report: every check passed.
fn ts_report(out: std::process::Output, mode: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "TypeScript MCP client failed:\n{stdout}\n{stderr}"
    );
    let v: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["ok"], true);
    assert_eq!(v["mode"], mode);
    assert!(v["checks"].as_u64().unwrap() > 20, "{v}");
}

#[test]
fn stdio_with_the_typescript_sdk_and_elicitation() {
    let e = Emu::new();
    let mut c = Command::new("node");
    c.arg(crate::node::script("mcp_client.mjs"))
        .arg("stdio")
        .arg(env!("CARGO_BIN_EXE_o365mgmt"));
    e.configure(&mut c);
    ts_report(c.output().unwrap(), "stdio");
}

#[test]
fn streamable_http_with_the_typescript_sdk() {
    let e = Emu::new();
    let server = crate::Served::start(e.cmd(&["mcp", "--http", "127.0.0.1:0"]));
    let url = server.field("mcp_url");
    let mut c = Command::new("node");
    c.arg(crate::node::script("mcp_client.mjs"))
        .arg("http")
        .arg(&url)
        .arg("-");
    e.configure(&mut c);
    let out = c.output().unwrap();
    drop(server);
    ts_report(out, "http");
}

#[test]
fn several_tenants_each_tool_takes_one_by_name() {
    let e = Emu::with(o365_emulator::EmulatorConfig::default().with_tenants(2, 1.0));
    let i = &e.info;
    let mut toml = format!("state = \"{}\"\n", e.state().display());
    let mut pairs = vec![];
    for (name, t) in ["alpha", "beta"].iter().zip(&i.tenants) {
        toml.push_str(&format!(
            "\n[[tenants]]\nname = \"{name}\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\napi_root = \"{}\"\nlogin_endpoint = \"{}\"\n",
            t.id, i.client_id, i.client_secret, i.api_root, i.login_endpoint
        ));
        pairs.push(format!("{name}={}", t.id));
    }
    let config = e.home.path().join("tenants.toml");
    std::fs::write(&config, toml).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut c = Command::new(python());
    c.arg(script())
        .arg("fleet")
        .arg(env!("CARGO_BIN_EXE_o365mgmt"))
        .arg(&config)
        .arg(pairs.join(","));
    e.configure(&mut c);
    // Only the [[tenants]] of the file: no top-level tenant from the environment.
    c.env_remove("O365_TENANT_ID")
        .env_remove("O365_CLIENT_ID")
        .env_remove("O365_CLIENT_SECRET");
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"ok\": true"), "{stdout}");
}

#[test]
fn refuses_to_serve_beyond_loopback_without_a_token() {
    let e = Emu::new();
    let out = e.cmd(&["mcp", "--http", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--auth-token-file"), "{err}");
    assert!(out.stdout.is_empty());
    let short = e.home.path().join("short");
    std::fs::write(&short, "abc").unwrap();
    let out = bin()
        .args(["mcp", "--http", "127.0.0.1:0", "--auth-token-file"])
        .arg(&short)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16 characters"));
}

#[test]
fn stdio_answers_every_line_even_ones_it_cannot_read() {
    use std::io::Write as _;
    let e = Emu::new();
    let mut server = e
        .cmd(&["mcp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = server.stdin.take().unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut next =
        || -> serde_json::Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    stdin.write_all(b"this is not json\n").unwrap();
    let v = next();
    assert_eq!(v["error"]["code"], -32700, "{v}");
    assert!(v["id"].is_null(), "{v}");
    // A 17 MiB line: refused whole, without being kept in memory.
    let big = vec![b'x'; 17 << 20];
    stdin.write_all(&big).unwrap();
    stdin.write_all(b"\n").unwrap();
    let v = next();
    assert_eq!(v["error"]["code"], -32700, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("16 MiB"),
        "{v}"
    );
    // The session still works.
    stdin.write_all(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#).unwrap();
    stdin.write_all(b"\n").unwrap();
    let v = next();
    assert_eq!(v["id"], 1, "{v}");
    assert!(v["result"]["serverInfo"]["name"].is_string(), "{v}");
    drop(stdin);
    assert!(server.wait().unwrap().success());
}

#[test]
fn http_checks_origins_and_bounds_sessions() {
    let e = Emu::new();
    let mut server = e
        .cmd(&["mcp", "--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(crate::Reaped)
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = serde_json::from_str::<serde_json::Value>(&line).unwrap()["mcp_url"]
        .as_str()
        .unwrap()
        .to_string();
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let post = |origin: Option<&str>| {
        let url = url.clone();
        let origin = origin.map(String::from);
        e.rt.block_on(async move {
            let mut rq = reqwest::Client::new()
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .body(init);
            if let Some(o) = origin {
                rq = rq.header("Origin", o);
            }
            rq.send().await.unwrap().status().as_u16()
        })
    };
    // A page of another site may not drive the local server (DNS rebinding); a local one may.
    assert_eq!(post(Some("http://evil.example")), 403);
    assert_eq!(post(Some("http://localhost:3000")), 200);
    // Sessions are bounded: initialize until refused, then the refusal is 503.
    let mut opened = 1;
    let refused = loop {
        match post(None) {
            200 => opened += 1,
            s => break s,
        }
        assert!(
            opened <= o365_mcp::MAX_SESSIONS,
            "more than {} sessions",
            o365_mcp::MAX_SESSIONS
        );
    };
    assert_eq!(refused, 503);
    assert_eq!(opened, o365_mcp::MAX_SESSIONS);
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
}
