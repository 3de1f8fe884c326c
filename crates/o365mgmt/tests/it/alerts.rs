//! `o365mgmt alerts` against the emulator: a day of DLP and Audit.General content becomes one
//! alert per record, across a SIGKILL and a second run, with nothing twice; filters drop what
//! they should; a cap delivers the rest in later runs; malformed records are skipped and
//! reported; webhook and Kafka deliveries arrive once.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The emulator's time `h` hours ago, as `--since` takes it.
fn hours_ago(e: &crate::cli::Emu, h: i64) -> String {
    (e.clock() - chrono::Duration::hours(h))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The emulator's tenant's spool (next to the state, by the tenant's id).
fn spool_of(e: &crate::cli::Emu) -> std::path::PathBuf {
    e.home.path().join(format!(
        "alerts-{}.jsonl",
        e.info.tenant_id.to_ascii_lowercase()
    ))
}

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
    let since = hours_ago(&e, 25);
    // The spool (every alert made) is next to the state; delivered ones go to `out`.
    let spool = spool_of(&e);
    let out = e.home.path().join("delivered.jsonl");
    let sink = format!("jsonl:{}", out.display());
    let args = ["alerts", "--since", &since, "--sink", &sink, "-o", "json"];
    let mut child = e
        .cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(crate::Reaped)
        .unwrap();
    let t0 = Instant::now();
    // Complete lines only: the run is writing the spool meanwhile.
    let lines = |p: &std::path::Path| {
        std::fs::read(p).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
    };
    while lines(&spool) < 50 && child.try_wait().unwrap().is_none() {
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
    assert_eq!(
        alerts,
        alerts_in(&spool),
        "everything made was delivered, in order"
    );
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
    // A cap ("Max events to fetch"): a new sink gets the spool a third at a time, each once.
    let capped = e.home.path().join("capped.jsonl");
    let third = (alerts.len() as u64).div_ceil(3).to_string();
    let capped_sink = format!("jsonl:{}", capped.display());
    let mut waiting = vec![];
    for _ in 0..3 {
        let o = e
            .cmd(&[
                "alerts",
                "--since",
                &since,
                "--sink",
                &capped_sink,
                "--max-events-to-fetch",
                &third,
                "-o",
                "json",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        waiting.push(alerts_in(&capped).len());
        if alerts_in(&capped).len() < alerts.len() {
            assert!(err.contains("the rest come next run"), "{err}");
        }
    }
    // All of them, in order, once (and, when the service made content meanwhile, the alerts
    // made of it after them: each run is a pass).
    let (capped, made) = (alerts_in(&capped), alerts_in(&spool));
    assert!(
        capped.len() >= alerts.len(),
        "{} of {}",
        capped.len(),
        alerts.len()
    );
    assert!(
        capped[..] == made[..capped.len()] && capped[..alerts.len()] == alerts[..],
        "all of them, in order, once"
    );
    let t: usize = third.parse().unwrap();
    assert_eq!(waiting[..2], [t, 2 * t], "{waiting:?}");
    // Filters and masking apply when alerts are made: a fresh state and spool for each.
    let fresh = |name: &str, extra: &[&str]| -> (std::process::Output, Vec<Value>) {
        let dir = e.home.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("out.jsonl");
        let sink = format!("jsonl:{}", file.display());
        let mut a = vec![
            "alerts",
            "--connector",
            "dlp",
            "--since",
            &since,
            "--sink",
            &sink,
            "-o",
            "json",
        ];
        a.extend_from_slice(extra);
        let o = e
            .cmd(&a)
            .env("O365_STATE", dir.join("state.sqlite"))
            .output()
            .unwrap();
        (o, alerts_in(&file))
    };
    // The DLP policy filter drops every DLP record (reported).
    let (o, got) = fresh("filtered", &["--dlp-policy-filter", "U.S. Financial Data"]);
    assert!(o.status.success());
    assert_eq!(got.len(), 0);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("alerts: 0 made") && err.contains("filtered out"),
        "{err}"
    );
    // Masked: digits 0, letters X.
    let (o, m) = fresh("masked", &["--mask-findings"]);
    assert!(o.status.success());
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
    // The spool made above holds both connectors' alerts, unmasked. A run that asks for one
    // connector gets only its alerts; one that asks for masking never gets a finding unmasked.
    // Each delivering run also collects what became available meanwhile: count the spool
    // after it.
    let of = |c: &str| {
        alerts_in(&spool_of(&e))
            .iter()
            .filter(|a| a["connector"] == c)
            .count()
    };
    assert!(of("dlp") > 0 && of("audit-general") > 0);
    let deliver = |extra: &[&str], file: &str| -> Vec<Value> {
        let path = e.home.path().join(file);
        let sink = format!("jsonl:{}", path.display());
        let mut a = vec!["alerts", "--since", &since, "--sink", &sink];
        a.extend_from_slice(extra);
        let o = e.cmd(&a).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        alerts_in(&path)
    };
    let masked = deliver(
        &["--connector", "dlp", "--mask-findings"],
        "dlp-masked.jsonl",
    );
    assert_eq!(masked.len(), of("dlp"), "only the DLP alerts");
    assert!(masked.iter().all(|a| a["connector"] == "dlp"));
    for a in &masked {
        for ev in a["events"].as_array().unwrap() {
            for (k, v) in ev.as_object().unwrap() {
                if k.contains("DetectedValues_") && (k.ends_with("_Value") || k.ends_with("_Name"))
                {
                    let v = v.as_str().unwrap();
                    assert!(
                        v.chars()
                            .all(|c| !c.is_ascii_alphanumeric() || c == '0' || c == 'X'),
                        "{k} = {v:?} delivered unmasked"
                    );
                }
            }
        }
    }
    let general = deliver(&["--connector", "audit-general"], "audit.jsonl");
    assert_eq!(
        general.len(),
        of("audit-general"),
        "only the Audit.General alerts"
    );
    assert!(general.iter().all(|a| a["connector"] == "audit-general"));
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
    let since = hours_ago(&e, 2);
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
    let sink = format!("webhook:{url}");
    let spool = spool_of(&e);
    let args = [
        "alerts",
        "--connector",
        "audit-general",
        "--since",
        &since,
        "--sink",
        &sink,
        "-o",
        "json",
    ];
    // Down: the alerts are made, their delivery fails, saying so (exit 1).
    let o = e.cmd(&args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("delivering alerts to webhook:") && err.contains("HTTP 503"),
        "{err}"
    );
    let made = alerts_in(&spool);
    assert!(made.len() > 50, "{} alerts", made.len());
    assert!(got.lock().unwrap().is_empty());
    // Up, refusing one request in five: every alert delivered once, in order.
    down.store(false, Ordering::SeqCst);
    let o = e.cmd(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = got.lock().unwrap().clone();
    let keys: Vec<String> = got.iter().map(|(k, _)| k.clone()).collect();
    let ids: Vec<String> = made
        .iter()
        .map(|a| a["ticket_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        keys, ids,
        "what was delivered is what was made, once each, in order"
    );
    assert!(got.iter().zip(&made).all(|((_, v), m)| v == m));
    assert!(
        n.load(Ordering::SeqCst) as usize > got.len(),
        "some requests were refused and retried"
    );
    // A rerun delivers nothing again.
    let o = e.cmd(&args).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 delivered"));
}

/// A webhook receiver that answers every POST with a redirect to `to`; how many it had.
fn redirecting(
    e: &crate::cli::Emu,
    to: String,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicU32>) {
    use std::sync::atomic::{AtomicU32, Ordering};
    let n = std::sync::Arc::new(AtomicU32::new(0));
    let app = {
        let n = n.clone();
        axum::Router::new().fallback(move || {
            let (n, to) = (n.clone(), to.clone());
            async move {
                n.fetch_add(1, Ordering::SeqCst);
                (
                    axum::http::StatusCode::TEMPORARY_REDIRECT,
                    [(axum::http::header::LOCATION, to)],
                )
            }
        })
    };
    let l =
        e.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
    let url = format!("http://{}/alerts", l.local_addr().unwrap());
    e.rt.spawn(async move { axum::serve(l, app).await });
    (url, n)
}

#[test]
fn the_webhook_sink_follows_no_redirect_and_trusts_the_configured_ca() {
    use std::sync::atomic::Ordering;
    // Over HTTPS with a private CA given as `ca_file` (`O365_CA_FILE`).
    let mut cfg = o365_emulator::EmulatorConfig::default().with_all_subscriptions(2.0);
    cfg.throttle.requests_per_minute = 1_000_000;
    let e = crate::cli::Emu::with_tls(cfg);
    // The emulator's clock is the real one (never advanced here).
    let since = (chrono::Utc::now() - chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let run = |sink: &str| {
        let o = e
            .cmd(&[
                "alerts",
                "--connector",
                "audit-general",
                "--since",
                &since,
                "--sink",
                sink,
            ])
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // A receiver elsewhere, and one that redirects there.
    let (elsewhere, hits) = redirecting(&e, "http://127.0.0.1:9/never".into());
    let (redirector, asked) = redirecting(&e, elsewhere.clone());
    let (code, err) = run(&format!("webhook:{redirector}"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("HTTP 307") && err.contains("redirects are not followed"),
        "{err}"
    );
    assert!(
        err.contains(&elsewhere),
        "the refused address is named: {err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing went elsewhere");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "a redirect is not retried");
    // A receiver whose certificate the configured CA signed (the emulator's own port, which
    // refuses the POST): reached, so the CA was trusted; before, the webhook knew only the
    // platform's roots and failed on the certificate.
    let (code, err) = run(&format!("webhook:{}/info", e.info.control_root));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("HTTP 405"), "{err}");
    assert!(!err.contains("certificate"), "{err}");
    // A fresh machine: the state's directory does not exist yet; it is made (0700).
    let fresh = e.home.path().join("new").join("state");
    let o = e
        .cmd(&[
            "alerts",
            "--connector",
            "audit-general",
            "--since",
            &since,
            "--sink",
            "jsonl:out.jsonl",
        ])
        .env("O365_STATE", fresh.join("state.sqlite"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!alerts_in(&e.home.path().join("out.jsonl")).is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{mode:o}");
    }
}

#[test]
fn malformed_records_are_skipped_and_reported_not_a_stalled_connector() {
    let mut cfg = o365_emulator::EmulatorConfig::default().with_all_subscriptions(3.0);
    cfg.throttle.requests_per_minute = 1_000_000;
    cfg.data.malformed_rate = 0.1;
    let e = crate::cli::Emu::with(cfg);
    let since = hours_ago(&e, 2);
    let spool = spool_of(&e);
    let sink = format!("jsonl:{}", e.home.path().join("out.jsonl").display());
    let o = e
        .cmd(&["alerts", "--since", &since, "--sink", &sink, "-o", "json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // "alerts: N made (F records filtered out, S skipped: ...)"
    let skipped: u64 = err
        .lines()
        .find(|l| l.contains("alerts: ") && l.contains(" made ("))
        .and_then(|l| l.split(" skipped").next())
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no skip count in {err}"));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut want = BTreeSet::new();
    for t in summary["types"].as_array().unwrap() {
        let ct = t["content_type"].as_str().unwrap();
        want.extend(e.manifest(ct, &since, t["cursor"].as_str().unwrap()));
    }
    let made: BTreeSet<String> = alerts_in(&spool)
        .iter()
        .map(|a| a["ticket_id"].as_str().unwrap().to_string())
        .collect();
    assert!(made.is_subset(&want));
    assert!(skipped > 0, "{err}");
    assert_eq!(
        made.len() as u64 + skipped,
        want.len() as u64,
        "every record is an alert or a reported skip"
    );
    assert!(
        err.contains("record skipped"),
        "the skips are logged: {err}"
    );
}

#[test]
fn alerts_into_kafka_arrive_once_read_back_with_librdkafka() {
    let broker = crate::kafka::Broker::start();
    let e = crate::collect::busy_emulator(3.0, 0);
    let since = hours_ago(&e, 2);
    let sink = broker.sink("alerts");
    let args = ["alerts", "--since", &since, "--sink", &sink, "-o", "json"];
    let o = e.cmd(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let spool = spool_of(&e);
    let made: Vec<String> = alerts_in(&spool)
        .iter()
        .map(|a| a["ticket_id"].as_str().unwrap().to_string())
        .collect();
    assert!(made.len() > 50, "{} alerts", made.len());
    let read = broker.read_alerts("alerts");
    assert!(
        read == made,
        "each alert once, in order: {} read, {} made",
        read.len(),
        made.len()
    );
    // A second run sends nothing again (only alerts of content that appeared meanwhile: the
    // emulator's content follows its clock).
    let o = e.cmd(&args).output().unwrap();
    assert!(o.status.success());
    let made: Vec<String> = alerts_in(&spool)
        .iter()
        .map(|a| a["ticket_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(broker.read_alerts("alerts"), made);
    // A stop after sending a batch, before recording it: the batch is found in the topic and
    // not sent again (the cursor set back with the batch pending, as such a stop leaves it).
    let cursor =
        rusqlite::Connection::open(spool_of(&e).with_extension("jsonl.forward.sqlite")).unwrap();
    let end: i64 = cursor
        .query_row("SELECT offset FROM forward", [], |r| r.get(0))
        .unwrap();
    cursor
        .execute(
            "UPDATE forward SET offset = 0, delivered = 0, pending_from = 0, pending_to = ?1, pending_note = '0:0'",
            [end],
        )
        .unwrap();
    let o = e.cmd(&args).env("O365_LOG", "info").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let read = broker.read_alerts("alerts");
    let made: Vec<String> = alerts_in(&spool)
        .iter()
        .map(|a| a["ticket_id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        read == made,
        "nothing sent twice: {} read, {} made; {err}",
        read.len(),
        made.len()
    );
}

#[test]
fn a_connector_export_and_the_alerts_table_configure_alerts() {
    let e = crate::collect::busy_emulator(3.0, 0);
    let since = hours_ago(&e, 2);
    // An exported DLP connector configuration, loaded as is.
    let export = e.home.path().join("dlp-connector.json");
    std::fs::write(
        &export,
        r#"{"Api Root": "https://manage.office.com", "Mask findings?": "True", "Max events to fetch": "10",
            "Type of Operation Filter": "DlpRuleUndo", "PythonProcessTimeout": "180",
            "Fetch Max Hours Backwards": "8", "DeviceProductField": "Product Name"}"#,
    )
    .unwrap();
    let out = e.home.path().join("out.jsonl");
    let sink = format!("jsonl:{}", out.display());
    let soar = ["--soar-config", export.to_str().unwrap()];
    // The export's Api Root is the real service: the emulator's comes from the environment.
    let run = || {
        let mut c = e.cmd(
            &[
                &soar[..],
                &[
                    "alerts",
                    "--connector",
                    "dlp",
                    "--since",
                    &since,
                    "--sink",
                    &sink,
                    "-o",
                    "json",
                ],
            ]
            .concat(),
        );
        c.env("O365_API_ROOT", &e.info.api_root);
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        assert!(!err.contains("ignoring unknown parameter"), "{err}");
    };
    run();
    assert_eq!(alerts_in(&out).len(), 10, "Max events to fetch");
    // Every detected value delivered is masked. Which alerts come first depends on the order
    // blobs were fetched in: deliver ten more a run until one with a detected value is seen.
    let dv = "PolicyDetails_Rules_1_ConditionsMatched_SensitiveInformation_1_SensitiveInformationDetections_DetectedValues_1_Value";
    let mut runs = 1;
    loop {
        let got = alerts_in(&out);
        assert_eq!(got.len(), 10 * runs, "Max events to fetch, per run");
        let values: Vec<String> = got
            .iter()
            .filter_map(|a| a["events"][0][dv].as_str().map(String::from))
            .collect();
        for v in &values {
            assert!(v.chars().all(|c| c == '0' || c == '-'), "masked: {v}");
        }
        if !values.is_empty() {
            break;
        }
        runs += 1;
        assert!(runs <= 20, "no detected value in {} DLP alerts", got.len());
        run();
    }
    // The config file's [alerts] table: the sink and a parameter; a flag wins over it.
    let cfg = e.home.path().join("o365.toml");
    let table_out = e.home.path().join("table.jsonl");
    std::fs::write(
        &cfg,
        format!(
            "[alerts]\nsink = \"jsonl:{}\"\nmax_events_to_fetch = 3\nmask_findings = false\n",
            table_out.display()
        ),
    )
    .unwrap();
    let o = e
        .cmd(&[
            "--config",
            cfg.to_str().unwrap(),
            "alerts",
            "--connector",
            "dlp",
            "--since",
            &since,
            "--max-events-to-fetch",
            "4",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(alerts_in(&table_out).len(), 4);
    // A bad value is named with where it came from, before any request.
    std::fs::write(&cfg, "[alerts]\nmask_findings = \"maybe\"\n").unwrap();
    let before = e.requests();
    let o = e
        .cmd(&["--config", cfg.to_str().unwrap(), "alerts", "-o", "json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("mask_findings")
            && err.contains("maybe")
            && err.contains("[alerts]")
            && err.contains("true or false"),
        "{err}"
    );
    assert_eq!(e.requests(), before);
}

#[test]
fn mcp_lists_the_alerts_to_the_python_sdk() {
    let e = crate::collect::busy_emulator(3.0, 0);
    let since = hours_ago(&e, 2);
    let sink = format!("jsonl:{}", e.home.path().join("out.jsonl").display());
    let o = e
        .cmd(&["alerts", "--since", &since, "--sink", &sink, "-o", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let made = alerts_in(&spool_of(&e));
    let id = |a: &Value| a["ticket_id"].as_str().unwrap().to_string();
    let newest: Vec<&Value> = made.iter().rev().collect();
    let expected = serde_json::json!({
        "dlp5": newest.iter().filter(|a| a["connector"] == "dlp").take(5).map(|a| id(a)).collect::<Vec<_>>(),
        "high": made.iter().filter(|a| a["priority"].as_i64().unwrap() >= 80).count().min(200),
        "last50": newest.iter().take(50).map(|a| id(a)).collect::<Vec<_>>(),
    });
    assert_eq!(expected["dlp5"].as_array().unwrap().len(), 5);
    let file = e.home.path().join("expected.json");
    std::fs::write(&file, expected.to_string()).unwrap();
    let mut c = std::process::Command::new(crate::python::python());
    c.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py"))
        .arg("alerts")
        .arg(env!("CARGO_BIN_EXE_o365mgmt"))
        .arg(&file);
    e.configure(&mut c);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "MCP client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_tenant_has_its_own_spool_and_every_alert_names_its_tenant() {
    let mut cfg = o365_emulator::EmulatorConfig::default().with_tenants(2, 3.0);
    cfg.throttle.requests_per_minute = 1_000_000;
    let e = crate::cli::Emu::with(cfg);
    let since = hours_ago(&e, 2);
    let (t1, t2) = (e.info.tenants[0].id.clone(), e.info.tenants[1].id.clone());
    let run = |tenant: &str, file: &str| -> Vec<Value> {
        let out = e.home.path().join(file);
        let sink = format!("jsonl:{}", out.display());
        let o = e
            .cmd(&[
                "alerts",
                "--connector",
                "audit-general",
                "--since",
                &since,
                "--sink",
                &sink,
            ])
            .env("O365_TENANT_ID", tenant)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        alerts_in(&out)
    };
    let first = run(&t1, "t1.jsonl");
    // A spool of an earlier version (`alerts.jsonl`, its checkpoint and cursors) that holds
    // this tenant's alerts only is taken over: nothing is made or delivered again.
    let home = e.home.path();
    let new = format!("alerts-{}.jsonl", t1.to_ascii_lowercase());
    for suffix in ["", ".checkpoint.sqlite", ".forward.sqlite"] {
        std::fs::rename(
            home.join(format!("{new}{suffix}")),
            home.join(format!("alerts.jsonl{suffix}")),
        )
        .unwrap();
    }
    assert_eq!(run(&t1, "t1.jsonl"), first, "nothing delivered again");
    assert!(home.join(&new).exists() && !home.join("alerts.jsonl").exists());
    // The same state directory, another tenant: only its own alerts reach its sink.
    let second = run(&t2, "t2.jsonl");
    assert!(!first.is_empty() && !second.is_empty());
    assert!(
        first.iter().all(|a| a["tenant_id"] == t1.as_str()),
        "{:?}",
        first[0]
    );
    assert!(
        second.iter().all(|a| a["tenant_id"] == t2.as_str()),
        "{:?}",
        second[0]
    );
    let ids = |v: &[Value]| -> BTreeSet<String> {
        v.iter()
            .map(|a| a["ticket_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        ids(&first).is_disjoint(&ids(&second)),
        "no alert of the first tenant was delivered to the second's sink"
    );
    for t in [&t1, &t2] {
        assert!(e
            .home
            .path()
            .join(format!("alerts-{}.jsonl", t.to_ascii_lowercase()))
            .exists());
    }
}
