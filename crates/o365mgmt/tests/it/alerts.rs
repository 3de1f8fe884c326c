//! `o365mgmt alerts` against the emulator: a day of DLP and Audit.General content becomes one
//! alert per record, across a SIGKILL and a second run, with nothing twice; filters drop what
//! they should.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

fn alerts_in(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_day_of_content_makes_each_alert_once_across_a_sigkill() {
    // Blobs answer after 20 ms: the first run is still going when it is killed.
    let e = crate::collect::busy_emulator(26.0, 20);
    let since = (e.clock() - chrono::Duration::hours(25))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let out = e.home.path().join("alerts.jsonl");
    let args = [
        "alerts",
        "--since",
        &since,
        "--out",
        out.to_str().unwrap(),
        "-o",
        "json",
    ];
    let mut child = e
        .cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while alerts_in(&out).len() < 50 && child.try_wait().unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(60), "no alert written");
        std::thread::sleep(Duration::from_millis(10));
    }
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill(); // SIGKILL mid-run
    child.wait().unwrap();
    assert!(killed, "the first run ended before it could be killed");
    let o = e.cmd(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let alerts = alerts_in(&out);
    let ids: Vec<String> = alerts
        .iter()
        .map(|a| a["ticket_id"].as_str().unwrap().to_string())
        .collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "{} alerts twice",
        ids.len() - unique.len()
    );
    // Every record of the two types, collected up to each type's cursor, is an alert.
    let mut want = BTreeSet::new();
    for t in summary["types"].as_array().unwrap() {
        let ct = t["content_type"].as_str().unwrap();
        assert!(["DLP.All", "Audit.General"].contains(&ct), "{ct}");
        want.extend(e.manifest(ct, &since, t["cursor"].as_str().unwrap()));
    }
    assert!(
        want.len() > 1000,
        "{} records: too few to prove anything",
        want.len()
    );
    assert_eq!(
        (
            want.difference(&unique).count(),
            unique.difference(&want).count()
        ),
        (0, 0),
        "missing and extra alerts"
    );
    let dlp = alerts.iter().find(|a| a["connector"] == "dlp").unwrap();
    assert_eq!(dlp["device_product"], "Office 365 Management API");
    assert!(
        dlp["name"].as_str().unwrap().ends_with(" DlpRuleMatch"),
        "{dlp}"
    );
    assert_eq!(
        dlp["events"][0]["PolicyDetails_PolicyName"],
        "U.S. Financial Data"
    );
    let audit = alerts
        .iter()
        .find(|a| a["connector"] == "audit-general")
        .unwrap();
    assert!(audit["name"].as_str().unwrap().contains(", "), "{audit}");
    // Security & Compliance alerts: a base event and one per mailbox, message and IP entity.
    let sc = alerts
        .iter()
        .find(|a| a["name"] == "SecurityComplianceCenter, AlertTriggered")
        .expect("an S&C alert");
    assert_eq!(sc["events"].as_array().unwrap().len(), 4, "{sc}");
    assert_eq!(sc["events"][1]["Type"], "mailbox");
    let priorities: BTreeSet<i64> = alerts
        .iter()
        .map(|a| a["priority"].as_i64().unwrap())
        .collect();
    assert!(
        priorities.is_superset(&[-1, 40, 60, 80].into()),
        "priorities {priorities:?}"
    );
    // Exchange DLP: the detected card number, in clear without masking.
    let ex = alerts
        .iter()
        .find(|a| a["name"] == "Exchange DlpRuleMatch")
        .unwrap();
    let v = ex["events"][0]["PolicyDetails_Rules_1_ConditionsMatched_SensitiveInformation_1_SensitiveInformationDetections_DetectedValues_1_Value"]
        .as_str()
        .unwrap();
    assert!(v.starts_with('4') && v.len() == 19, "{v}");
    // Filters: the DLP policy filter drops every DLP record (reported), into another file.
    let other = e.home.path().join("filtered.jsonl");
    let o = e
        .cmd(&[
            "alerts",
            "--connector",
            "dlp",
            "--since",
            &since,
            "--dlp-policy-filter",
            "U.S. Financial Data",
            "--out",
            other.to_str().unwrap(),
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(alerts_in(&other).len(), 0);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("0 written") && err.contains("filtered out"),
        "{err}"
    );
    // Masked: digits 0, letters X.
    let masked = e.home.path().join("masked.jsonl");
    let o = e
        .cmd(&[
            "alerts",
            "--connector",
            "dlp",
            "--since",
            &since,
            "--mask-findings",
            "--out",
            masked.to_str().unwrap(),
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let m = alerts_in(&masked);
    let ex = m
        .iter()
        .find(|a| a["name"] == "Exchange DlpRuleMatch")
        .unwrap();
    let dv = "PolicyDetails_Rules_1_ConditionsMatched_SensitiveInformation_1_SensitiveInformationDetections_DetectedValues_1";
    assert_eq!(
        ex["events"][0][format!("{dv}_Value")],
        "0000-0000-0000-0000"
    );
    assert_eq!(ex["events"][0][format!("{dv}_Name")], "XXXXXX XXXX XXXXXX");
    // A bad pattern is named before any request.
    let o = e
        .cmd(&["alerts", "--environment-regex", "(["])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--environment-regex"));
}

#[test]
fn alerts_are_posted_retried_and_recorded_once() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};
    let e = crate::collect::busy_emulator(3.0, 0);
    let since = (e.clock() - chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    // A receiver that refuses every 5th request, and everything while `down`.
    let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let (n, down) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicBool::new(true)));
    let app = {
        let (got, n, down) = (got.clone(), n.clone(), down.clone());
        axum::Router::new().route(
            "/alerts",
            axum::routing::post(move |h: axum::http::HeaderMap, body: String| {
                let (got, n, down) = (got.clone(), n.clone(), down.clone());
                async move {
                    if down.load(Ordering::SeqCst) || n.fetch_add(1, Ordering::SeqCst) % 5 == 4 {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let key = h
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    got.lock()
                        .unwrap()
                        .push((key, serde_json::from_str(&body).unwrap()));
                    axum::http::StatusCode::OK
                }
            }),
        )
    };
    let l =
        e.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
    let url = format!("http://{}/alerts", l.local_addr().unwrap());
    e.rt.spawn(async move { axum::serve(l, app).await });
    let out = e.home.path().join("posted.jsonl");
    let args = [
        "alerts",
        "--connector",
        "audit-general",
        "--since",
        &since,
        "--post",
        &url,
        "--out",
        out.to_str().unwrap(),
        "-o",
        "json",
    ];
    // Down: the run fails, saying so, and records nothing.
    let o = e.cmd(&args).output().unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--post"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(alerts_in(&out).len(), 0);
    // Up, refusing one request in five: every alert delivered, and recorded once.
    down.store(false, Ordering::SeqCst);
    let o = e.cmd(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let written = alerts_in(&out);
    assert!(written.len() > 50, "{} alerts", written.len());
    let got = got.lock().unwrap().clone();
    let keys: BTreeSet<String> = got.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys.len(), got.len(), "each alert delivered once");
    let ids: BTreeSet<String> = written
        .iter()
        .map(|a| a["ticket_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ids, "what was delivered is what was recorded");
    assert!(got.iter().all(|(k, v)| v["ticket_id"] == k.as_str()));
    assert!(
        n.load(Ordering::SeqCst) as usize > got.len(),
        "some requests were refused and retried"
    );
    // A rerun delivers nothing again.
    let before = got.len();
    let o = e.cmd(&args).output().unwrap();
    assert!(o.status.success());
    assert_eq!(alerts_in(&out).len(), written.len());
    assert_eq!(before, ids.len());
}
