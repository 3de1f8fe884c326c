//! The state of o365mgmt in one SQLite file: the action journal, the subscription transitions we
//! caused or observed, and the data-gap ledger.
//!
//! ```no_run
//! let store = o365_store::Store::open(std::path::Path::new("state.sqlite"))?;
//! for gap in store.gaps(None)? {
//!     println!("{} {} {:?}", gap.tenant, gap.content_type, gap.started_at);
//! }
//! # Ok::<(), o365_store::StoreError>(())
//! ```

pub mod files;
mod journal;
mod ledger;
mod names;
mod repairs;
mod sinks;
mod values;

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::{Mutex, MutexGuard};
use rusqlite::Connection;

pub use journal::JournalEntry;
pub use ledger::{Gap, Observed, Transition};
pub use repairs::Repair;
pub use values::{GapSource, SubscriptionState, TransitionCause};

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or created.
    #[error("cannot open the state database {path}: {source}. Check that the directory exists and is writable, or choose another file with --state")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The path is not usable as a state file (a directory, a device, ...).
    #[error("{0}")]
    Path(std::io::Error),
    /// The file was written by a newer o365mgmt.
    #[error("the state database {path} has schema version {found}, newer than this o365mgmt understands ({supported}): upgrade o365mgmt or use another --state file")]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
    },
    /// A write was asked of a store opened read-only.
    #[error("the state database {0} was opened read-only")]
    ReadOnly(PathBuf),
    /// A query failed.
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// Schema version written to `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    tenant TEXT NOT NULL,
    action TEXT NOT NULL,
    via TEXT NOT NULL,
    case_id TEXT NOT NULL,
    alert_group_identifiers TEXT NOT NULL,
    scope TEXT NOT NULL,
    target_entities TEXT NOT NULL,
    content_types TEXT NOT NULL,
    status TEXT NOT NULL,
    result_value INTEGER NOT NULL,
    output_message TEXT NOT NULL,
    outcomes TEXT NOT NULL,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_at ON journal(at);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    tenant TEXT NOT NULL,
    content_type TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    cause TEXT NOT NULL,
    case_id TEXT
);
CREATE INDEX IF NOT EXISTS transitions_key ON transitions(tenant, content_type, id);
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    content_type TEXT NOT NULL,
    stopped_at TEXT NOT NULL,
    started_at TEXT,
    source TEXT NOT NULL,
    stop_case_id TEXT,
    start_case_id TEXT
);
CREATE INDEX IF NOT EXISTS gaps_key ON gaps(tenant, content_type, started_at);
CREATE TABLE IF NOT EXISTS gap_repairs (
    gap_id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    repaired INTEGER NOT NULL,
    events_written INTEGER NOT NULL,
    already_there INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenant_sinks (
    tenant TEXT PRIMARY KEY,
    sink TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenant_names (
    name TEXT PRIMARY KEY,
    tid TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
";

/// The state database. Cheap to share behind an `Arc`; calls are serialised on one connection.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    read_only: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish()
    }
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })
}

pub(crate) fn json_col<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

impl Store {
    /// Open (or create) the state file for reading and writing. A new file and the directories
    /// created for it are private to the user (0600 / 0700).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        files::check_regular("the state file", path).map_err(StoreError::Path)?;
        files::create_private_file(path).map_err(StoreError::Path)?;
        let open = |path: &Path| -> rusqlite::Result<Connection> {
            let c = Connection::open(path)?;
            c.busy_timeout(std::time::Duration::from_secs(10))?;
            c.pragma_update(None, "journal_mode", "WAL")?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            Ok(c)
        };
        let conn = open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::check_version(&conn, path)?;
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            read_only: false,
        })
    }

    /// Open an existing state file without writing anything to it (not even its schema).
    /// `None` when there is no file, or it holds no state yet: nothing has been recorded.
    pub fn open_read_only(path: &Path) -> Result<Option<Store>, StoreError> {
        files::check_regular("the state file", path).map_err(StoreError::Path)?;
        if !path.exists() {
            return Ok(None);
        }
        let conn = files::open_sqlite_read_only(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Self::check_version(&conn, path)?;
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('journal', 'transitions', 'gaps')",
            [],
            |r| r.get(0),
        )?;
        if tables < 3 {
            return Ok(None);
        }
        Ok(Some(Store {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            read_only: true,
        }))
    }

    /// A throw-away store in memory (tests, `--state :memory:`).
    pub fn in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: ":memory:".into(),
            source,
        })?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: ":memory:".into(),
            read_only: false,
        })
    }

    fn check_version(conn: &Connection, path: &Path) -> Result<(), StoreError> {
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// The connection, for a write.
    fn writer(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly(self.path.clone()));
        }
        Ok(self.conn.lock())
    }

    /// The file in use.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use SubscriptionState::{Disabled as D, Enabled as E};
    use TransitionCause::{Action as A, Observed as O};

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, h, 0, 0).unwrap()
    }

    #[test]
    fn stop_then_start_closes_one_gap() {
        let s = Store::in_memory().unwrap();
        assert!(s
            .transition(
                "t",
                o365_vocab::ContentType::General,
                E,
                A,
                t(1),
                Some("c1")
            )
            .unwrap()
            .is_none());
        assert!(s.gaps(None).unwrap().is_empty(), "first start is not a gap");
        s.transition(
            "t",
            o365_vocab::ContentType::General,
            D,
            A,
            t(2),
            Some("c2"),
        )
        .unwrap();
        // A second stop does not open a second gap.
        s.transition("t", o365_vocab::ContentType::General, D, O, t(3), None)
            .unwrap();
        let open = s.gaps(Some("t")).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].started_at, None);
        let g = s
            .transition(
                "t",
                o365_vocab::ContentType::General,
                E,
                A,
                t(5),
                Some("c3"),
            )
            .unwrap()
            .expect("gap closed");
        assert_eq!((g.stopped_at, g.started_at), (t(2), Some(t(5))));
        assert_eq!(g.seconds(t(9)), 3 * 3600);
        assert_eq!(g.stop_case_id.as_deref(), Some("c2"));
        assert_eq!(g.start_case_id.as_deref(), Some("c3"));
        assert_eq!(s.transitions(None).unwrap().len(), 4);
        assert_eq!(
            s.last_state("t", o365_vocab::ContentType::General)
                .unwrap()
                .unwrap()
                .to_state,
            E
        );
        assert!(s.gaps(Some("other")).unwrap().is_empty());
    }

    #[test]
    fn journal_round_trip_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.sqlite");
        let e = JournalEntry {
            id: 0,
            at: t(1),
            tenant: "t".into(),
            action: "Ping".into(),
            via: "cli".into(),
            case_id: "42".into(),
            alert_group_identifiers: vec!["g".into()],
            scope: "All entities".into(),
            target_entities: serde_json::json!([]),
            content_types: vec![],
            status: "Completed".into(),
            result_value: true,
            output_message: "ok".into(),
            outcomes: serde_json::json!([]),
            duration_ms: 7,
        };
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.record_action(&e).unwrap(), 1);
        }
        let s = Store::open(&path).unwrap();
        let rows = s.journal(None, 10).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0], JournalEntry { id: 1, ..e });
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Store::open(&path).unwrap_err().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }
}
