//! The collector against the emulator, compared with the emulator's ground-truth manifest.
#![allow(missing_docs, clippy::result_large_err)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use o365_api::{Client, ContentType, Credentials, RetryPolicy};
use o365_collect::{Collector, Options, Stop, Summary};
use o365_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

/// An emulator whose five subscriptions have been enabled for `hours`.
pub async fn emulator(hours: f64, tweak: impl FnOnce(&mut EmulatorConfig)) -> Emulator {
    let mut cfg = EmulatorConfig::default().with_all_subscriptions(hours);
    cfg.api.page_size = 10;
    cfg.throttle.requests_per_minute = 1_000_000;
    tweak(&mut cfg);
    Emulator::start(cfg).await.unwrap()
}

/// A client with quick retries (tests need not wait minutes).
pub fn client(emu: &Emulator) -> Client {
    let i = emu.info();
    Client::builder(
        &i.tenant_id,
        &i.client_id,
        Credentials::secret(i.client_secret.clone()),
    )
    .api_root(&i.api_root)
    .login_endpoint(&i.login_endpoint)
    .refresh_margin(StdDuration::ZERO)
    .requests_per_minute(600_000)
    .retry(RetryPolicy {
        max_attempts: 12,
        base_delay: StdDuration::from_millis(5),
        max_delay: StdDuration::from_millis(100),
        max_elapsed: StdDuration::from_secs(60),
    })
    .build()
    .unwrap()
}

pub async fn control(
    emu: &Emulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut rq =
        reqwest::Client::new().request(method, format!("{}/_emulator/{path}", emu.base_url()));
    if let Some(b) = body {
        rq = rq.json(&b);
    }
    let r = rq.send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

/// Ground truth: every event id the tenant serves for `ct` in `[start, end)`.
pub async fn manifest(
    emu: &Emulator,
    ct: ContentType,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> BTreeSet<String> {
    let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let v = control(
        emu,
        reqwest::Method::GET,
        &format!(
            "manifest?contentType={}&startTime={}&endTime={}",
            ct.as_str(),
            f(start),
            f(end)
        ),
        None,
    )
    .await;
    v["event_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect()
}

/// Event ids in a SQLite sink, per content type, failing on any duplicate row.
pub fn sqlite_ids(path: &Path, ct: ContentType) -> BTreeSet<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st = c
        .prepare("SELECT id FROM events WHERE content_type = ?1")
        .unwrap();
    let rows: Vec<String> = st
        .query_map([ct.as_str()], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let set: BTreeSet<String> = rows.iter().cloned().collect();
    assert_eq!(
        set.len(),
        rows.len(),
        "duplicate rows in {}",
        path.display()
    );
    set
}

/// The union of the manifests of every type, each up to its cursor.
pub async fn manifest_all(emu: &Emulator, s: &Summary, since: DateTime<Utc>) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for t in &s.types {
        assert!(t.errors.is_empty(), "{}: {:?}", t.content_type, t.errors);
        let ct: ContentType = t.content_type.parse().unwrap();
        all.extend(manifest(emu, ct, since, t.cursor.unwrap()).await);
    }
    all
}

/// Event ids in a JSONL sink, failing on any duplicate line.
pub fn jsonl_ids(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut ids = BTreeSet::new();
    for line in text.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"));
        let id = v["Id"].as_str().unwrap().to_string();
        assert!(
            ids.insert(id.clone()),
            "duplicate event {id} in {}",
            path.display()
        );
    }
    ids
}

pub fn opts(since: DateTime<Utc>) -> Options {
    let mut o = Options::new(ContentType::ALL.to_vec());
    o.since_time = Some(since);
    o.concurrency = 6;
    o
}

/// Compare every content type of a sink with the manifest of `[since, cursor)`.
pub async fn assert_exact(
    emu: &Emulator,
    s: &Summary,
    since: DateTime<Utc>,
    ids: impl Fn(ContentType) -> BTreeSet<String>,
) -> usize {
    let mut total = 0;
    for t in &s.types {
        assert!(t.errors.is_empty(), "{}: {:?}", t.content_type, t.errors);
        let ct: ContentType = t.content_type.parse().unwrap();
        let cursor = t.cursor.expect("cursor");
        let want = manifest(emu, ct, since, cursor).await;
        let got = ids(ct);
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&want).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{ct}: {} missing (e.g. {missing:?}), {} extra (e.g. {extra:?})",
            want.difference(&got).count(),
            got.difference(&want).count()
        );
        assert!(
            !want.is_empty(),
            "{ct}: the manifest is empty, the test proves nothing"
        );
        total += want.len();
    }
    total
}

pub async fn run(c: &Collector) -> Summary {
    c.run_once(&Stop::default()).await.unwrap()
}

mod collect;
