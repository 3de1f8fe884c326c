//! HTTPS: the emulator's `--tls` mode with a CA made for the run, trusted by the client only
//! through `ca_file` (flag or `O365_CA_FILE`), never by default.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use o365_emulator::{EmulatorConfig, StartInfo};
use serde_json::Value;

use crate::bin;
use crate::cli::Emu;

/// Run and say (exit code, stdout, stderr).
fn out(c: &mut Command) -> (i32, String, String) {
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A private home and the emulator's connection facts in the environment.
fn configured(info: &StartInfo, home: &std::path::Path, args: &[&str]) -> Command {
    let mut c = bin();
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("O365_API_ROOT", &info.api_root)
        .env("O365_LOGIN_ENDPOINT", &info.login_endpoint)
        .env("O365_TENANT_ID", &info.tenant_id)
        .env("O365_CLIENT_ID", &info.client_id)
        .env("O365_CLIENT_SECRET", &info.client_secret)
        .env("O365_STATE", home.join("state.sqlite"));
    c
}

#[test]
fn the_emulator_serves_https_and_its_ca_is_trusted_only_when_given() {
    let mut child = bin()
        .args(["emulator", "--tls"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(crate::Reaped)
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: StartInfo = serde_json::from_str(&line).expect("one JSON line");
    assert!(info.api_root.starts_with("https://127.0.0.1:"), "{line}");
    assert!(info.login_endpoint.starts_with("https://"), "{line}");
    let ca = std::path::PathBuf::from(info.ca_file.clone().expect("ca_file in the line"));
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE"), "{pem}");
    let home = tempfile::tempdir().unwrap();

    // Not trusted by default: the built-in roots do not know this CA.
    let (code, stdout, stderr) = out(&mut configured(&info, home.path(), &["ping", "-o", "json"]));
    assert_eq!(code, 3, "{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["result_value"], false, "{v}");
    assert_eq!(v["error"]["cause"], "untrusted_certificate", "{v}");
    assert!(
        v["error"]["fix"].as_str().unwrap().contains("ca_file"),
        "{v}"
    );

    // Trusted through the flag, and through the variable.
    let ca_s = ca.display().to_string();
    let (code, stdout, stderr) = out(&mut configured(
        &info,
        home.path(),
        &["ping", "-o", "json", "--ca-file", &ca_s],
    ));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (code, stdout, stderr) =
        out(configured(&info, home.path(), &["ping", "-o", "json"]).env("O365_CA_FILE", &ca));
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // `config show` says where the CA comes from.
    let (code, stdout, _) = out(
        configured(&info, home.path(), &["config", "show", "-o", "json"]).env("O365_CA_FILE", &ca),
    );
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&ca_s) && stdout.contains("O365_CA_FILE"),
        "{stdout}"
    );

    // A file that holds no certificate is named, before any request.
    let junk = home.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let (code, stdout, stderr) =
        out(configured(&info, home.path(), &["ping", "-o", "json"]).env("O365_CA_FILE", &junk));
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        (stdout.clone() + &stderr).contains("ca_file"),
        "{stdout}\n{stderr}"
    );
    // PEM framing around a body that is not a certificate: named as such, not "builder error".
    std::fs::write(
        &junk,
        "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (code, stdout, stderr) =
        out(configured(&info, home.path(), &["ping", "-o", "json"]).env("O365_CA_FILE", &junk));
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    let said = stdout.clone() + &stderr;
    assert!(
        said.contains("ca_file") && said.contains("not a valid X.509 certificate"),
        "{said}"
    );
    // A proxy that cannot be reached is named, not the service's host.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (code, stdout, stderr) = out(configured(&info, home.path(), &["ping", "-o", "json"])
        .env("O365_CA_FILE", &ca)
        .env("O365_PROXY", &proxy));
    assert_eq!(code, 3, "{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["error"]["cause"], "proxy_unreachable", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(&proxy),
        "{v}"
    );

    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(child.wait().unwrap().success());
    assert!(
        !ca.exists(),
        "the CA file is removed when the emulator stops"
    );
}

#[test]
fn actions_and_a_collection_over_https() {
    let e = Emu::with_tls(EmulatorConfig::default().with_all_subscriptions(3.0));
    assert!(e.info.api_root.starts_with("https://"));
    let (code, stdout, stderr) = out(&mut e.cmd(&["subscriptions", "-o", "json"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let db = e.home.path().join("events.sqlite");
    let sink = format!("sqlite:{}", db.display());
    let (code, stdout, stderr) = out(&mut e.cmd(&[
        "collect", "--all", "--once", "--since", "2h", "--sink", &sink, "-o", "json",
    ]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let written = v["events_written"].as_u64().unwrap_or(0);
    assert!(written > 0, "nothing collected over HTTPS: {v}");
    let rows: u64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, written);
    assert!(e.requests() > 2);
}

#[test]
fn the_platform_store_is_trusted_as_well() {
    let e = Emu::with_tls(EmulatorConfig::default());
    let ca = e.ca_file.clone().unwrap();
    // No ca_file: the CA is in the store the platform's tools read (SSL_CERT_FILE).
    let (code, stdout, stderr) = out(e
        .cmd(&["ping", "-o", "json"])
        .env_remove("O365_CA_FILE")
        .env("SSL_CERT_FILE", &ca));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // And a store without it does not do.
    let other = e.home.path().join("other.pem");
    std::fs::write(
        &other,
        o365_emulator::TlsMaterial::generate().unwrap().ca_pem(),
    )
    .unwrap();
    let (code, stdout, stderr) = out(e
        .cmd(&["ping", "-o", "json"])
        .env_remove("O365_CA_FILE")
        .env("SSL_CERT_FILE", &other));
    assert_eq!(code, 3, "{stdout}\n{stderr}");
}
