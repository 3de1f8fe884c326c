//! The README's examples, run as written, in bash with the binary on the PATH and nothing
//! configured. What a test must change is said where it does: hosts that do not exist here
//! (a SOAR webhook, brokers, fixed ports) become the test's own, `cargo run --release --`
//! becomes the binary, and a command that runs until stopped (`--follow`, `--serve`, `serve`)
//! runs in the background until it has done what the README says, then is stopped. A README
//! example that breaks fails here.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The shell blocks of the README section titled `title`.
fn blocks(readme: &str, title: &str) -> String {
    fenced(readme, title, "sh")
}

/// The blocks fenced as `lang` in the section of `doc` titled `title` (a `## ` heading), joined.
pub(crate) fn fenced(doc: &str, title: &str, lang: &str) -> String {
    fenced_blocks(doc, title, lang).concat()
}

/// The blocks fenced as `lang` in the section of `doc` titled `title`, one by one.
fn fenced_blocks(doc: &str, title: &str, lang: &str) -> Vec<String> {
    let start = doc
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("no section {title:?}"));
    let rest = &doc[start + 4 + title.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in section.lines() {
        if line.starts_with("```") && line[3..].trim() == lang && block.is_none() {
            block = Some(String::new());
        } else if line.starts_with("```") {
            out.extend(block.take());
        } else if let Some(b) = &mut block {
            b.push_str(line);
            b.push('\n');
        }
    }
    assert!(!out.is_empty(), "no {lang} block in {title:?}");
    out
}

/// The README.
fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap()
}

/// The commands of a section's shell blocks: continued lines joined, comments dropped.
fn commands(readme: &str, title: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in blocks(readme, title).lines() {
        let line = match line.find(" #") {
            Some(i) if !line[..i].contains('\'') => &line[..i],
            _ if line.trim_start().starts_with('#') => "",
            _ => line,
        };
        let line = line.trim_end();
        if let Some(head) = line.strip_suffix('\\') {
            cur.push_str(head);
            continue;
        }
        cur.push_str(line);
        if !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur).trim().to_string());
        }
        cur.clear();
    }
    out
}

/// A command that runs until stopped, run in the background (its output into `log`) until
/// `pattern` shows in that log (two minutes at most); then `then` runs and the command is
/// stopped. The script fails if the pattern never showed.
fn until_seen(cmd: &str, log: &str, pattern: &str, then: &str) -> String {
    format!(
        "{cmd} >>{log} 2>&1 &\nbg=$!\nfor i in $(seq 600); do grep -q '{pattern}' {log} && break; kill -0 $bg 2>/dev/null || break; sleep 0.2; done\ngrep -q '{pattern}' {log} || {{ echo \"{log}: no '{pattern}'\" >&2; cat {log} >&2; exit 1; }}\n{then}\nkill $bg 2>/dev/null; wait $bg || true\n"
    )
}

/// The README's way to start the emulator and take its settings ("Try it without a tenant").
fn emulator_prelude(readme: &str) -> String {
    commands(readme, "Try it without a tenant")
        .into_iter()
        .filter(|c| c.contains("emulator") || c.contains("emulator.env"))
        .map(|c| c + "\n")
        .collect()
}

/// `run`, then its output as text, failing the test with both when it did not succeed.
fn ran(script: &str, home: &std::path::Path) -> (String, String) {
    let o = run(script, home);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(
        o.status.success(),
        "the README's examples failed:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// The JSONL file `file` holds more than `at_least` events, each once (`output`: what the
/// examples printed, shown when it does not).
fn each_event_once(file: &std::path::Path, at_least: usize, output: &str) {
    let (ids, lines) = crate::jsonl_ids(file);
    assert!(lines > at_least, "{lines} events in {file:?}\n{output}");
    assert_eq!(ids.len(), lines, "events written twice into {file:?}");
}

/// The emulator's examples write into its own state, never the user's (`home`'s).
fn user_state_untouched(home: &std::path::Path) {
    assert!(
        !home.join("data/o365mgmt/state.sqlite").exists(),
        "the emulator's examples write into its own state, never the user's"
    );
}

/// How long one README section may run: its slowest (the fleet) takes about a minute alone and
/// a few under a loaded CI; past this the section is stopped and its output shown.
const SECTION_LIMIT: Duration = Duration::from_secs(480);

/// Run `script` in bash in `home`, as a user with nothing configured, the binary on the PATH.
/// The script runs in a process group of its own with its output in files, not pipes: a script
/// that stops early (`set -e`) while its background jobs run, or that waits for a job that does
/// not stop, fails with its output at [`SECTION_LIMIT`] instead of holding the run, and whatever
/// it leaves running is killed when it ends.
fn run(script: &str, home: &std::path::Path) -> std::process::Output {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_o365mgmt"))
        .parent()
        .unwrap()
        .to_path_buf();
    let (out, err) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(script)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap());
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    let mut child = c.spawn().unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t0.elapsed() > SECTION_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let text = |mut f: std::fs::File| {
        use std::io::{Read as _, Seek as _};
        let mut b = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut b).unwrap();
        b
    };
    let (stdout, stderr) = (text(out), text(err));
    let Some(status) = status else {
        panic!(
            "the README's examples did not finish in {SECTION_LIMIT:?}:\n{script}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
    };
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

#[test]
fn the_gcc_high_example_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    // From the repository's root, as the README is read.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../emulator.example.toml");
    let script = format!(
        "set -e\n{}wait\n",
        blocks(&readme, "GCC High (or GCC, DoD)").replace("emulator.example.toml", example)
    );
    let home = tempfile::tempdir().unwrap();
    let o = run(&script, home.path());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(
        o.status.success() || o.status.code() == Some(143),
        "the example failed:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The real GCC High host names, through the emulator's proxy, signed in.
    assert!(stdout.contains("Ping: ok"), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("api root https://manage.office365.us"),
        "{stdout}"
    );
    assert!(stdout.contains("from HTTPS_PROXY"), "{stdout}");
    // Graph's audit search does not exist in GCC High: said so, not reported as a failure.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("audit_search") && l.contains("not available")),
        "{stdout}"
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");
    user_state_untouched(home.path());
}

#[test]
fn the_first_examples_run_as_written() {
    let readme = readme();
    // The status page's commands after a first collection: the page on a free port (not
    // 8080), read once over HTTP, then stopped.
    let mut status = String::new();
    for (i, c) in commands(&readme, "The status page").iter().enumerate() {
        if c.contains("--serve") {
            let c = c.replace("127.0.0.1:8080", "127.0.0.1:0");
            let read = r#"curl -sf "$(grep -o 'http://[^"]*' page.log | head -1)api/status" > api-status.json"#;
            status.push_str(&until_seen(&c, "page.log", "http://", read));
        } else {
            status.push_str(&format!("{c} > status-{i}.out\n"));
        }
    }
    let shown = commands(&readme, "The status page")
        .iter()
        .position(|c| c == "o365mgmt status")
        .expect("`o365mgmt status` in the status page's section");
    let script = format!(
        "set -e\n{}{}{}{status}kill %1\nwait\n",
        blocks(&readme, "Try it without a tenant"),
        blocks(&readme, "One tenant, end to end"),
        blocks(&readme, "Shipping the events to your SIEM"),
    );
    let home = tempfile::tempdir().unwrap();
    let (_, stderr) = ran(&script, home.path());
    // What they promise: events in the file, each once; the user's own state untouched.
    each_event_once(&home.path().join("events.jsonl"), 1000, &stderr);
    // Shipping: the same events inside envelopes that name the tenant.
    let shipped = std::fs::read_to_string(home.path().join("audit.jsonl")).unwrap();
    let mut enveloped = std::collections::BTreeSet::new();
    for l in shipped.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["tenant_id"].is_string(), "{l}");
        assert!(
            enveloped.insert(v["event"]["Id"].as_str().unwrap().to_string()),
            "twice: {l}"
        );
    }
    assert!(
        enveloped.len() > 1000,
        "{} events in envelopes",
        enveloped.len()
    );
    // The status page: its JSON names the tenant collected, `status` says the same, and the
    // timeline is a picture with its legend.
    let page: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join("api-status.json")).unwrap(),
    )
    .unwrap();
    let status_out =
        std::fs::read_to_string(home.path().join(format!("status-{shown}.out"))).unwrap();
    let status: serde_json::Value = serde_json::from_str(&status_out).unwrap();
    for v in [&page, &status] {
        let tenants = v["tenants"].as_array().unwrap_or_else(|| panic!("{v}"));
        assert_eq!(tenants.len(), 1, "{v}");
        assert!(tenants[0]["verdict"].is_string(), "{v}");
    }
    let svg = std::fs::read_to_string(home.path().join("timeline.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("not collected"),
        "{svg}"
    );
    user_state_untouched(home.path());
}

/// A receiver of the SOAR platform's webhook on a free port: the alerts POSTed to it.
struct Soar {
    rt: tokio::runtime::Runtime,
    base: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Soar {
    fn start() -> Soar {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let app = {
            let got = got.clone();
            axum::Router::new().route(
                "/hooks/o365",
                axum::routing::post(move |body: String| {
                    let got = got.clone();
                    async move {
                        got.lock()
                            .unwrap()
                            .push(serde_json::from_str(&body).unwrap_or_default());
                        axum::http::StatusCode::OK
                    }
                }),
            )
        };
        let l = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        rt.spawn(async move { axum::serve(l, app).await });
        Soar { rt, base, got }
    }
}

/// Alert lines of a file: one JSON object each.
fn alerts_of(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn the_alerts_examples_run_as_written() {
    let readme = readme();
    let title = "SOAR alerts: the integration's two connectors";
    let soar = Soar::start();
    let broker = crate::kafka::Broker::start();
    let topic = broker.topic("o365-alerts");
    // Hosts that do not exist here become the test's own: the SOAR platform's webhook, the
    // brokers; the path under /var/lib becomes the working directory.
    let here = |c: &str| {
        c.replace("/var/lib/o365mgmt/", "")
            .replace("https://soar.example.com", &soar.base)
            .replace(
                "kafka://broker1:9092,broker2:9092/o365-alerts",
                &format!("kafka://{}/{topic}", broker.addr),
            )
    };
    let mut script = format!("set -e\n{}", emulator_prelude(&readme));
    // The exported connector the section shows, as the file its last command loads.
    let export = fenced_blocks(&readme, title, "json")
        .into_iter()
        .find(|b| b.contains("Mask findings?"))
        .expect("the section shows an exported connector");
    script.push_str(&format!(
        "cat > dlp-connector.json <<'JSON'\n{export}JSON\n"
    ));
    for (i, c) in commands(&readme, title).iter().enumerate() {
        let c = here(c);
        if c.contains("--follow") {
            script.push_str(&until_seen(
                &c,
                &format!("follow-{i}.log"),
                "delivered to",
                "",
            ));
        } else {
            script.push_str(&format!("{c} > alerts-{i}.out\n"));
        }
    }
    // The `[alerts]` table, as the config file, then a run that takes everything from it.
    let table = fenced(&readme, title, "toml");
    script.push_str(&format!(
        "mkdir -p config/o365mgmt\ncat > config/o365mgmt/config.toml <<'TOML'\n{}TOML\no365mgmt alerts > table.out 2> table.log\nkill %1\nwait\n",
        here(&table)
    ));
    let home = tempfile::tempdir().unwrap();
    let (_, stderr) = ran(&script, home.path());
    let read = |f: &str| std::fs::read_to_string(home.path().join(f)).unwrap_or_default();
    // To stdout: alerts of both connectors.
    let once = alerts_of(&read("alerts-0.out"));
    for connector in ["dlp", "audit-general"] {
        assert!(
            once.iter().any(|a| a["connector"] == connector),
            "no {connector} alert on stdout: {} alerts\n{stderr}",
            once.len()
        );
    }
    // Into a file: DLP alerts only, their detected values masked.
    let dlp = alerts_of(&read("dlp-alerts.jsonl"));
    assert!(!dlp.is_empty(), "{}", read("follow-1.log"));
    assert!(dlp.iter().all(|a| a["connector"] == "dlp"));
    let shown = serde_json::to_string(&dlp).unwrap();
    assert!(shown.contains("DetectedValues"), "{shown}");
    for a in &dlp {
        for e in a["events"].as_array().unwrap() {
            for (k, v) in e.as_object().unwrap() {
                if k.contains("DetectedValues") && k.ends_with("_Value") {
                    let v = v.as_str().unwrap();
                    assert!(
                        v.chars().all(|c| !c.is_ascii_digit() || c == '0'),
                        "{k}: {v}"
                    );
                }
            }
        }
    }
    // To the SOAR platform: at most 50 a pass, as the flag says.
    let first = read("follow-2.log");
    let delivered: usize = first
        .split(" delivered to webhook:")
        .next()
        .and_then(|h| h.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));
    assert!((1..=50).contains(&delivered), "{first}");
    assert!(soar.got.lock().unwrap().len() >= delivered);
    // Into Kafka: the alerts, keyed by ticket id.
    let tickets = broker.read_alerts("o365-alerts");
    assert!(!tickets.is_empty(), "{}", read("follow-3.log"));
    // The exported DLP connector: at most "Max events to fetch", DLP only.
    let exported = alerts_of(&read("alerts-4.out"));
    assert!(
        !exported.is_empty() && exported.len() <= 20,
        "{} alerts",
        exported.len()
    );
    assert!(exported.iter().all(|a| a["connector"] == "dlp"));
    // The `[alerts]` table: its webhook had alerts delivered, at most 50.
    let log = read("table.log");
    assert!(
        log.contains(&format!("delivered to webhook:{}", soar.base)),
        "{log}"
    );
    drop(soar.rt);
}

#[test]
fn the_backfill_example_runs_as_written() {
    let readme = readme();
    // The binary instead of `cargo run --release --`; a day back instead of thirty, so that a
    // debug build does it in the test's time.
    let mut script = String::from("set -e\n");
    for c in commands(&readme, "Beyond 7 days: backfill, and gaps that heal") {
        let c = c
            .replace("cargo run --release --", "o365mgmt")
            .replace("--since 30d", "--since 1d");
        script.push_str(&c);
        script.push('\n');
    }
    script.push_str("kill %1\nwait\n");
    let home = tempfile::tempdir().unwrap();
    let (stdout, stderr) = ran(&script, home.path());
    each_event_once(
        &home.path().join("history.jsonl"),
        100,
        &format!("{stdout}\n{stderr}"),
    );
    user_state_untouched(home.path());
}

#[test]
fn the_webhook_example_runs_as_written() {
    let readme = readme();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../emulator.example.toml");
    let mut script = String::from("set -e\n");
    for c in commands(&readme, "Webhook notifications") {
        let c = c
            .replace("cargo run --release --", "o365mgmt")
            .replace("emulator.example.toml", example);
        if c.contains("--follow") {
            // It runs until stopped: once its first pass is done, the README's next command
            // (the emulator's clock moved on) runs "in another shell"; a second pass follows
            // at once, notified (the next poll would be 15 minutes away).
            continue_with(&mut script, &c);
        } else if c.contains("clock/advance") {
            script.push_str(&format!(
                "{c} > advanced.out\nfor i in $(seq 600); do [ \"$(grep -c 'events_written' follow.log 2>/dev/null)\" -ge 2 ] && break; sleep 0.2; done\nkill $bg; wait $bg || true\n"
            ));
        } else {
            script.push_str(&c);
            script.push('\n');
        }
    }
    script.push_str("kill %1\nwait\n");
    let home = tempfile::tempdir().unwrap();
    let (_, stderr) = ran(&script, home.path());
    let log = std::fs::read_to_string(home.path().join("follow.log")).unwrap();
    // Each pass's summary: one JSON line (the output is not a terminal).
    let passes: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{') && l.contains("events_written"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(passes.len() >= 2, "a notified pass: {log}\n{stderr}");
    let (ids, lines) = crate::jsonl_ids(&home.path().join("events.jsonl"));
    assert!(lines > 0, "{log}");
    assert_eq!(ids.len(), lines, "events written twice");
    assert!(
        passes[1]["events_written"].as_u64().unwrap() > 0,
        "the notified pass brought the new blob: {log}"
    );
}

/// Start `cmd` (it runs until stopped) in the background, output into `follow.log`, and wait
/// for its first pass.
fn continue_with(script: &mut String, cmd: &str) {
    script.push_str(&format!(
        "{cmd} >>follow.log 2>&1 &\nbg=$!\nfor i in $(seq 600); do grep -q 'events_written' follow.log 2>/dev/null && break; sleep 0.2; done\n"
    ));
}

#[test]
fn the_fleet_example_runs_as_written() {
    let readme = readme();
    let broker = crate::kafka::Broker::start();
    let topic = broker.topic("o365-audit");
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (emu, a, b) = (free(), free(), free());
    // The binary is on the PATH already (no `cargo build`); the broker and the ports are the
    // test's own.
    let here = |c: &str| {
        c.replace("127.0.0.1:8765", &format!("127.0.0.1:{emu}"))
            .replace(
                "127.0.0.1:9092/o365-audit",
                &format!("{}/{topic}", broker.addr),
            )
            .replace("127.0.0.1:9464", &format!("127.0.0.1:{a}"))
            .replace("127.0.0.1:9465", &format!("127.0.0.1:{b}"))
    };
    // Traced with the time of each command, and the instances' logs at info: shown if it fails.
    let mut script =
        String::from("set -e\nexport PS4='+ $(date +%T.%N) '; set -x\nexport O365_LOG=info\n");
    let title = "Three tenants into Kafka, against the emulator";
    let block = blocks(&readme, title);
    for l in block.lines() {
        if l.starts_with("cargo build") {
            continue;
        }
        script.push_str(&here(l));
        script.push('\n');
        // The emulator must listen before the instances start.
        if l.contains("o365mgmt emulator") {
            script.push_str(&format!(
                "for i in $(seq 300); do curl -s 127.0.0.1:{emu} >/dev/null && break; sleep 0.2; done\n"
            ));
        }
    }
    // Once both instances are in the group and every tenant collected: the README's commands
    // again, then everything stopped.
    script.push_str(&format!(
        "for i in $(seq 600); do curl -s 127.0.0.1:{a}/metrics 127.0.0.1:{b}/metrics | grep -q '^o365_fleet_assigned_tenants' && [ \"$(curl -s 127.0.0.1:{a}/readyz 127.0.0.1:{b}/readyz | grep -o '\"state\":\"ok\"' | wc -l)\" -ge 3 ] && break; sleep 0.5; done\ncurl -s 127.0.0.1:{a}/readyz > readyz-a.json\ncurl -s 127.0.0.1:{b}/readyz > readyz-b.json\nkill %1 %2 %3\nwait || true\n"
    ));
    let home = tempfile::tempdir().unwrap();
    let (stdout, stderr) = ran(&script, home.path());
    // The README's curl lines: the instance's share and its metrics.
    assert!(stdout.contains("\"fleet\""), "{stdout}\n{stderr}");
    assert!(stdout.contains("o365_fleet_"), "{stdout}");
    // The three tenants shared between the two instances, each held by one.
    let held = |f: &str| -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(home.path().join(f)).unwrap())
                .unwrap_or_else(|e| panic!("{f}: {e}\n{stderr}"));
        v["fleet"]["tenants"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}\n{stderr}"))
            .iter()
            .map(|t| t.as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (ta, tb) = (held("readyz-a.json"), held("readyz-b.json"));
    assert_eq!(ta.len() + tb.len(), 3, "{ta:?} {tb:?}");
    assert!(ta.iter().all(|t| !tb.contains(t)), "{ta:?} {tb:?}");
    // Every event in the topic once.
    let read = broker.read("o365-audit");
    assert_eq!(read.by_tenant.len(), 3, "{:?}", read.by_tenant.keys());
    for (t, ids) in &read.by_tenant {
        let set: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(set.len(), ids.len(), "tenant {t}: events twice");
    }
}

#[test]
fn the_proxy_example_runs_as_written() {
    let readme = readme();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../emulator.example.toml");
    // The config file as shown, pointed at what the emulator over TLS prints: its proxy port
    // for the corporate proxy, its CA for the corporate CA, its app for the "...".
    let config = fenced(&readme, "Behind a corporate proxy, with its CA", "toml")
        .replace(
            "\"http://proxy.corp.example:3128\"",
            "\"$O365_EMULATOR_PROXY\"",
        )
        .replace("\"/etc/ssl/corp-root-ca.pem\"", "\"$O365_CA_FILE\"")
        .replace("client_id = \"...\"", "client_id = \"$O365_CLIENT_ID\"")
        .replace("/etc/o365mgmt/secret", "$HOME/secret");
    let script = format!(
        "set -e\no365mgmt emulator --tls --config {example} --print-env > proxy.env &\n\
         until grep -q ready proxy.env 2>/dev/null; do sleep 0.2; done; . ./proxy.env\n\
         printf %s \"$O365_CLIENT_SECRET\" > secret\nmkdir -p config/o365mgmt\n\
         cat > config/o365mgmt/config.toml <<TOML\n{config}TOML\n\
         env -u O365_API_ROOT -u O365_LOGIN_ENDPOINT -u O365_GRAPH_ROOT -u O365_TENANT_ID \
         -u O365_CLIENT_ID -u O365_CLIENT_SECRET -u O365_CA_FILE o365mgmt ping -o text\n\
         echo \"proxy was $O365_EMULATOR_PROXY\"\nkill %1\nwait\n"
    );
    let home = tempfile::tempdir().unwrap();
    let (stdout, stderr) = ran(&script, home.path());
    // The real commercial host names, through the proxy the file names, trusting its CA.
    assert!(stdout.contains("Ping: ok"), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("api root https://manage.office.com"),
        "{stdout}"
    );
    let proxy = stdout
        .lines()
        .find_map(|l| l.strip_prefix("proxy was "))
        .unwrap();
    assert!(stdout.contains(&format!("proxy {proxy}")), "{stdout}");
}

/// The README's MCP configuration, started as an MCP client starts it: the official Python SDK.
const MCP_CLIENT: &str = r#"
import asyncio, json, os, sys
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

server = json.loads(sys.argv[1])["mcpServers"]["office365-management-api"]
env = dict(os.environ)
env.update(server["env"])

async def main():
    params = StdioServerParameters(command=server["command"], args=server["args"], env=env)
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            tools = [t.name for t in (await s.list_tools()).tools]
            resources = [str(r.uri) for r in (await s.list_resources()).resources]
            prompts = [p.name for p in (await s.list_prompts()).prompts]
            ping = await s.call_tool("office365_management_api_ping", {"case_id": "4711", "alert_group_identifiers": ["g1"]})
            print(json.dumps({"tools": tools, "resources": resources, "prompts": prompts,
                              "ping_error": ping.isError, "ping": ping.structuredContent}))

asyncio.run(main())
"#;

#[test]
fn the_mcp_configuration_runs_as_written() {
    let readme = readme();
    let e = crate::cli::Emu::new();
    // The configuration as shown, with the emulator's tenant, app and secret for the
    // placeholders (its API root and sign-in come from the environment, as `configure` sets).
    let mut config: serde_json::Value =
        serde_json::from_str(&fenced(&readme, "AI agents over MCP", "json")).unwrap();
    let env = &mut config["mcpServers"]["office365-management-api"]["env"];
    env["O365_TENANT_ID"] = e.info.tenant_id.clone().into();
    env["O365_CLIENT_ID"] = e.info.client_id.clone().into();
    env["O365_CLIENT_SECRET"] = e.info.client_secret.clone().into();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_o365mgmt"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut c = Command::new(crate::python::python());
    e.configure(&mut c);
    c.arg("-c").arg(MCP_CLIENT).arg(config.to_string()).env(
        "PATH",
        format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    let o = c.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    // What the section says the agent gets.
    for tool in [
        "office365_management_api_ping",
        "office365_management_api_start_subscription",
        "office365_management_api_stop_subscription",
        "office365_management_api_list_subscriptions",
        "office365_management_api_list_content",
        "office365_management_api_list_alerts",
    ] {
        assert!(
            v["tools"].as_array().unwrap().iter().any(|t| t == tool),
            "{tool}: {v}"
        );
    }
    assert!(
        v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "o365://tenants"),
        "{v}"
    );
    assert_eq!(v["prompts"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["ping_error"], false, "{v}");
}

#[test]
fn the_app_registration_example_runs_as_written() {
    // The SOAR export as the README writes it, then `config show` from it: nothing is reached.
    let readme = readme();
    let home = tempfile::tempdir().unwrap();
    let script = format!(
        "set -e\n{}",
        blocks(&readme, "Register the app in Entra ID")
    );
    let (stdout, stderr) = ran(&script, home.path());
    let shown: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("config show printed no JSON ({e}):\n{stdout}\n{stderr}"));
    let row = |key: &str| {
        shown["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no {key} in {shown}"))
            .clone()
    };
    for key in [
        "tenant_id",
        "client_id",
        "api_root",
        "login_endpoint",
        "verify_ssl",
    ] {
        let r = row(key);
        assert_eq!(r["source"], "--soar-config integration.json", "{key}: {r}");
    }
    assert_eq!(row("client_secret")["value"], "[redacted]");
    assert_eq!(row("verify_ssl")["value"], "true");
    assert!(
        !stdout.contains('…') && !stderr.contains('…'),
        "the secret is never shown"
    );
}
