//! `collect upgrade`: a file of the wide layout rewritten in the lean one, in one transaction.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior};

use super::layout::{LEAN_INDEXES, LEAN_TABLES, LEAN_VIEW};
use crate::sinks::SinkError;

/// What upgrading a sink's stored events did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// The sink keeps no events of its own to lay out (not a SQLite sink).
    NotApplicable,
    /// The file does not exist.
    NoFile,
    /// The events are in the current layout already (or there are none): nothing changed.
    Current,
    /// The events were rewritten in the current layout.
    Rewritten {
        /// Events moved.
        events: u64,
        /// Blobs they came in.
        blobs: u64,
    },
}

/// Rewrite the wide table `events` of the file at `path` as lean rows: all of it in one
/// transaction (it waits for a collector's commit to end, and a collector waits for it), so an
/// interruption leaves the file as it was.
pub fn upgrade(path: &Path) -> Result<Upgrade, SinkError> {
    o365_store::files::check_regular("the SQLite sink", path)
        .map_err(|e| SinkError::io(path, e))?;
    if !path.exists() {
        return Ok(Upgrade::NoFile);
    }
    let sql = |source| SinkError::Sql {
        path: path.display().to_string(),
        source,
    };
    let mut conn = Connection::open(path).map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(sql)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let kind: Option<String> = tx
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = 'events'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;
    if kind.as_deref() != Some("table") {
        return Ok(Upgrade::Current);
    }
    tx.execute_batch(LEAN_TABLES).map_err(sql)?;
    let blobs = tx
        .execute(
            "INSERT INTO event_blobs (tenant, content_type, content_id)
             SELECT tenant, content_type, content_id FROM events
              GROUP BY tenant, content_type, content_id ORDER BY min(rowid)",
            [],
        )
        .map_err(sql)? as u64;
    // The rows in the order they were written; indexes built once, after them. A time the wide
    // layout kept that SQLite cannot read (beyond year 9999) is kept in the event as 0, the
    // value of an event without one.
    tx.execute_batch(
        "CREATE INDEX event_blobs_upgrade ON event_blobs(tenant, content_type, content_id);",
    )
    .map_err(sql)?;
    let events = tx
        .execute(
            "INSERT INTO event_rows (blob, id, at, record_type, operation, workload, user_id, raw, dedup)
             SELECT b.blob, e.id,
                    CASE e.creation_time WHEN '' THEN 0 ELSE coalesce(unixepoch(e.creation_time), 0) END,
                    e.record_type, e.operation, e.workload, e.user_id, e.raw, e.dedup
               FROM events AS e JOIN event_blobs AS b
                 ON b.tenant = e.tenant AND b.content_type = e.content_type AND b.content_id = e.content_id
              ORDER BY e.rowid",
            [],
        )
        .map_err(sql)? as u64;
    tx.execute_batch("DROP INDEX event_blobs_upgrade; DROP TABLE events;")
        .map_err(sql)?;
    tx.execute_batch(LEAN_INDEXES).map_err(sql)?;
    tx.execute_batch(LEAN_VIEW).map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(Upgrade::Rewritten { events, blobs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::sqlite::fixture::{blob, object_type, rows};
    use crate::sinks::sqlite::layout::WIDE_SCHEMA;
    use crate::sinks::sqlite::SqliteKind;
    use crate::sinks::SinkKind as _;

    const T0: Option<&str> = Some("2026-12-04T10:00:00");
    const T1: Option<&str> = Some("2026-12-04T10:00:01");

    #[test]
    fn a_wide_file_is_rewritten_lean_and_goes_on_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.sqlite");
        let kind = SqliteKind::new(path.clone());
        assert_eq!(kind.upgrade().unwrap(), Upgrade::NoFile);
        Connection::open(&path)
            .unwrap()
            .execute_batch(WIDE_SCHEMA)
            .unwrap();
        let first = [
            blob("t1", "c1", &[("a", T0), ("b", T1)]),
            blob("t1", "c2", &[("c", None)]),
            blob("t2", "c1", &[("a", T0)]),
        ];
        {
            let mut sink = kind.open().unwrap();
            assert_eq!(sink.commit(&first, &[]).unwrap().written, [2, 1, 1]);
        }
        let before = rows(&path);
        assert_eq!(before.len(), 4);
        assert_eq!(
            kind.upgrade().unwrap(),
            Upgrade::Rewritten {
                events: 4,
                blobs: 3
            }
        );
        assert_eq!(rows(&path), before, "the same events, read the same way");
        assert_eq!(object_type(&path, "events").as_deref(), Some("view"));
        assert_eq!(object_type(&path, "events_dedup").as_deref(), Some("index"));
        assert_eq!(object_type(&path, "event_blobs_upgrade"), None);
        let c = Connection::open(&path).unwrap();
        let blobs_done: i64 = c
            .query_row("SELECT count(*) FROM collect_blobs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(blobs_done, 3, "the checkpoint is untouched");
        // The events written before are still known: sent again, they are duplicates; new ones
        // are written, in the lean layout.
        let mut sink = kind.open().unwrap();
        let again = [
            blob("t1", "c1", &[("a", T0), ("b", T1)]),
            blob("t1", "c3", &[("a", T0), ("d", T1)]),
        ];
        assert_eq!(sink.commit(&again, &[]).unwrap().written, [0, 1]);
        drop(sink);
        assert_eq!(rows(&path).len(), 5);
        assert_eq!(kind.upgrade().unwrap(), Upgrade::Current);
    }

    fn wide_file(path: &Path, rows: &str) -> Connection {
        let c = Connection::open(path).unwrap();
        c.execute_batch(WIDE_SCHEMA).unwrap();
        c.execute_batch(rows).unwrap();
        c
    }

    #[test]
    fn a_time_sqlite_cannot_read_becomes_that_of_an_event_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.sqlite");
        let c = wide_file(
            &path,
            "INSERT INTO events VALUES ('t', 'a', 'Audit.General', '2026-12-04T10:00:00', 1, 'Op', 'W', 'u', 'c', '{}', 7);
             INSERT INTO events VALUES ('t', 'b', 'Audit.General', '+10000-01-01T00:00:00', 1, 'Op', 'W', 'u', 'c', '{}', 8);",
        );
        assert_eq!(
            upgrade(&path).unwrap(),
            Upgrade::Rewritten {
                events: 2,
                blobs: 1
            }
        );
        let at: Vec<i64> = c
            .prepare("SELECT at FROM events ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(at, [TEN_AM, 0]);
    }

    /// 2026-12-04T10:00:00Z.
    const TEN_AM: i64 = 1_796_378_400;

    #[test]
    fn an_upgrade_that_fails_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.sqlite");
        // Two events the lean keys cannot tell apart (both without a time SQLite can read,
        // with the same hash): the unique index fails at the end of the rewrite.
        wide_file(
            &path,
            "INSERT INTO events VALUES ('t', 'a', 'Audit.General', '', 1, 'Op', 'W', 'u', 'c', '{}', 7);
             INSERT INTO events VALUES ('t', 'a', 'Audit.General', '+10000-01-01T00:00:00', 1, 'Op', 'W', 'u', 'c', '{}', 7);",
        );
        let err = upgrade(&path).unwrap_err().to_string();
        assert!(err.contains("UNIQUE"), "{err}");
        let c = Connection::open(&path).unwrap();
        let (kind, n): (String, i64) = c
            .query_row(
                "SELECT (SELECT type FROM sqlite_master WHERE name = 'events'), (SELECT count(*) FROM events)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((kind.as_str(), n), ("table", 2));
        let lean: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('event_rows', 'event_blobs', 'event_blobs_upgrade')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(lean, 0, "nothing of the rewrite remains");
    }
}
