//! Webhook notifications end to end: the emulator POSTs notifications for new blobs, `collect
//! --follow --webhook` registers itself, answers the validation, refuses a wrong AuthID, commits
//! notified blobs at once, catches lost notifications by polling, and registers again after the
//! service disabled the webhook. Against the manifest: nothing missing, nothing twice.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use o365_emulator::EmulatorConfig;
use serde_json::{json, Value};

use crate::cli::Emu;

const AUTH_ID: &str = "n0tif1cation-s3cret";

/// A `collect --follow --webhook` child; its stderr lines arrive on `lines`; killed when dropped.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn start(e: &Emu, sink: &str, interval: &str) -> Follower {
        Self::spawn(e.cmd(&[
            "collect",
            "Audit.General",
            "--follow",
            "--since",
            "2h",
            "--interval",
            interval,
            "--webhook",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
            "--sink",
            sink,
            "-o",
            "json",
        ]))
    }

    fn spawn(mut c: std::process::Command) -> Follower {
        let mut child = c
            .env("O365_WEBHOOK_AUTH_ID", AUTH_ID)
            .env("O365_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Follower {
            child,
            lines,
            seen: vec![],
        }
    }

    /// The first stderr line containing `needle` (waiting up to 30 s).
    fn line(&mut self, needle: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!("no line with {needle:?} on stderr: {:#?}", self.seen),
            }
        }
    }

    /// The URL after `needle` on its line, up to the next blank.
    fn url_after(&mut self, needle: &str) -> String {
        let l = self.line(needle);
        l[l.find(needle).unwrap() + needle.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(e: &Emu, url: &str) -> String {
    e.rt.block_on(async {
        match reqwest::get(url).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    })
}

/// A series' value in Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.split([' ', '{']).next() == Some(name))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Wait (up to 30 s) until `f` holds.
fn until(what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    t0.elapsed()
}

fn ids(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["Id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn webhook_of(e: &Emu) -> Value {
    let v = e.control(
        reqwest::Method::GET,
        &format!("tenants/{}/subscriptions", e.info.tenant_id),
        None,
    );
    v.as_array()
        .and_then(|a| {
            a.iter()
                .find(|s| s["contentType"] == "Audit.General")
                .cloned()
        })
        .map(|s| s["webhook"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn notified_blobs_are_committed_at_once_lost_ones_by_polling_and_a_disabled_webhook_comes_back() {
    let mut cfg = EmulatorConfig::default().with_all_subscriptions(1.0);
    cfg.data.late_rate = 0.0;
    cfg.data.events_per_blob = 5;
    let e = Emu::with(cfg);
    let out = e.home.path().join("events.jsonl");
    let sink = format!("jsonl:{}", out.display());
    // Everything there is: the subscriptions started an hour before now.
    let t0 = e.control(reqwest::Method::GET, "clock", None)["now_ms"]
        .as_i64()
        .unwrap();
    let since = chrono::DateTime::from_timestamp_millis(t0 - 2 * 3_600_000)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let available = |e: &Emu| -> usize {
        let now = e.control(reqwest::Method::GET, "clock", None)["now"]
            .as_str()
            .unwrap()
            .to_string();
        let v = e.control(
            reqwest::Method::GET,
            &format!(
                "manifest?contentType=Audit.General&startTime={since}&endTime={}",
                &now[..19]
            ),
            None,
        );
        v["event_ids"].as_array().map_or(0, |a| a.len())
    };

    // 1. Polling only once an hour: whatever arrives after the first pass came by notification.
    let mut f = Follower::start(&e, &sink, "1h");
    let hook = f.url_after("webhook notifications at ");
    let metrics = f.url_after("metrics at ");
    until("the webhook is registered and the first pass done", || {
        webhook_of(&e)["address"] == hook.as_str() && ids(&out).len() >= available(&e)
    });
    assert_eq!(webhook_of(&e)["status"], "enabled");
    // The AuthID reached the service, and is shown nowhere: not in what the service's
    // subscriptions are listed as, not in any log.
    assert_eq!(webhook_of(&e)["authId"], AUTH_ID);
    for args in [
        &["subscriptions", "-o", "json"][..],
        &["ping", "-o", "json"],
    ] {
        let o = e.cmd(args).env("O365_LOG", "trace").output().unwrap();
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert!(o.status.success(), "{args:?}: {err}");
        assert!(
            !out.contains(AUTH_ID) && !err.contains(AUTH_ID),
            "{args:?} shows the AuthID: {out}\n{err}"
        );
        if args[0] == "subscriptions" {
            assert!(out.contains("[hidden]"), "that it is set is shown: {out}");
        }
    }
    assert!(
        f.seen.iter().all(|l| !l.contains(AUTH_ID)),
        "the follower's log shows the AuthID"
    );
    let first = ids(&out).len();
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({"seconds": 900})),
    );
    let took = until("notified blobs are committed", || ids(&out).len() > first);
    assert!(
        took < Duration::from_secs(10),
        "a notification led to a commit only after {took:?}"
    );
    let m = get(&e, &metrics);
    assert!(metric(&m, "o365_collect_notifications_total") >= 1.0, "{m}");
    assert_eq!(
        metric(&m, "o365_collect_webhook_registrations_total"),
        1.0,
        "{m}"
    );

    // 2. A request without the right Webhook-AuthID is refused and counted.
    let forged = e.rt.block_on(async {
        reqwest::Client::new()
            .post(&hook)
            .header("Webhook-AuthID", "guess")
            .json(&json!([{"contentType": "Audit.General"}]))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(forged, 401);
    let m = get(&e, &metrics);
    assert_eq!(
        metric(&m, "o365_collect_notifications_rejected_total"),
        1.0,
        "{m}"
    );

    // A storm of notifications (the service sends one per blob: here 40 over 4 s) makes a
    // pass every few seconds, not one each: the requests the passes send stay few.
    let before = e.requests();
    e.rt.block_on(async {
        let http = reqwest::Client::new();
        for _ in 0..40 {
            let r = http
                .post(&hook)
                .header("Webhook-AuthID", AUTH_ID)
                .json(&json!([{"contentType": "Audit.General"}]))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let caused = e.requests() - before;
    assert!(
        caused < 20,
        "40 notifications in 4 s caused {caused} requests"
    );
    drop(f);

    // 3. Notifications lost on the way, polling every 2 s: still collected.
    e.control(
        reqwest::Method::PUT,
        "faults",
        Some(json!({"notification_drop_rate": 1.0})),
    );
    let mut f = Follower::start(&e, &sink, "2s");
    let metrics = f.url_after("metrics at ");
    until("the restarted collector caught up", || {
        ids(&out).len() >= available(&e)
    });
    let before = ids(&out).len();
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({"seconds": 900})),
    );
    until("lost notifications are caught by polling", || {
        ids(&out).len() > before && ids(&out).len() >= available(&e)
    });
    assert_eq!(
        metric(&get(&e, &metrics), "o365_collect_notifications_total"),
        0.0,
        "nothing was delivered: the commit came from polling"
    );

    // 4. The service disables the webhook: the collector registers it again.
    e.control(
        reqwest::Method::PUT,
        &format!("tenants/{}/webhooks/Audit.General", e.info.tenant_id),
        Some(json!({"status": "disabled"})),
    );
    until("the disabled webhook is registered again", || {
        // The first registration was this process's start (its address is new).
        webhook_of(&e)["status"] == "enabled"
            && metric(
                &get(&e, &metrics),
                "o365_collect_webhook_registrations_total",
            ) >= 2.0
    });
    f.line("no longer notifies this webhook");
    drop(f);

    // Against the manifest: every event of the hour once.
    let got = ids(&out);
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        got.len(),
        "{} duplicated",
        got.len() - unique.len()
    );
    assert_eq!(unique.len(), available(&e), "missing events");
}

#[test]
fn serve_routes_each_tenants_notifications_to_that_tenant() {
    let mut cfg = EmulatorConfig::default().with_tenants(2, 1.0);
    cfg.data.late_rate = 0.0;
    cfg.data.events_per_blob = 5;
    let e = Emu::with(cfg);
    let i = &e.info;
    let mut toml = format!("state = \"{}\"\n", e.state().display());
    for (k, t) in i.tenants.iter().enumerate() {
        toml.push_str(&format!(
            "\n[[tenants]]\nname = \"t{k}\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\napi_root = \"{}\"\nlogin_endpoint = \"{}\"\ncontent_types = [\"Audit.General\"]\n",
            t.id, i.client_id, i.client_secret, i.api_root, i.login_endpoint
        ));
    }
    let config = e.home.path().join("tenants.toml");
    std::fs::write(&config, toml).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = e.home.path().join("fleet.jsonl");
    let mut c = crate::bin();
    e.configure(&mut c);
    // The tenants are the file's (the environment's tenant would be t0 a second time).
    c.env_remove("O365_TENANT_ID");
    c.arg("--config").arg(&config).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--since",
        "2h",
        "--interval",
        "1h",
        "--webhook",
        "127.0.0.1:0",
        "--sink",
        &format!("jsonl:{}", out.display()),
    ]);
    let mut f = Follower::spawn(c);
    f.line("webhook notifications at ");
    let ids_of = |tenant: &str| -> usize {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(tenant))
            .count()
    };
    let t0 = e.control(reqwest::Method::GET, "clock", None)["now_ms"]
        .as_i64()
        .unwrap();
    let since = chrono::DateTime::from_timestamp_millis(t0 - 2 * 3_600_000)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let available = |tenant: &str| -> usize {
        let now = e.control(reqwest::Method::GET, "clock", None)["now"]
            .as_str()
            .unwrap()
            .to_string();
        e.control(
            reqwest::Method::GET,
            &format!(
                "manifest?tenant={tenant}&contentType=Audit.General&startTime={since}&endTime={}",
                &now[..19]
            ),
            None,
        )["event_ids"]
            .as_array()
            .map_or(0, |a| a.len())
    };
    let caught_up = || {
        i.tenants
            .iter()
            .all(|t| ids_of(&t.id) >= available(&t.id) && available(&t.id) > 0)
    };
    until("both tenants' first passes", caught_up);
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({"seconds": 900})),
    );
    let took = until("both tenants commit what they were notified of", caught_up);
    assert!(
        took < Duration::from_secs(10),
        "notifications led to commits only after {took:?} (polling is hourly)"
    );
}
