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

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

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
";

/// One action run, as journaled. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Row id (0 before it is written).
    #[serde(default)]
    pub id: i64,
    /// When the action started.
    pub at: DateTime<Utc>,
    /// Tenant the action was for.
    pub tenant: String,
    /// Action name, e.g. `Start Subscription`.
    pub action: String,
    /// Where it came from: `cli`, `action`, `mcp`, `demo`, `collect`.
    pub via: String,
    /// Case id.
    pub case_id: String,
    /// Alert group identifiers.
    pub alert_group_identifiers: Vec<String>,
    /// Scope.
    pub scope: String,
    /// Target entities (as given).
    pub target_entities: serde_json::Value,
    /// Content types asked for (canonical spelling).
    pub content_types: Vec<String>,
    /// `Completed` or `Failed`.
    pub status: String,
    /// Whether every requested type reached its state.
    pub result_value: bool,
    /// The output message.
    pub output_message: String,
    /// Per content type outcomes (the result's `json_result.subscriptions`).
    pub outcomes: serde_json::Value,
    /// Duration in milliseconds.
    pub duration_ms: u64,
}

/// A subscription state change we caused or saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Row id.
    pub id: i64,
    /// When (service time).
    pub at: DateTime<Utc>,
    /// Tenant.
    pub tenant: String,
    /// Content type.
    pub content_type: String,
    /// Known state before, if any: `enabled`, `disabled`, `absent`.
    pub from_state: Option<String>,
    /// State after.
    pub to_state: String,
    /// `action` (we caused it) or `observed` (we saw it in a listing).
    pub cause: String,
    /// The case the action ran for.
    pub case_id: Option<String>,
}

/// A span of time in which a content type was not subscribed: its content is lost for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant: String,
    /// Content type.
    pub content_type: String,
    /// Start of the gap (inclusive).
    pub stopped_at: DateTime<Utc>,
    /// End of the gap (exclusive); `None` while still stopped.
    pub started_at: Option<DateTime<Utc>>,
    /// How we know: `action` (our stop), `observed` (seen disabled in a listing: it stopped at or
    /// before `stopped_at`), `retention` (a collector cursor older than the 7-day limit).
    pub source: String,
    /// Case of the stop.
    pub stop_case_id: Option<String>,
    /// Case of the start that ended it.
    pub start_case_id: Option<String>,
}

impl Gap {
    /// Length in seconds (up to `now` while open).
    pub fn seconds(&self, now: DateTime<Utc>) -> i64 {
        (self.started_at.unwrap_or(now) - self.stopped_at).num_seconds()
    }
}

/// The state database. Cheap to share behind an `Arc`; calls are serialised on one connection.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })
}

fn json_col<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

impl Store {
    /// Open (or create) the state file, creating its directory if needed.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                    path: path.to_owned(),
                    source: rusqlite::Error::ToSqlConversionFailure(e.into()),
                })?;
            }
        }
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
        Self::init(conn, path.to_owned())
    }

    /// A throw-away store in memory (tests, `--state :memory:`).
    pub fn in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: ":memory:".into(),
            source,
        })?;
        Self::init(conn, ":memory:".into())
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Store, StoreError> {
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path,
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The file in use.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write one journal row; returns its id.
    pub fn record_action(&self, e: &JournalEntry) -> Result<i64, StoreError> {
        let c = self.conn.lock();
        c.execute(
            "INSERT INTO journal (at, tenant, action, via, case_id, alert_group_identifiers, scope,
                target_entities, content_types, status, result_value, output_message, outcomes, duration_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                ts(e.at),
                e.tenant,
                e.action,
                e.via,
                e.case_id,
                serde_json::to_string(&e.alert_group_identifiers).unwrap_or_default(),
                e.scope,
                e.target_entities.to_string(),
                serde_json::to_string(&e.content_types).unwrap_or_default(),
                e.status,
                e.result_value,
                e.output_message,
                e.outcomes.to_string(),
                e.duration_ms as i64,
            ],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// Journal rows, newest first.
    pub fn journal(&self, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        let c = self.conn.lock();
        let mut st = c.prepare(
            "SELECT id, at, tenant, action, via, case_id, alert_group_identifiers, scope, target_entities,
                content_types, status, result_value, output_message, outcomes, duration_ms
             FROM journal ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(JournalEntry {
                id: r.get(0)?,
                at: parse_ts(&r.get::<_, String>(1)?)?,
                tenant: r.get(2)?,
                action: r.get(3)?,
                via: r.get(4)?,
                case_id: r.get(5)?,
                alert_group_identifiers: json_col(&r.get::<_, String>(6)?)?,
                scope: r.get(7)?,
                target_entities: json_col(&r.get::<_, String>(8)?)?,
                content_types: json_col(&r.get::<_, String>(9)?)?,
                status: r.get(10)?,
                result_value: r.get(11)?,
                output_message: r.get(12)?,
                outcomes: json_col(&r.get::<_, String>(13)?)?,
                duration_ms: r.get::<_, i64>(14)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The last known state of a subscription, with when it was recorded.
    pub fn last_state(
        &self,
        tenant: &str,
        content_type: &str,
    ) -> Result<Option<Transition>, StoreError> {
        let c = self.conn.lock();
        Ok(c.query_row(
            "SELECT id, at, tenant, content_type, from_state, to_state, cause, case_id FROM transitions
             WHERE tenant = ?1 AND content_type = ?2 ORDER BY id DESC LIMIT 1",
            params![tenant, content_type],
            transition_row,
        )
        .optional()?)
    }

    /// All transitions of a tenant (or all), oldest first.
    pub fn transitions(&self, tenant: Option<&str>) -> Result<Vec<Transition>, StoreError> {
        let c = self.conn.lock();
        let mut st = c.prepare(
            "SELECT id, at, tenant, content_type, from_state, to_state, cause, case_id FROM transitions
             WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([tenant], transition_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Record a state change and keep the gap ledger in step with it, in one transaction.
    ///
    /// Going to `disabled`/`absent` from anything else opens a gap at `at` (unless one is open);
    /// going to `enabled` closes the open gap at `at` and returns it. The returned gap is the one
    /// closed by this transition, if any.
    pub fn transition(
        &self,
        tenant: &str,
        content_type: &str,
        to_state: &str,
        cause: &str,
        at: DateTime<Utc>,
        case_id: Option<&str>,
    ) -> Result<Option<Gap>, StoreError> {
        let mut c = self.conn.lock();
        let tx = c.transaction()?;
        let from: Option<String> = tx
            .query_row(
                "SELECT to_state FROM transitions WHERE tenant = ?1 AND content_type = ?2
                 ORDER BY id DESC LIMIT 1",
                params![tenant, content_type],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute(
            "INSERT INTO transitions (at, tenant, content_type, from_state, to_state, cause, case_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![ts(at), tenant, content_type, from, to_state, cause, case_id],
        )?;
        let open: Option<i64> = tx
            .query_row(
                "SELECT id FROM gaps WHERE tenant = ?1 AND content_type = ?2 AND started_at IS NULL
                 ORDER BY id DESC LIMIT 1",
                params![tenant, content_type],
                |r| r.get(0),
            )
            .optional()?;
        let mut closed = None;
        if to_state == "enabled" {
            if let Some(id) = open {
                tx.execute(
                    "UPDATE gaps SET started_at = ?1, start_case_id = ?2 WHERE id = ?3",
                    params![ts(at), case_id, id],
                )?;
                closed = Some(tx.query_row(
                    "SELECT id, tenant, content_type, stopped_at, started_at, source, stop_case_id,
                        start_case_id FROM gaps WHERE id = ?1",
                    [id],
                    gap_row,
                )?);
            }
        } else if open.is_none() && from.as_deref() == Some("enabled") {
            tx.execute(
                "INSERT INTO gaps (tenant, content_type, stopped_at, source, stop_case_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![tenant, content_type, ts(at), cause, case_id],
            )?;
        }
        tx.commit()?;
        Ok(closed)
    }

    /// Record a closed gap directly (e.g. content older than the retention limit).
    pub fn record_gap(
        &self,
        tenant: &str,
        content_type: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        source: &str,
    ) -> Result<(), StoreError> {
        let c = self.conn.lock();
        c.execute(
            "INSERT INTO gaps (tenant, content_type, stopped_at, started_at, source)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![tenant, content_type, ts(from), ts(to), source],
        )?;
        Ok(())
    }

    /// Every gap ever recorded (of one tenant, or all), oldest first.
    pub fn gaps(&self, tenant: Option<&str>) -> Result<Vec<Gap>, StoreError> {
        let c = self.conn.lock();
        let mut st = c.prepare(
            "SELECT id, tenant, content_type, stopped_at, started_at, source, stop_case_id, start_case_id
             FROM gaps WHERE ?1 IS NULL OR tenant = ?1 ORDER BY stopped_at, id",
        )?;
        let rows = st.query_map([tenant], gap_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn transition_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Transition> {
    Ok(Transition {
        id: r.get(0)?,
        at: parse_ts(&r.get::<_, String>(1)?)?,
        tenant: r.get(2)?,
        content_type: r.get(3)?,
        from_state: r.get(4)?,
        to_state: r.get(5)?,
        cause: r.get(6)?,
        case_id: r.get(7)?,
    })
}

fn gap_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Gap> {
    Ok(Gap {
        id: r.get(0)?,
        tenant: r.get(1)?,
        content_type: r.get(2)?,
        stopped_at: parse_ts(&r.get::<_, String>(3)?)?,
        started_at: match r.get::<_, Option<String>>(4)? {
            Some(s) => Some(parse_ts(&s)?),
            None => None,
        },
        source: r.get(5)?,
        stop_case_id: r.get(6)?,
        start_case_id: r.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, h, 0, 0).unwrap()
    }

    #[test]
    fn stop_then_start_closes_one_gap() {
        let s = Store::in_memory().unwrap();
        assert!(s
            .transition("t", "Audit.General", "enabled", "action", t(1), Some("c1"))
            .unwrap()
            .is_none());
        assert!(s.gaps(None).unwrap().is_empty(), "first start is not a gap");
        s.transition("t", "Audit.General", "disabled", "action", t(2), Some("c2"))
            .unwrap();
        // A second stop does not open a second gap.
        s.transition("t", "Audit.General", "disabled", "observed", t(3), None)
            .unwrap();
        let open = s.gaps(Some("t")).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].started_at, None);
        let g = s
            .transition("t", "Audit.General", "enabled", "action", t(5), Some("c3"))
            .unwrap()
            .expect("gap closed");
        assert_eq!((g.stopped_at, g.started_at), (t(2), Some(t(5))));
        assert_eq!(g.seconds(t(9)), 3 * 3600);
        assert_eq!(g.stop_case_id.as_deref(), Some("c2"));
        assert_eq!(g.start_case_id.as_deref(), Some("c3"));
        assert_eq!(s.transitions(None).unwrap().len(), 4);
        assert_eq!(
            s.last_state("t", "Audit.General")
                .unwrap()
                .unwrap()
                .to_state,
            "enabled"
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
        let rows = s.journal(10).unwrap();
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
