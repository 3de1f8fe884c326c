//! How the SQLite sink lays out its events: lean rows (one row per blob for what its events
//! share, `CreationTime` as Unix seconds in the keys) read through the view `events`, or, in a
//! file made by an earlier version, the wide table `events` it began with.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension as _, Statement, ToSql};

use crate::checkpoint::{placeholders, Tx, ROWS_PER_STATEMENT};
use crate::key::TenantHash;
use crate::local::EventWriter;
use crate::sinks::{BlobOut, SinkError};

/// The layout of new files. A blob's tenant, content type and content id are stored once, in
/// `event_blobs`, not in each of its events' rows; the keys hold `CreationTime` as an integer
/// (Unix seconds, 0 when absent). Against the wide layout, side by side: about a quarter less
/// CPU per event (docs/benchmarks.md, 2026-12-06). Its tables, then [`LEAN_INDEXES`] and
/// [`LEAN_VIEW`].
pub(super) const LEAN_TABLES: &str = "
CREATE TABLE IF NOT EXISTS event_blobs (
    blob INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_rows (
    blob INTEGER NOT NULL,
    id TEXT NOT NULL,
    at INTEGER NOT NULL,
    record_type INTEGER,
    operation TEXT,
    workload TEXT,
    user_id TEXT,
    raw TEXT NOT NULL,
    dedup INTEGER NOT NULL
);
";

/// The lean layout's indexes.
pub(super) const LEAN_INDEXES: &str = "
-- The de-duplication key: (CreationTime second, 64-bit hash of tenant and Id). The time first,
-- so inserts land in the recent part of the index instead of a random page per event; a
-- re-delivered event carries the same CreationTime and Id and meets its first copy here. It also
-- serves queries by time.
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON event_rows(at, dedup);
CREATE INDEX IF NOT EXISTS events_user ON event_rows(user_id, at);
CREATE INDEX IF NOT EXISTS events_operation ON event_rows(operation, at);
";

/// Every event with every column, as the wide layout has them (and `at` besides).
pub(super) const LEAN_VIEW: &str = "
CREATE VIEW IF NOT EXISTS events AS
SELECT r.rowid AS rowid,
       b.tenant AS tenant,
       r.id AS id,
       b.content_type AS content_type,
       CASE r.at WHEN 0 THEN '' ELSE strftime('%Y-%m-%dT%H:%M:%S', r.at, 'unixepoch') END
           AS creation_time,
       r.at AS at,
       r.record_type AS record_type,
       r.operation AS operation,
       r.workload AS workload,
       r.user_id AS user_id,
       b.content_id AS content_id,
       r.raw AS raw,
       r.dedup AS dedup
  FROM event_rows AS r JOIN event_blobs AS b ON b.blob = r.blob;
";

/// The layout of files made before 2026-12-06, still written in files that have it: every
/// column in each row, `CreationTime` as text in the keys.
pub(super) const WIDE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    creation_time TEXT NOT NULL,
    record_type INTEGER,
    operation TEXT,
    workload TEXT,
    user_id TEXT,
    content_id TEXT NOT NULL,
    raw TEXT NOT NULL,
    dedup INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON events(creation_time, dedup);
CREATE INDEX IF NOT EXISTS events_user ON events(user_id, creation_time);
CREATE INDEX IF NOT EXISTS events_operation ON events(operation, creation_time);
";

/// Where a file keeps its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventLayout {
    /// `event_blobs` and `event_rows`, read through the view `events` (new files).
    Lean,
    /// One table `events` with every column in each row (files made by an earlier version).
    Wide,
}

impl EventLayout {
    /// The layout of the file behind `conn`: wide when it already has the table `events`,
    /// otherwise lean (created here when missing).
    pub fn settle(conn: &Connection) -> rusqlite::Result<Self> {
        let kind: Option<String> = conn
            .query_row(
                "SELECT type FROM sqlite_master WHERE name = 'events'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if kind.as_deref() == Some("table") {
            conn.execute_batch(WIDE_SCHEMA)?;
            return Ok(Self::Wide);
        }
        for part in [LEAN_TABLES, LEAN_INDEXES, LEAN_VIEW] {
            conn.execute_batch(part)?;
        }
        Ok(Self::Lean)
    }
}

/// Binds one statement's parameters in order.
struct Binder<'s, 'c, 't> {
    st: &'s mut Statement<'c>,
    next: usize,
    tx: &'t Tx<'t>,
}

impl Binder<'_, '_, '_> {
    fn put(&mut self, v: &dyn ToSql) -> Result<(), SinkError> {
        self.st
            .raw_bind_parameter(self.next, v)
            .map_err(self.tx.sql())?;
        self.next += 1;
        Ok(())
    }
}

/// The event as it came: its UTF-8 was checked when the blob was decoded.
fn raw(e: &o365_api::SharedEvent) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(&e.raw))
}

/// `INSERT OR IGNORE INTO {into} VALUES ...` for `events`, `row` binding each event's `cols`
/// values; the rows written (the rest were duplicates). Multi-row statements: far less per-row
/// overhead than one statement per event.
fn insert<'t>(
    tx: &'t Tx<'t>,
    into: &str,
    cols: usize,
    events: &[o365_api::SharedEvent],
    mut row: impl FnMut(&mut Binder<'_, '_, 't>, &o365_api::SharedEvent) -> Result<(), SinkError>,
) -> Result<u64, SinkError> {
    let sql = tx.sql();
    let mut written = 0;
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let text = format!(
            "INSERT OR IGNORE INTO {into} VALUES {}",
            placeholders(chunk.len(), cols)
        );
        let mut st = tx.tx.prepare_cached(&text).map_err(&sql)?;
        let mut p = Binder {
            st: &mut st,
            next: 1,
            tx,
        };
        for e in chunk {
            row(&mut p, e)?;
        }
        written += st.raw_execute().map_err(&sql)? as u64;
    }
    Ok(written)
}

/// Writes a blob's events as rows of its file's layout.
pub struct Rows(pub EventLayout);

impl Rows {
    /// The lean layout: the blob's row, then its events' rows pointing at it.
    fn lean(tx: &Tx<'_>, b: &BlobOut) -> Result<u64, SinkError> {
        if b.events.is_empty() {
            return Ok(0);
        }
        let blob = tx
            .tx
            .prepare_cached(
                "INSERT INTO event_blobs (tenant, content_type, content_id) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut st| st.insert((&b.tenant, b.content_type.as_str(), &b.content_id)))
            .map_err(tx.sql())?;
        let hash = TenantHash::new(&b.tenant);
        let into =
            "event_rows (blob, id, at, record_type, operation, workload, user_id, raw, dedup)";
        insert(tx, into, 9, &b.events, |p, e| {
            let (at, dedup) = hash.event_key(e);
            p.put(&blob)?;
            p.put(&e.id())?;
            p.put(&at)?;
            p.put(&e.record_type)?;
            p.put(&e.operation())?;
            p.put(&e.workload())?;
            p.put(&e.user_id())?;
            p.put(&raw(e))?;
            p.put(&dedup)
        })
    }

    /// The wide layout: every column in each event's row.
    fn wide(tx: &Tx<'_>, b: &BlobOut) -> Result<u64, SinkError> {
        let hash = TenantHash::new(&b.tenant);
        // SQLite copies bound text, so one buffer serves every row.
        let mut time = String::with_capacity(19);
        let into = "events (tenant, id, content_type, creation_time, record_type, operation, workload, user_id, content_id, raw, dedup)";
        insert(tx, into, 11, &b.events, |p, e| {
            time.clear();
            if let Some(t) = &e.creation_time {
                o365_api::seconds::push_seconds(t, &mut time);
            }
            p.put(&b.tenant)?;
            p.put(&e.id())?;
            p.put(&b.content_type.as_str())?;
            p.put(&time.as_str())?;
            p.put(&e.record_type)?;
            p.put(&e.operation())?;
            p.put(&e.workload())?;
            p.put(&e.user_id())?;
            p.put(&b.content_id)?;
            p.put(&raw(e))?;
            p.put(&hash.dedup_key(e.id()))
        })
    }
}

impl EventWriter for Rows {
    fn write(&mut self, tx: &Tx<'_>, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError> {
        blobs
            .iter()
            .map(|b| match self.0 {
                EventLayout::Lean => Self::lean(tx, b),
                EventLayout::Wide => Self::wide(tx, b),
            })
            .collect()
    }

    fn stages(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::sqlite::fixture::{blob, object_type, rows};
    use crate::sinks::sqlite::SqliteKind;
    use crate::sinks::SinkKind as _;

    fn blobs() -> Vec<BlobOut> {
        vec![
            blob(
                "t1",
                "c1",
                &[("a", Some("2026-12-04T10:00:01")), ("b", None)],
            ),
            // A re-delivered event (same tenant, Id and second), and one of another tenant
            // with the same Id: the first is a duplicate, the second is not.
            blob(
                "t1",
                "c2",
                &[
                    ("a", Some("2026-12-04T10:00:01.5")),
                    ("c", Some("2026-12-04T11:00:00")),
                ],
            ),
            blob("t2", "c3", &[("a", Some("2026-12-04T10:00:01"))]),
            blob("t2", "c4", &[]),
        ]
    }

    /// The same events written in both layouts read back the same through `events`.
    #[test]
    fn both_layouts_read_the_same_through_events() {
        let dir = tempfile::tempdir().unwrap();
        let lean = dir.path().join("lean.sqlite");
        let wide = dir.path().join("wide.sqlite");
        // A file made by an earlier version: its wide table is there before the sink opens it.
        Connection::open(&wide)
            .unwrap()
            .execute_batch(WIDE_SCHEMA)
            .unwrap();
        let mut written = Vec::new();
        for path in [&lean, &wide] {
            let mut sink = SqliteKind::new(path.clone()).open().unwrap();
            written.push(sink.commit(&blobs(), &[]).unwrap().written);
        }
        assert_eq!(written[0], [2, 1, 1, 0]);
        assert_eq!(written[0], written[1]);
        assert_eq!(object_type(&lean, "events").as_deref(), Some("view"));
        assert_eq!(object_type(&lean, "event_rows").as_deref(), Some("table"));
        assert_eq!(object_type(&wide, "events").as_deref(), Some("table"));
        assert_eq!(
            object_type(&wide, "event_rows"),
            None,
            "the wide file stays wide"
        );
        let got = rows(&lean);
        assert_eq!(got, rows(&wide));
        let short: Vec<_> = got
            .iter()
            .map(|r| {
                (
                    r.tenant.as_str(),
                    r.id.as_str(),
                    r.creation_time.as_str(),
                    r.content_id.as_str(),
                )
            })
            .collect();
        assert_eq!(
            short,
            [
                ("t1", "a", "2026-12-04T10:00:01", "c1"),
                ("t2", "a", "2026-12-04T10:00:01", "c3"),
                ("t1", "b", "", "c1"),
                ("t1", "c", "2026-12-04T11:00:00", "c2"),
            ]
        );
        assert_eq!(got[0].content_type, "Audit.Exchange");
        assert_eq!(got[0].record_type, Some(2));
        assert!(got[0]
            .raw
            .starts_with(r#"{"Id":"a","CreationTime":"2026-12-04T10:00:01""#));
        // Opened again, each file keeps its layout.
        for path in [&lean, &wide] {
            let mut sink = SqliteKind::new(path.clone()).open().unwrap();
            assert_eq!(sink.commit(&blobs(), &[]).unwrap().written, [0, 0, 0, 0]);
        }
        assert_eq!(object_type(&wide, "event_rows"), None);
    }

    /// The queries docs/collector.md shows are answered from the indexes.
    #[test]
    fn the_documented_queries_use_the_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.sqlite");
        let mut sink = SqliteKind::new(path.clone()).open().unwrap();
        sink.commit(&blobs(), &[]).unwrap();
        let c = Connection::open(&path).unwrap();
        let plan = |q: &str| -> String {
            let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {q}")).unwrap();
            st.query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .join("; ")
        };
        for (q, index) in [
            (
                "SELECT creation_time, user_id, operation FROM events
                  WHERE user_id = 'u@x' AND at >= unixepoch('2026-11-26') ORDER BY at",
                "events_user",
            ),
            (
                "SELECT json_extract(raw, '$.ClientIP') AS ip, count(*) FROM events
                  WHERE operation = 'UserLoginFailed' GROUP BY ip",
                "events_operation",
            ),
            (
                "SELECT count(*) FROM events
                  WHERE at >= unixepoch('2026-12-04T10:00:00') AND at < unixepoch('2026-12-04T11:00:00')",
                "events_dedup",
            ),
        ] {
            let p = plan(q);
            assert!(p.contains(index), "{q}: {p}");
            assert!(!p.contains("SCAN r"), "{q}: {p}");
            assert!(!p.contains("TEMP B-TREE FOR ORDER BY"), "{q}: {p}");
        }
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM events WHERE user_id = 'u@x' AND at >= unixepoch('2026-12-04')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 3);
    }

    proptest::proptest! {
        /// The view writes `CreationTime` exactly as the wide layout stored it.
        #[test]
        fn the_view_writes_times_as_the_wide_layout_did(
            secs in -62_135_596_800i64..=253_402_300_799i64,
        ) {
            proptest::prop_assume!(secs != 0);
            let c = Connection::open_in_memory().unwrap();
            EventLayout::settle(&c).unwrap();
            c.execute_batch(
                "INSERT INTO event_blobs (blob, tenant, content_type, content_id) VALUES (1, 't', 'x', 'c')",
            )
            .unwrap();
            c.execute(
                "INSERT INTO event_rows (blob, id, at, raw, dedup) VALUES (1, 'a', ?1, '{}', 0)",
                [secs],
            )
            .unwrap();
            let shown: String = c
                .query_row("SELECT creation_time FROM events", [], |r| r.get(0))
                .unwrap();
            let t = chrono::DateTime::from_timestamp(secs, 0).unwrap().naive_utc();
            proptest::prop_assert_eq!(shown, o365_api::seconds::seconds(&t));
        }
    }
}
