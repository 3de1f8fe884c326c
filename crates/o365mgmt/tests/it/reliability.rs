//! The failures a hostile but realistic user finds: each refused clearly, nothing lost, nothing
//! written where it should not be.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::Emu;
use crate::collect::busy_emulator;

fn out(c: &mut Command) -> (i32, String, String) {
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn durations_out_of_range_are_refused_before_any_request() {
    let e = Emu::new();
    for (args, flag) in [
        (vec!["collect", "--since", "99999999999999d"], "--since"),
        (vec!["collect", "--since", "999999999d"], "--since"),
        (vec!["collect", "--overlap", "999999999d"], "--overlap"),
        (
            vec!["collect", "--follow", "--interval", "0s"],
            "--interval",
        ),
        (
            vec!["collect", "--since", "2999-01-01T00:00:00Z"],
            "--since",
        ),
    ] {
        let (code, _, err) = out(&mut e.cmd(&args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(e.requests(), 0);
}

#[test]
fn a_request_naming_a_key_twice_is_refused() {
    let e = Emu::new();
    let mut child = e
        .cmd(&["action"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(br#"{"action":"ping","action":"stop_subscription","case_id":"1","alert_group_identifiers":[],"stop_a_subscription_for":["DLP.All"]}"#).unwrap();
    let o = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(2), "{v}");
    assert_eq!(v["error"]["field"], "action", "{v}");
    assert_eq!(e.requests(), 0, "nothing was stopped");
}

/// Every file under `dir` with its length and a hash of its bytes.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, usize, u64)> {
    use std::hash::{Hash as _, Hasher as _};
    let mut v: Vec<_> = walk(dir)
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            b.hash(&mut h);
            (p, b.len(), h.finish())
        })
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn read_only_commands_write_nothing() {
    let e = busy_emulator(2.0, 0);
    let sink = e.home.path().join("events.jsonl");
    let sink_arg = format!("jsonl:{}", sink.display());
    let read_only: [&[&str]; 5] = [
        &["gaps"],
        &["journal"],
        &["config", "show"],
        &["collect", "status"],
        &["collect", "status", "--sink", &sink_arg],
    ];
    // Nothing recorded yet: nothing is created.
    for args in read_only {
        let (code, stdout, err) = out(&mut e.cmd(args));
        assert_eq!(code, 0, "{args:?}: {stdout} {err}");
    }
    assert!(walk(e.home.path()).is_empty(), "{:?}", walk(e.home.path()));
    // With state and a sink: not a byte changes, even uncommitted bytes a collector would cut.
    let (code, _, err) = out(&mut e.cmd(&["collect", "--sink", &sink_arg]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = out(&mut e.cmd(&["stop-subscription", "DLP.All"]));
    assert_eq!(code, 0, "{err}");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&sink)
        .unwrap()
        .write_all(b"{\"half\": ")
        .unwrap();
    let before = snapshot(e.home.path());
    for args in read_only {
        let (code, stdout, err) = out(&mut e.cmd(args));
        assert_eq!(code, 0, "{args:?}: {stdout} {err}");
    }
    let (_, status, _) = out(&mut e.cmd(&["collect", "status", "--sink", &sink_arg, "-o", "json"]));
    let status: Value = serde_json::from_str(&status).unwrap();
    assert!(
        status["types"][0]["events_written"].as_u64().unwrap() > 0,
        "{status}"
    );
    let (_, gaps, _) = out(&mut e.cmd(&["gaps", "-o", "json"]));
    assert_eq!(
        serde_json::from_str::<Value>(&gaps)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(snapshot(e.home.path()), before);
}

#[cfg(unix)]
#[test]
fn files_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let e = busy_emulator(1.0, 0);
    let sink = e.home.path().join("out/sub/events.jsonl");
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!(
        "umask 000 && exec {} collect --sink jsonl:{}",
        env!("CARGO_BIN_EXE_o365mgmt"),
        sink.display()
    ));
    e.configure(&mut c);
    c.env("O365_STATE", e.home.path().join("st/state.sqlite"));
    let (code, _, err) = out(&mut c);
    assert_eq!(code, 0, "{err}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for f in walk(e.home.path()) {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    for d in ["out", "out/sub", "st"] {
        assert_eq!(mode(&e.home.path().join(d)), 0o700, "{d}");
    }
    assert!(sink.exists());
}

#[cfg(unix)]
#[test]
fn endless_inputs_are_refused_quickly() {
    let e = Emu::new();
    let t0 = Instant::now();
    let (code, config, _) = out(&mut e.cmd(&["ping", "--config", "/dev/zero"]));
    assert_eq!(code, 2, "{config}");
    assert!(config.contains("larger than"), "{config}");
    let (code, stdout, _) = out(e
        .cmd(&["action"])
        .stdin(std::fs::File::open("/dev/zero").unwrap()));
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("larger than"), "{stdout}");
    let (code, stdout, _) = out(e
        .cmd(&["ping"])
        .env_remove("O365_CLIENT_SECRET")
        .env("O365_CERTIFICATE_PATH", "/dev/zero"));
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("larger than"), "{stdout}");
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert_eq!(e.requests(), 0);
}

#[cfg(unix)]
#[test]
fn sink_and_state_problems_are_found_before_any_request() {
    let e = busy_emulator(1.0, 0);
    let dir = e.home.path().display().to_string();
    for sink in [
        "jsonl:/dev/full",
        &format!("jsonl:{dir}"),
        &format!("sqlite:{dir}"),
    ] {
        let (code, _, err) = out(&mut e.cmd(&["collect", "--sink", sink]));
        assert_eq!(code, 2, "{sink}: {err}");
        assert!(err.contains("not a regular file"), "{sink}: {err}");
    }
    assert!(!Path::new("/dev/full.checkpoint.sqlite").exists());
    let (code, stdout, _) = out(&mut e.cmd(&["ping", "--state", "/dev/null"]));
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("not a regular file"), "{stdout}");
    assert!(!Path::new("/dev/null-journal").exists() && !Path::new("/dev/null-wal").exists());
    assert_eq!(e.requests(), 0);
}

#[test]
fn a_damaged_state_file_never_passes_for_success() {
    let e = Emu::new();
    let (code, _, err) = out(&mut e.cmd(&["start-subscription", "--all"]));
    assert_eq!(code, 0, "{err}");
    // Damage every page after the first (the header stays readable).
    let state = e.state();
    let _ = std::fs::remove_file(state.with_extension("sqlite-wal"));
    let mut bytes = std::fs::read(&state).unwrap();
    for b in bytes.iter_mut().skip(4096) {
        *b = 0x5a;
    }
    std::fs::write(&state, bytes).unwrap();
    let (code, stdout, _) = out(&mut e.cmd(&["stop-subscription", "Audit.General"]));
    assert_ne!(
        code, 0,
        "a stop whose gap cannot be recorded is not a success: {stdout}"
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let error = v["error"].to_string();
    assert!(error.contains("state"), "{v}");
}

#[test]
fn smaller_refusals_name_the_problem_and_send_nothing() {
    let e = Emu::new();
    let soar = e.home.path().join("soar.json");
    std::fs::write(&soar, "[1, 2]").unwrap();
    let (code, stdout, _) = out(&mut e.cmd(&["ping", "--soar-config", soar.to_str().unwrap()]));
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("soar-config"), "{stdout}");
    let (code, stdout, err) = out(e
        .cmd(&["ping"])
        .env("O365_API_ROOT", "http://user:pa55word@127.0.0.1:9"));
    assert_eq!(code, 2, "{stdout}");
    assert!(
        !stdout.contains("pa55word") && !err.contains("pa55word"),
        "{stdout}{err}"
    );
    let (code, stdout, _) = out(e.cmd(&["ping"]).env("O365_API_ROOT", ""));
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stdout.contains("O365_API_ROOT") && stdout.contains("empty"),
        "{stdout}"
    );
    let pem = e.home.path().join("cert-only.pem");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/app-cert.pem"),
        &pem,
    )
    .unwrap();
    let (code, stdout, _) = out(e
        .cmd(&["ping"])
        .env_remove("O365_CLIENT_SECRET")
        .env("O365_CERTIFICATE_PATH", &pem));
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("no private key"), "{stdout}");
    assert_eq!(e.requests(), 0);
}

#[test]
fn metrics_beyond_loopback_are_served_with_a_loud_warning() {
    let e = busy_emulator(1.0, 0);
    let (code, _, err) = out(&mut e.cmd(&["collect", "--metrics-addr", "0.0.0.0:0"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("beyond loopback") && err.contains("without authentication"),
        "{err}"
    );
}

#[test]
fn a_day_long_retry_after_fails_the_action_at_once_and_says_when_to_retry() {
    let e = Emu::new();
    e.control(
        reqwest::Method::PUT,
        "throttle",
        Some(json!({"requests_per_minute": 1, "status": 429, "retry_after_secs": 86400})),
    );
    // The budget's one request of the minute goes to a listing; then every start is throttled.
    let _ = out(&mut e.cmd(&["subscriptions"]));
    let t0 = Instant::now();
    let (code, stdout, _) = out(&mut e.cmd(&["start-subscription", "--all"]));
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "it waited {:?}",
        t0.elapsed()
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((code, v["status"].as_str()), (3, Some("Failed")), "{v}");
    assert_eq!(v["error"]["cause"], "throttled", "{v}");
    assert_eq!(v["error"]["retry_after_seconds"], 86400, "{v}");
    assert!(
        v["error"]["fix"].as_str().unwrap().contains("1d 0h 0m"),
        "{v}"
    );
}

#[test]
fn an_unreachable_broker_at_start_is_a_connectivity_failure_exit_3() {
    let e = Emu::new();
    // Nothing listens on port 9 of loopback (the discard port, closed here).
    let o = e
        .cmd(&["collect", "--sink", "kafka://127.0.0.1:9/audit"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("cannot reach 127.0.0.1:9"),
        "names the broker: {err}"
    );
}

#[test]
fn a_certificate_given_as_a_flag_is_not_ignored_for_a_secret_in_the_environment() {
    let e = Emu::new();
    // The secret comes from the environment, the certificate from a flag: the flag wins, and
    // /dev/zero is no certificate.
    let o = e
        .cmd(&["ping", "--certificate-path", "/dev/zero", "-o", "json"])
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_ne!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        format!("{out}{err}").contains("certificate_path"),
        "names the certificate: {out}{err}"
    );
    // From the same layer the secret wins, as in the integration, with a warning naming both.
    let o = e
        .cmd(&["ping", "-o", "json"])
        .env("O365_CERTIFICATE_PATH", "/dev/zero")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("both a client secret and a certificate"),
        "{err}"
    );
}

#[test]
fn a_half_sent_request_holds_up_no_stopping_listener() {
    let e = busy_emulator(1.0, 0);
    for (args, field) in [
        (
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--sink",
                "null",
                "--since",
                "1h",
            ][..],
            "listen",
        ),
        (&["status", "--serve", "127.0.0.1:0"], "url"),
        (&["mcp", "--http", "127.0.0.1:0"], "mcp_url"),
    ] {
        let mut s = crate::Served::start(e.cmd(args));
        let url = s.field(field);
        let addr = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        // A client that starts a request and never finishes it.
        let mut half = std::net::TcpStream::connect(&addr).unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        Command::new("kill")
            .args(["-TERM", &s.child.id().to_string()])
            .status()
            .unwrap();
        let code = loop {
            if let Some(st) = s.child.try_wait().unwrap() {
                break st.code();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(8),
                "{args:?} still running {:?} after SIGTERM, held by a half-sent request",
                t0.elapsed()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(code, Some(0), "{args:?}");
        drop(half);
    }
}

#[test]
fn a_webhook_beyond_loopback_needs_an_auth_id_and_an_empty_one_is_refused() {
    let e = Emu::new();
    let before = e.requests();
    let follow = |auth: Option<&str>, listen: &str| {
        let mut c = e.cmd(&[
            "collect",
            "Audit.General",
            "--follow",
            "--webhook",
            listen,
            "--webhook-url",
            "https://collector.example.com/o365",
        ]);
        if let Some(a) = auth {
            c.env("O365_WEBHOOK_AUTH_ID", a);
        }
        out(&mut c)
    };
    let (code, _, err) = follow(None, "0.0.0.0:0");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("beyond loopback without --auth-id"), "{err}");
    for bad in ["", "   ", "two words"] {
        let (code, _, err) = follow(Some(bad), "127.0.0.1:0");
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("--auth-id (O365_WEBHOOK_AUTH_ID)"), "{err}");
    }
    assert_eq!(e.requests(), before, "refused before any request");
}

#[test]
fn a_first_run_that_fails_at_once_still_fixes_where_collection_begins() {
    let mut cfg = o365_emulator::EmulatorConfig::default().with_all_subscriptions(30.0);
    cfg.throttle.requests_per_minute = 1_000_000;
    let e = Emu::with(cfg);
    let t1 = e.clock();
    let out_file = e.home.path().join("events.jsonl");
    let sink = format!("jsonl:{}", out_file.display());
    let args = ["collect", "Audit.General", "--once", "--sink", &sink];
    // The first run fails before any request succeeds (a wrong secret: the sign-in refuses).
    let (code, _, err) = out(e.cmd(&args).env("O365_CLIENT_SECRET", "wrong"));
    assert_eq!(code, 3, "{err}");
    // Two hours later, a run that works: it begins where the first one would have, 24 hours
    // before the first run, not 24 hours before itself.
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({"seconds": 7200})),
    );
    let (code, _, err) = out(&mut e.cmd(&args));
    assert_eq!(code, 0, "{err}");
    let got: std::collections::BTreeSet<String> = std::fs::read_to_string(&out_file)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["Id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let h = chrono::Duration::hours;
    let m = chrono::Duration::minutes;
    let early = e.manifest(
        "Audit.General",
        &fmt(t1 - h(24) + m(10)),
        &fmt(t1 - h(22) - m(10)),
    );
    assert!(!early.is_empty());
    let missing: Vec<&String> = early.iter().filter(|i| !got.contains(*i)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} events of the first run's first two hours missing",
        missing.len(),
        early.len()
    );
}
