//! `o365mgmt collect`: crashes, gaps in `collect status`, metrics, stdout, auto-start.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use o365_api::ContentType;
use o365_emulator::EmulatorConfig;
use serde_json::{json, Value};

use crate::cli::Emu;

pub(crate) fn busy_emulator(hours: f64, latency_ms: u64) -> Emu {
    let mut cfg = EmulatorConfig::default().with_all_subscriptions(hours);
    cfg.throttle.requests_per_minute = 1_000_000;
    cfg.api.page_size = 20;
    cfg.faults.latency_ms = latency_ms;
    Emu::with(cfg)
}

impl Emu {
    pub(crate) fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let url = format!("{}/{path}", self.info.control_root);
        self.rt.block_on(async {
            let mut rq = reqwest::Client::new().request(method, url);
            if let Some(b) = body {
                rq = rq.json(&b);
            }
            rq.send().await.unwrap().json().await.unwrap_or(Value::Null)
        })
    }

    pub(crate) fn clock(&self) -> chrono::DateTime<chrono::Utc> {
        let v = self.control(reqwest::Method::GET, "clock", None);
        chrono::DateTime::from_timestamp_millis(v["now_ms"].as_i64().unwrap()).unwrap()
    }

    pub(crate) fn manifest(&self, ct: &str, start: &str, end: &str) -> BTreeSet<String> {
        let v = self.control(
            reqwest::Method::GET,
            &format!("manifest?contentType={ct}&startTime={start}&endTime={end}"),
            None,
        );
        v["event_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect()
    }

    fn api_client(&self) -> o365_api::Client {
        let i = &self.info;
        o365_api::Client::builder(
            &i.tenant_id,
            &i.client_id,
            o365_api::Credentials::secret(i.client_secret.clone()),
        )
        .api_root(&i.api_root)
        .login_endpoint(&i.login_endpoint)
        .build()
        .unwrap()
    }
}

/// A small xorshift generator seeded from the clock: different moments on every run.
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        Rng(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Kill the collector five times at random moments, then let it finish; compare with the manifest.
fn crash_and_compare(sink: &str, read_ids: impl Fn(&str) -> Vec<String>) {
    // Blobs answer after 25 ms: a full pass takes seconds, so the kills land mid-run.
    let e = busy_emulator(30.0, 25);
    let since = (e.clock() - chrono::Duration::hours(29))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let args = [
        "collect",
        "--since",
        &since,
        "--sink",
        sink,
        "--max-requests-per-minute",
        "600000",
        "-o",
        "json",
    ];
    let mut rng = Rng::new();
    let mut killed_mid_run = 0;
    let mut moments = Vec::new();
    for _ in 0..5 {
        let mut child = e
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(crate::Reaped)
            .unwrap();
        let at = Duration::from_millis(100 + rng.below(500));
        moments.push(at);
        let t0 = Instant::now();
        while t0.elapsed() < at {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL: no chance to flush or checkpoint
            killed_mid_run += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        killed_mid_run >= 3,
        "only {killed_mid_run} of 5 kills hit a running collector ({moments:?})"
    );
    let out = e.cmd(&args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = read_ids(&e.state().parent().unwrap().display().to_string());
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        got.len(),
        "{} duplicated events",
        got.len() - unique.len()
    );
    let mut want = BTreeSet::new();
    for t in summary["types"].as_array().unwrap() {
        let cursor = t["cursor"].as_str().unwrap();
        want.extend(e.manifest(t["content_type"].as_str().unwrap(), &since, cursor));
    }
    assert!(
        want.len() > 10_000,
        "{} events: too few to prove anything",
        want.len()
    );
    let missing = want.difference(&unique).count();
    let extra = unique.difference(&want).count();
    assert_eq!(
        (missing, extra),
        (0, 0),
        "missing and extra events after {killed_mid_run} kills at {moments:?}"
    );
}

#[test]
fn sigkill_five_times_sqlite_loses_and_duplicates_nothing() {
    crash_and_compare("sqlite:events-crash.sqlite", |dir| {
        rusqlite_ids(&format!("{dir}/events-crash.sqlite"))
    });
}

#[test]
fn sigkill_five_times_jsonl_loses_and_duplicates_nothing() {
    crash_and_compare("jsonl:events-crash.jsonl", |dir| {
        std::fs::read_to_string(format!("{dir}/events-crash.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).expect("whole lines only")["Id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    });
}

/// Event ids in the SQLite sink, one per row.
fn rusqlite_ids(path: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st = c.prepare("SELECT id FROM events").unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn a_stop_and_start_on_the_emulator_shows_as_a_gap_in_collect_status() {
    let e = busy_emulator(6.0, 0);
    let (code, _, _) = run_json(&e, &["collect", "--max-requests-per-minute", "600000"]);
    assert_eq!(code, 0);
    // Another tool stops Audit.General at the service; our next pass sees it.
    let api = e.api_client();
    e.rt.block_on(api.stop_subscription(ContentType::General))
        .unwrap();
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({"seconds": 3600})),
    );
    let out = e.cmd(&["collect", "-o", "json"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "Audit.General cannot be listed while stopped"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped outside this tool"));
    e.rt.block_on(api.start_subscription(ContentType::General, None))
        .unwrap();
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({"seconds": 3600})),
    );
    let (code, _, _) = run_json(&e, &["collect"]);
    assert_eq!(code, 0);
    let (code, status, _) = run_json(&e, &["collect", "status"]);
    assert_eq!(code, 0);
    let general = status["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["content_type"] == "Audit.General")
        .unwrap()
        .clone();
    let gaps = general["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{status}");
    assert_eq!(gaps[0]["source"], "observed");
    assert!(
        gaps[0]["started_at"].is_string(),
        "closed by the restart: {status}"
    );
    assert!(general["events_written"].as_u64().unwrap() > 0);
    assert!(general["cursor"].is_string());
    // Other types have no gap.
    let exchange = status["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["content_type"] == "Audit.Exchange")
        .unwrap()
        .clone();
    assert_eq!(exchange["gaps"].as_array().unwrap().len(), 0);
    let text = e
        .cmd(&["collect", "status", "-o", "text"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("gap ["));
}

fn run_json(e: &Emu, args: &[&str]) -> (i32, Value, String) {
    let out = e.cmd(args).arg("-o").arg("json").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), v, stderr)
}

#[test]
fn follow_serves_metrics_and_stops_on_sigterm() {
    let e = busy_emulator(6.0, 0);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = e
        .cmd(&[
            "collect",
            "--follow",
            "--interval",
            "1s",
            "--metrics-addr",
            &format!("127.0.0.1:{port}"),
            "-o",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(crate::Reaped)
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(first["events_written"].as_u64().unwrap() > 0);
    assert!(first["peak_rss_bytes"].as_u64().unwrap() > 0);
    let metrics = e.rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let events: u64 = metrics
        .lines()
        .find(|l| l.starts_with("o365_collect_events_total "))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    assert_eq!(
        events,
        first["events_written"].as_u64().unwrap(),
        "{metrics}"
    );
    assert!(
        metrics.contains("o365_collect_requests_total{status=\"200\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("o365_collect_lag_seconds{content_type=\"Audit.General\"}"),
        "{metrics}"
    );
    // A second pass comes by itself; then SIGTERM ends it cleanly.
    let second: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(second["types"][0]["blobs_skipped"].as_u64().unwrap() > 0);
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn stdout_sink_and_auto_start() {
    // No subscriptions yet: --auto-start starts them through the actions (journaled).
    let e = Emu::new();
    let out = e
        .cmd(&["collect", "--auto-start", "--sink", "stdout"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, journal, _) = run_json(&e, &["journal"]);
    assert_eq!(journal[0]["action"], "Start Subscription");
    assert_eq!(journal[0]["via"], "collect");
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({"seconds": 4 * 3600})),
    );
    let out = e
        .cmd(&["collect", "--sink", "stdout", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout holds raw events only"))
        .collect();
    assert!(lines.len() > 100);
    assert!(lines.iter().all(|v| v["Id"].is_string()));
    let ids: BTreeSet<&str> = lines.iter().map(|v| v["Id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), lines.len(), "no duplicates on stdout");
    // The summary went to stderr.
    let summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stderr).lines().last().unwrap()).unwrap();
    assert_eq!(
        summary["events_written"].as_u64().unwrap() as usize,
        lines.len()
    );
}

#[test]
fn jsonl_with_an_envelope_names_each_events_tenant_type_and_blob() {
    let e = busy_emulator(3.0, 0);
    let file = e.home.path().join("enveloped.jsonl");
    let sink = format!("jsonl:{}?envelope", file.display());
    let o = e
        .cmd(&[
            "collect",
            "Audit.General",
            "DLP.All",
            "--once",
            "--since",
            "2h",
            "--sink",
            &sink,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() > 100, "{}", lines.len());
    let mut ids = BTreeSet::new();
    for l in &lines {
        assert_eq!(l["tenant_id"], e.info.tenant_id.as_str(), "{l}");
        let ct = l["content_type"].as_str().unwrap();
        assert!(["Audit.General", "DLP.All"].contains(&ct), "{l}");
        assert!(
            l["content_id"]
                .as_str()
                .unwrap()
                .contains(&ct.replace('.', "_")),
            "{l}"
        );
        assert!(l["content_created"].as_str().unwrap().ends_with('Z'), "{l}");
        assert!(
            ids.insert(l["event"]["Id"].as_str().unwrap().to_string()),
            "twice: {l}"
        );
    }
    // An option it does not know is refused, naming the one it does.
    let o = e
        .cmd(&[
            "collect",
            "--once",
            "--sink",
            &format!("jsonl:{}?wrapped", file.display()),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("?envelope"));
}
