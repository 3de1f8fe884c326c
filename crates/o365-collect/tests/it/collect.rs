use chrono::{DateTime, Duration, Utc};
use o365_api::{Client, ContentType, Credentials, RetryPolicy};
use o365_collect::{Collector, Options, SinkSpec, Stop};
use reqwest::Method;
use serde_json::json;

use crate::*;

#[tokio::test]
async fn windows_pages_and_duplicates_sqlite() {
    // 40 hours of content: two 24-hour windows per type, pages of 10 blobs.
    let emu = emulator(40.0, |_| {}).await;
    let c = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.sqlite");
    let since = c.server_now() - Duration::hours(39);
    let col = Collector::new(
        c.clone(),
        emu.info().tenant_id,
        SinkSpec::sqlite(db.clone()),
        opts(since),
    );
    let s = run(&col).await;
    assert!(s.types.iter().all(|t| t.windows == 2), "{:?}", s.types);
    assert!(s.duplicates > 0, "the emulator repeats events across blobs");
    let n = assert_exact(&emu, &s, since, |ct| sqlite_ids(&db, ct)).await;
    assert_eq!(n as u64, s.events_written);
    // Listing pages: more requests than windows × types.
    assert!(s.requests > s.blobs_done + 10, "{} requests", s.requests);

    // A second run re-lists the overlap: what was done is skipped, only new blobs are fetched.
    let again = run(&col).await;
    assert!(
        again.types.iter().all(|t| t.blobs_skipped >= 100),
        "{:?}",
        again.types
    );
    assert!(
        again.blobs_done <= 5,
        "{} blobs fetched again",
        again.blobs_done
    );
    assert_exact(&emu, &again, since, |ct| sqlite_ids(&db, ct)).await;
}

#[tokio::test]
async fn late_blobs_in_an_already_listed_window_are_caught() {
    let emu = emulator(10.0, |cfg| {
        cfg.data.late_rate = 0.3;
        cfg.data.late_delay_secs = 3600;
    })
    .await;
    let c = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let since = c.server_now() - Duration::hours(9);
    let col = Collector::new(
        c.clone(),
        emu.info().tenant_id,
        SinkSpec::jsonl(path.clone()),
        opts(since),
    );
    let first = run(&col).await;
    // Two hours later the late blobs of the listed windows are available.
    control(
        &emu,
        Method::POST,
        "clock/advance",
        Some(json!({"seconds": 7200})),
    )
    .await;
    let pending = control(&emu, Method::GET, "manifest?include_pending=true", None).await
        ["blob_count"]
        .as_u64()
        .unwrap();
    assert!(pending > 0);
    let second = run(&col).await;
    assert!(second.blobs_done > 0);
    let ids = jsonl_ids(&path);
    let want = manifest_all(&emu, &second, since).await;
    assert_eq!(want.difference(&ids).count(), 0, "missing events");
    assert_eq!(ids.difference(&want).count(), 0, "extra events");
    assert_eq!(
        (first.events_written + second.events_written) as usize,
        ids.len()
    );
    // The late blobs are what the second run found in windows the first had listed.
    assert!(second.types.iter().any(|t| t.blobs_skipped > 0));
}

#[tokio::test]
async fn faults_and_dropped_connections_lose_nothing() {
    let emu = emulator(30.0, |cfg| {
        cfg.faults.rate_429 = 0.025;
        cfg.faults.rate_500 = 0.025;
        cfg.faults.rate_503 = 0.025;
        cfg.faults.rate_drop = 0.025;
    })
    .await;
    let c = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.sqlite");
    let since = c.server_now() - Duration::hours(29);
    let col = Collector::new(
        c.clone(),
        emu.info().tenant_id,
        SinkSpec::sqlite(db.clone()),
        opts(since),
    );
    let s = run(&col).await;
    assert!(
        s.retries >= 10,
        "10% faults over {} requests gave {} retries",
        s.requests,
        s.retries
    );
    assert!(s.throttled > 0);
    assert_exact(&emu, &s, since, |ct| sqlite_ids(&db, ct)).await;
    let counters = control(&emu, Method::GET, "counters", None)
        .await
        .to_string();
    assert!(
        counters.contains("\"0\""),
        "dropped connections happened: {counters}"
    );
}

#[tokio::test]
async fn a_token_that_expires_mid_run() {
    let emu = emulator(30.0, |cfg| {
        cfg.api.token_lifetime_secs = 1;
        cfg.faults.latency_ms = 5;
    })
    .await;
    let c = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.sqlite");
    let since = c.server_now() - Duration::hours(29);
    let mut o = opts(since);
    o.concurrency = 2;
    let col = Collector::new(
        c.clone(),
        emu.info().tenant_id,
        SinkSpec::sqlite(db.clone()),
        o,
    );
    let s = run(&col).await;
    assert!(
        s.seconds > 1.5,
        "the run outlives a token ({:.1}s)",
        s.seconds
    );
    assert!(
        c.token_requests_made() >= 2,
        "{} token requests",
        c.token_requests_made()
    );
    assert_exact(&emu, &s, since, |ct| sqlite_ids(&db, ct)).await;
}

#[tokio::test]
async fn a_cursor_older_than_seven_days_is_a_recorded_gap() {
    let emu = emulator(30.0, |_| {}).await;
    let c = client(&emu);
    let ledger = std::sync::Arc::new(o365_store::Store::in_memory().unwrap());
    let tenant = emu.info().tenant_id;
    let since = c.server_now() - Duration::days(9);
    let mut o = Options::new(vec![ContentType::General]);
    o.since_time = Some(since);
    let col =
        Collector::new(c.clone(), tenant.clone(), SinkSpec::null(), o).with_ledger(ledger.clone());
    let s = run(&col).await;
    let t = &s.types[0];
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert_eq!(t.gaps.len(), 1);
    assert!((t.gaps[0].0 - since).num_milliseconds().abs() <= 1);
    assert!(t.gaps[0].1 > since + Duration::days(1));
    // The emulator's tenant's history, keyed by where it is served.
    let history = o365_api::cloud::history_key(&tenant, &emu.info().api_root);
    let gaps = ledger.gaps(Some(&history)).unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].source, o365_store::GapSource::Retention);
    assert!((gaps[0].stopped_at - since).num_milliseconds().abs() <= 1);
    assert!(t.events_written > 0, "the reachable part was collected");
}

#[tokio::test]
async fn stop_finishes_in_flight_and_saves_progress() {
    let emu = emulator(30.0, |cfg| cfg.faults.latency_ms = 20).await;
    let c = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.sqlite");
    let since = c.server_now() - Duration::hours(29);
    let col = Collector::new(
        c.clone(),
        emu.info().tenant_id,
        SinkSpec::sqlite(db.clone()),
        opts(since),
    );
    let stop = Stop::default();
    let s2 = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        s2.stop();
    });
    let first = col.run_once(&stop).await.unwrap();
    assert!(first.interrupted);
    let rest = run(&col).await;
    assert!(
        rest.blobs_done > 0,
        "the interrupted run did not finish everything"
    );
    assert_exact(&emu, &rest, since, |ct| sqlite_ids(&db, ct)).await;
}

#[tokio::test]
async fn a_failed_first_pass_never_moves_where_collection_begins() {
    // 30 h of content; the first pass fails on most blobs and saves no cursor past the start.
    let emu = emulator(30.0, |cfg| cfg.faults.rate_500 = 0.7).await;
    let c = Client::builder(
        emu.info().tenant_id,
        emu.info().client_id,
        Credentials::secret(emu.info().client_secret),
    )
    .api_root(emu.info().api_root)
    .login_endpoint(emu.info().login_endpoint)
    .requests_per_minute(0)
    .retry(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    })
    .build()
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.sqlite");
    let mut o = Options::new(ContentType::ALL.to_vec());
    o.since = Duration::hours(29);
    let col = Collector::new(
        c.clone(),
        emu.info().tenant_id,
        SinkSpec::sqlite(db.clone()),
        o,
    );
    let failed = run(&col).await;
    assert!(
        !failed.ok(),
        "70 % errors and no retries must fail the pass"
    );
    // Faults off, two hours later: the same `--since 29h` must not start two hours later.
    control(&emu, Method::PUT, "faults", Some(json!({}))).await;
    control(
        &emu,
        Method::POST,
        "clock/advance",
        Some(json!({"seconds": 7200})),
    )
    .await;
    let s = run(&col).await;
    assert!(
        s.ok(),
        "{:?}",
        s.types.iter().map(|t| &t.errors).collect::<Vec<_>>()
    );
    // The start decided by the first pass is kept ...
    let origin: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT min(origin) FROM collect_cursors", [], |r| r.get(0))
        .unwrap();
    let origin = DateTime::parse_from_rfc3339(&origin)
        .unwrap()
        .with_timezone(&Utc);
    assert!(origin < c.server_now() - Duration::hours(30), "{origin}");
    // ... and everything from it is there: nothing of the first two hours is lost.
    assert_exact(&emu, &s, origin, |ct| sqlite_ids(&db, ct)).await;
}
