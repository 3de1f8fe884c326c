//! `backfill` through the emulator's Graph audit search: every event of the range once, beside
//! what `collect` wrote before and after; cut-short answers split, throttling waited out,
//! failed queries asked again, a killed run resumed; refusals that write nothing.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use o365_emulator::EmulatorConfig;
use serde_json::Value;

use crate::cli::Emu;
use crate::jsonl_ids;

fn emulator(days: u32, tweak: impl FnOnce(&mut EmulatorConfig)) -> Emu {
    let mut cfg = EmulatorConfig::default().with_all_subscriptions(36.0);
    cfg.throttle.requests_per_minute = 0;
    cfg.data.blob_interval_secs = 3600;
    cfg.data.events_per_blob = 4;
    cfg.data.late_rate = 0.0;
    cfg.data.duplicate_rate = 0.2;
    cfg.data.event_size = 400;
    cfg.graph.query_secs = 1;
    cfg.graph.retry_after_secs = 1;
    cfg.tenants[0].audit_days = days;
    tweak(&mut cfg);
    Emu::with(cfg)
}

fn cmd(e: &Emu, args: &[&str]) -> Command {
    let mut c = e.cmd(args);
    c.env("O365_GRAPH_ROOT", &e.info.graph_root);
    c
}

fn run(c: &mut Command) -> (i32, Value, String) {
    let o = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (o.status.code().unwrap_or(-1), v, stderr)
}

fn backfill(e: &Emu, sink: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec![
        "backfill", "--since", "30d", "--all", "--sink", sink, "--poll", "1s", "-o", "json",
    ];
    args.extend_from_slice(extra);
    run(&mut cmd(e, &args))
}

fn collect(e: &Emu, sink: &str) {
    let (code, _, err) = run(&mut cmd(
        e,
        &[
            "collect", "--all", "--once", "--since", "30h", "--sink", sink, "-o", "json",
        ],
    ));
    assert_eq!(code, 0, "{err}");
}

/// One pass of Audit.General into `sink`.
fn collect_general(e: &Emu, sink: &str) {
    let (code, _, err) = run(&mut cmd(
        e,
        &[
            "collect",
            "Audit.General",
            "--once",
            "--since",
            "30h",
            "--sink",
            sink,
        ],
    ));
    assert_eq!(code, 0, "{err}");
}

/// The ids in a SQLite sink (none while its tables are not made yet), and how many rows.
fn sqlite_ids(p: &Path) -> (BTreeSet<String>, usize) {
    let c = rusqlite::Connection::open(p).unwrap();
    let Ok(mut st) = c.prepare("SELECT id FROM events") else {
        return (BTreeSet::new(), 0);
    };
    let ids: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let n = ids.len();
    (ids.into_iter().collect(), n)
}

/// The audit log's events (of content type `ct`, or all) in `[start, end)`, UTC times.
fn audit_log(e: &Emu, ct: Option<&str>, start: &str, end: &str) -> BTreeSet<String> {
    let ct = ct.map(|c| format!("contentType={c}&")).unwrap_or_default();
    let v = e.control(
        reqwest::Method::GET,
        &format!(
            "graph_manifest?{ct}startTime={}&endTime={}",
            start.trim_end_matches('Z'),
            end.trim_end_matches('Z')
        ),
        None,
    );
    v["event_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect()
}

/// A time `back` before the emulator's now, as the manifest takes it.
fn ago(e: &Emu, back: chrono::Duration) -> String {
    (e.clock() - back).format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The audit log's events of `[now - from, now - to)`.
fn truth(e: &Emu, from: chrono::Duration, to: chrono::Duration) -> BTreeSet<String> {
    audit_log(e, None, &ago(e, from), &ago(e, to))
}

/// For a failure's message: the hour (as hours ago, within the last `hours`) each of `ids` was
/// made in.
fn hours_of(e: &Emu, ids: &BTreeSet<String>, hours: i64) -> Vec<(i64, String)> {
    let h = chrono::Duration::hours;
    let mut out = vec![];
    for back in 0..=hours {
        let in_hour = truth(e, h(back + 1), h(back));
        out.extend(ids.intersection(&in_hour).map(|i| (back, i.clone())));
    }
    out
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

#[test]
fn thirty_days_backfilled_between_two_collections_each_event_once() {
    let e = emulator(40, |_| {});
    let file = e.home.path().join("events.jsonl");
    let sink = format!("jsonl:{}", file.display());
    // The feed first (its 36 hours), then 30 days through Graph, then the feed again.
    collect(&e, &sink);
    let (fed, _) = jsonl_ids(&file);
    assert!(!fed.is_empty());
    let (code, v, err) = backfill(&e, &sink, &[]);
    assert_eq!(code, 0, "{err}\n{v}");
    assert_eq!(v["windows_done"], v["windows"], "{v}");
    assert!(
        v["events_already_there"].as_u64().unwrap() > 0,
        "the feed's events met again: {v}"
    );
    assert_eq!(v["graph_version"], "v1.0");
    collect(&e, &sink);
    let (got, lines) = jsonl_ids(&file);
    assert_eq!(
        lines,
        got.len(),
        "{} events written twice",
        lines - got.len()
    );
    let want = truth(&e, days(30) - minutes(10), minutes(60));
    let missing: Vec<_> = want.difference(&got).collect();
    assert!(
        missing.is_empty(),
        "{} of {} missing",
        missing.len(),
        want.len()
    );
    // Only the range's events (and the feed's): nothing older than 30 days came in.
    let older = got
        .difference(&truth(&e, days(30) + minutes(60), minutes(0)))
        .filter(|i| !fed.contains(*i))
        .count();
    assert_eq!(older, 0, "events from outside the range");
    // Asked again: every finished window is skipped (the first begins and the last ends at a
    // new "now", so they are windows of their own, asked again: nothing new in them).
    let (code, v, err) = backfill(&e, &sink, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["events_written"], 0, "{v}");
    assert!(v["queries"].as_u64().unwrap() <= 2, "{v}");
    assert!(v["windows_done_before"].as_u64().unwrap() >= v["windows"].as_u64().unwrap() - 2);
    assert_eq!(jsonl_ids(&file).1, lines);
}

#[test]
fn cut_short_answers_split_throttling_failures_and_a_kill_still_give_each_event_once() {
    let e = emulator(12, |cfg| {
        cfg.graph.record_limit = 150;
        cfg.graph.concurrent = 2;
        cfg.graph.fail_rate = 0.1;
    });
    let db = e.home.path().join("events.sqlite");
    let sink = format!("sqlite:{}", db.display());
    let args = [
        "backfill",
        "--since",
        "5d",
        "--all",
        "--sink",
        &sink,
        "--poll",
        "1s",
        "--queries",
        "6",
        "-o",
        "json",
    ];
    // The truth ends two hours before the first run began: an event is searchable once its
    // blob is made, up to 90 minutes after the event (the emulator's event latency), so
    // events of the last two hours arrive while the runs go on, after the window that holds
    // them was searched: no run could have them (a backfill is for what is old).
    let first_start = e.clock();
    // Killed mid-way: what it committed stays, and stays once.
    let mut child = crate::Reaped(
        cmd(&e, &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_secs(60)
        && (!db.exists() || sqlite_ids(&db).1 < 200)
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.0.kill();
    let _ = child.0.wait();
    // Runs until every window is done: a window whose query failed three times is asked again
    // by the next run.
    let mut last = Value::Null;
    for _ in 0..5 {
        let (code, v, err) = run(&mut cmd(&e, &args));
        assert!(code == 0 || code == 1, "{err}");
        last = v;
        if code == 0 {
            break;
        }
        assert!(err.contains("not reached"), "{err}");
    }
    assert_eq!(last["unreached"], serde_json::json!([]), "{last}");
    let (got, n) = sqlite_ids(&db);
    assert_eq!(n, got.len(), "events written twice");
    let want = audit_log(
        &e,
        None,
        &ago(&e, days(5) - minutes(10)),
        &(first_start - chrono::Duration::hours(2))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string(),
    );
    let missing: BTreeSet<String> = want.difference(&got).cloned().collect();
    assert!(
        missing.is_empty(),
        "{} of {} missing, by the hour they were made in: {:?}",
        missing.len(),
        want.len(),
        hours_of(&e, &missing, 5 * 24)
    );
    // A day holds 480 events, an answer 150 at most: every full day was cut (counted here
    // in the last run only if it did a full day).
    let c = e.control(reqwest::Method::GET, "counters", None);
    let creates = &c["routes"]["POST /graph/{version}/security/auditLog/queries"];
    assert!(
        creates["429"].as_u64().unwrap_or(0) > 0,
        "two queries at once, six asked: some were throttled and waited out: {c}"
    );
    assert!(
        creates["201"].as_u64().unwrap_or(0) >= 5 * 4,
        "each day in four pieces at least: {c}"
    );
}

#[test]
fn without_the_permission_or_in_gcc_high_nothing_is_written() {
    let e = emulator(40, |_| {});
    let file = e.home.path().join("events.jsonl");
    let sink = format!("jsonl:{}", file.display());
    // An app without AuditLogsQuery.Read.All: refused by Graph, said how to fix.
    let (code, _, err) = run(cmd(
        &e,
        &[
            "backfill", "--since", "3d", "--all", "--sink", &sink, "--poll", "1s",
        ],
    )
    .env("O365_CLIENT_ID", o365_emulator::config::READ_ONLY_CLIENT_ID));
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("AuditLogsQuery.Read.All") && err.contains("admin consent"),
        "{err}"
    );
    assert_eq!(jsonl_ids(&file).1, 0, "nothing written");
    // Ping says so too, without failing: the feed works for that app.
    let (code, v, err) = run(cmd(&e, &["ping", "-o", "json"])
        .env("O365_CLIENT_ID", o365_emulator::config::READ_ONLY_CLIENT_ID));
    assert_eq!(code, 0, "{err}");
    let check = &v["json_result"]["checks"]["audit_search"];
    assert_eq!(check["ok"], false, "{v}");
    assert!(
        check["error"]
            .as_str()
            .unwrap()
            .contains("AuditLogsQuery.Read.All"),
        "{check}"
    );
    let (code, v, err) = run(&mut cmd(&e, &["ping", "-o", "json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        v["json_result"]["checks"]["audit_search"]["ok"], true,
        "{v}"
    );
    // GCC High has no audit search: refused before any request.
    let before = e.requests();
    let (code, _, err) = run(
        cmd(&e, &["backfill", "--since", "3d", "--all", "--sink", &sink])
            .env("O365_CLOUD", "gcc-high"),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("commercial and GCC") && err.contains("GCC High"),
        "{err}"
    );
    assert_eq!(e.requests(), before, "no request");
    // A range that ends before it begins is refused, naming both ends.
    let (code, _, err) = run(&mut cmd(
        &e,
        &[
            "backfill", "--since", "2d", "--until", "3d", "--sink", &sink,
        ],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--since") && err.contains("--until"), "{err}");
}

#[test]
fn a_graph_record_is_the_feed_event_field_for_field_and_beta_serves_where_v1_does_not() {
    let e = emulator(40, |cfg| cfg.graph.v1_missing = true);
    let fed = e.home.path().join("fed.jsonl");
    collect(&e, &format!("jsonl:{}", fed.display()));
    let graph = e.home.path().join("graph.jsonl");
    let (code, v, err) = run(&mut cmd(
        &e,
        &[
            "backfill",
            "--since",
            "2d",
            "--all",
            "--sink",
            &format!("jsonl:{}", graph.display()),
            "--poll",
            "1s",
            "-o",
            "json",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["graph_version"], "beta", "{v}");
    let lines = |p: &Path| -> std::collections::BTreeMap<String, (String, Value)> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (v["Id"].as_str().unwrap().to_string(), (l.to_string(), v))
            })
            .collect()
    };
    let (a, b) = (lines(&fed), lines(&graph));
    let both: Vec<&String> = a.keys().filter(|k| b.contains_key(*k)).collect();
    assert!(both.len() > 100, "{} events through both APIs", both.len());
    for id in both {
        let ((raw_a, va), (raw_b, vb)) = (&a[id], &b[id]);
        assert_eq!(va, vb, "{id}: field for field");
        assert_eq!(raw_a, raw_b, "{id}: and byte for byte");
        assert!(!raw_b.contains("@odata"), "{raw_b}");
    }
}

/// Stop Audit.General, let three emulated days pass, start it again: a gap in the ledger; the
/// events of its span as the audit search has them.
fn three_day_gap(e: &Emu, collect: impl Fn(&Emu)) -> (Value, BTreeSet<String>) {
    collect(e);
    let (code, _, err) = run(&mut cmd(e, &["stop-subscription", "Audit.General"]));
    assert_eq!(code, 0, "{err}");
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(serde_json::json!({"seconds": 3 * 86_400})),
    );
    let (code, _, err) = run(&mut cmd(e, &["start-subscription", "Audit.General"]));
    assert_eq!(code, 0, "{err}");
    collect(e);
    let (code, v, err) = run(&mut cmd(e, &["gaps", "-o", "json"]));
    assert_eq!(code, 0, "{err}");
    let gaps = v.as_array().unwrap().clone();
    assert_eq!(gaps.len(), 1, "{v}");
    let want = audit_log(
        e,
        Some("Audit.General"),
        gaps[0]["stopped_at"].as_str().unwrap(),
        gaps[0]["started_at"].as_str().unwrap(),
    );
    assert!(want.len() > 100, "{} events in three days", want.len());
    (gaps[0].clone(), want)
}

#[test]
fn serve_with_repair_gaps_fills_a_gap_beside_its_passes() {
    let e = emulator(40, |_| {});
    let db = e.home.path().join("events.sqlite");
    let sink = format!("sqlite:{}", db.display());
    let (_, want) = three_day_gap(&e, |e| {
        let (code, _, err) = run(&mut cmd(
            e,
            &[
                "collect", "--all", "--once", "--since", "30h", "--sink", &sink,
            ],
        ));
        assert_eq!(code, 0, "{err}");
    });
    assert!(want.difference(&sqlite_ids(&db).0).count() > 100, "a hole");
    let mut c = cmd(
        &e,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sink",
            &sink,
            "--interval",
            "2s",
        ],
    );
    c.env("O365_REPAIR_GAPS", "true");
    let mut served = crate::Served::start(c);
    let t0 = std::time::Instant::now();
    let repaired = loop {
        let (_, v, _) = run(&mut cmd(&e, &["gaps", "-o", "json"]));
        if v[0]["repair"]["status"] == "repaired" {
            break v;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(90),
            "not repaired: {v}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    crate::fleet::term(&mut served.child);
    let (got, n) = sqlite_ids(&db);
    assert_eq!(n, got.len(), "events written twice");
    assert_eq!(want.difference(&got).count(), 0, "the span is whole");
    assert!(repaired[0]["repair"]["events_recovered"].as_u64().unwrap() > 100);
}

#[test]
fn a_three_day_gap_is_repaired_exactly_and_the_ledger_says_so() {
    let e = emulator(40, |_| {});
    let db = e.home.path().join("events.sqlite");
    let sink = format!("sqlite:{}", db.display());
    let before_stop = e.clock();
    let (gap, want) = three_day_gap(&e, |e| collect_general(e, &sink));
    // The gap is in the ledger, not repaired; its span's events are not in the sink.
    assert!(gap.get("repair").is_none(), "{gap}");
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M").to_string();
    assert!(
        gap["stopped_at"]
            .as_str()
            .unwrap()
            .starts_with(&fmt(before_stop)[..13]),
        "{gap}"
    );
    let (before, _) = sqlite_ids(&db);
    let missing_before = want.difference(&before).count();
    assert!(missing_before > 100, "the gap is a hole: {missing_before}");
    // Repaired: every event of the span once, and the ledger says how many were recovered.
    let (code, v, err) = run(&mut cmd(
        &e,
        &[
            "gaps", "--repair", "--sink", &sink, "--poll", "1s", "-o", "json",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    let r = &v[0]["repair"];
    assert_eq!(r["status"], "repaired", "{v}");
    assert_eq!(
        r["events_recovered"],
        serde_json::json!(missing_before),
        "{v}"
    );
    let (after, n) = sqlite_ids(&db);
    assert_eq!(n, after.len(), "events written twice");
    assert_eq!(want.difference(&after).count(), 0, "the span is whole");
    // Asked again: nothing to do, nothing written.
    let (code, v2, err) = run(&mut cmd(
        &e,
        &[
            "gaps", "--repair", "--sink", &sink, "--poll", "1s", "-o", "json",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(v2[0]["repair"], v[0]["repair"]);
    assert_eq!(sqlite_ids(&db).1, n);
}

#[test]
fn into_apache_kafka_a_repair_and_a_backfill_write_each_event_once() {
    let broker = crate::kafka::Broker::start();
    let sink = broker.sink("backfill");
    let e = emulator(40, |_| {});
    let (_, gap) = three_day_gap(&e, |e| collect_general(e, &sink));
    let (code, v, err) = run(&mut cmd(
        &e,
        &[
            "gaps", "--repair", "--sink", &sink, "--poll", "1s", "-o", "json",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(v[0]["repair"]["status"], "repaired", "{v}");
    let (code, v, err) = run(&mut cmd(
        &e,
        &[
            "backfill",
            "Audit.General",
            "--since",
            "6d",
            "--sink",
            &sink,
            "--poll",
            "1s",
            "-o",
            "json",
        ],
    ));
    assert_eq!(code, 0, "{err}\n{v}");
    assert!(v["events_already_there"].as_u64().unwrap() > 0, "{v}");
    // Read back with librdkafka, read_committed.
    let read = broker.read("backfill");
    let ids = &read.by_tenant[&e.info.tenant_id];
    let got: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        ids.len(),
        got.len(),
        "{} events twice",
        ids.len() - got.len()
    );
    assert_eq!(gap.difference(&got).count(), 0, "the gap's span is whole");
    let want = audit_log(
        &e,
        Some("Audit.General"),
        &ago(&e, days(6) - minutes(10)),
        &ago(&e, minutes(60)),
    );
    let missing = want.difference(&got).count();
    assert_eq!(missing, 0, "{missing} of {} missing", want.len());
}

#[test]
fn serve_backfills_beside_its_feed_each_event_once() {
    let e = emulator(40, |_| {});
    let db = e.home.path().join("events.sqlite");
    let sink = format!("sqlite:{}", db.display());
    let mut c = cmd(
        &e,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sink",
            &sink,
            "--interval",
            "2s",
            "--since",
            "30h",
        ],
    );
    c.env("O365_BACKFILL_SINCE", "10d");
    let mut served = crate::Served::start(c);
    // The feed and the backfill write at the same time, into one sink.
    let want = truth(&e, days(10) - minutes(10), minutes(60));
    let t0 = std::time::Instant::now();
    loop {
        let (got, _) = sqlite_ids(&db);
        let missing = want.difference(&got).count();
        if missing == 0 {
            break;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(120),
            "{missing} of {} still missing",
            want.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    crate::fleet::term(&mut served.child);
    let (got, n) = sqlite_ids(&db);
    assert_eq!(n, got.len(), "{} events written twice", n - got.len());
}
