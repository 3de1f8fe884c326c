//! `collect upgrade`: a SQLite sink made by an earlier version (one wide `events` table) is
//! rewritten in the current layout; collection goes on from it, each event once.

use serde_json::json;

use crate::identity::{emulator, out};

/// The events table as versions before 2026-12-06 made it.
const WIDE: &str = "
CREATE TABLE events (
    tenant TEXT NOT NULL, id TEXT NOT NULL, content_type TEXT NOT NULL,
    creation_time TEXT NOT NULL, record_type INTEGER, operation TEXT, workload TEXT,
    user_id TEXT, content_id TEXT NOT NULL, raw TEXT NOT NULL, dedup INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_dedup ON events(creation_time, dedup);
CREATE INDEX events_user ON events(user_id, creation_time);
CREATE INDEX events_operation ON events(operation, creation_time);
";

fn events_kind_and_counts(db: &std::path::Path) -> (String, i64, i64) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT (SELECT type FROM sqlite_master WHERE name = 'events'),
                (SELECT count(*) FROM events), (SELECT count(DISTINCT id) FROM events)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

#[test]
fn a_wide_sqlite_sink_is_upgraded_and_collection_goes_on_each_event_once() {
    let e = emulator();
    let db = e.home.path().join("events.sqlite");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(WIDE)
        .unwrap();
    let sink = format!("sqlite:{}", db.display());
    let collect = ["collect", "Audit.General", "--once", "--sink", &sink];
    let (code, _, err) = out(&mut e.cmd(&collect));
    assert_eq!(code, 0, "{err}");
    let (kind, before, distinct) = events_kind_and_counts(&db);
    assert_eq!(kind, "table", "the earlier layout is kept until upgraded");
    assert!(before > 0);
    assert_eq!(before, distinct);

    let upgrade = ["collect", "upgrade", "--sink", &sink];
    let (code, text, err) = out(&mut e.cmd(&upgrade));
    assert_eq!(code, 0, "{err}");
    let said: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(said["result"], "rewritten", "{text}");
    assert_eq!(said["events"], before, "{text}");
    assert!(said["blobs"].as_u64().is_some_and(|b| b > 0), "{text}");
    assert_eq!(events_kind_and_counts(&db), ("view".into(), before, before));
    let (code, text, err) = out(e.cmd(&upgrade).args(["--output", "text"]));
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("already in the current layout"), "{text}");

    // The cursor and the events done are kept: the next pass re-lists its overlap and adds
    // only the new ten minutes.
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({"seconds": 600})),
    );
    let (code, _, err) = out(&mut e.cmd(&collect));
    assert_eq!(code, 0, "{err}");
    let (_, after, distinct) = events_kind_and_counts(&db);
    assert!(after > before, "{after} after {before}");
    assert_eq!(after, distinct, "no event twice");
}

#[test]
fn upgrade_names_what_it_cannot_upgrade() {
    let e = emulator();
    let jsonl = format!("jsonl:{}", e.home.path().join("e.jsonl").display());
    let missing = format!("sqlite:{}", e.home.path().join("none.sqlite").display());
    for (sink, says) in [
        (jsonl.as_str(), "only a SQLite sink has one"),
        (missing.as_str(), "no such file"),
    ] {
        let (code, _, err) = out(&mut e.cmd(&["collect", "upgrade", "--sink", sink]));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says) && err.contains(sink), "{err}");
    }
    assert!(!e.home.path().join("none.sqlite").exists(), "nothing made");
}
