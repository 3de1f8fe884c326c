//! The local checkpoint: per (tenant, type) cursors and where collection began, blobs done,
//! retention gaps, seen event ids (for sinks that cannot de-duplicate themselves) and the JSONL
//! committed length, in one SQLite file. Sinks write their events inside its transaction, so a
//! blob's events and its acknowledgement are durable together.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use o365_api::ContentType;
use rusqlite::{params, Connection, OptionalExtension as _};

use crate::blob::{BlobOut, CursorMove, Resume, RetentionGap, SinkError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS collect_cursors (
    tenant TEXT NOT NULL,
    content_type TEXT NOT NULL,
    cursor TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    service_now TEXT NOT NULL,
    origin TEXT NOT NULL,
    PRIMARY KEY (tenant, content_type)
);
CREATE TABLE IF NOT EXISTS collect_blobs (
    tenant TEXT NOT NULL,
    content_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content_created TEXT NOT NULL,
    events INTEGER NOT NULL,
    written INTEGER NOT NULL,
    lost TEXT,
    done_at TEXT NOT NULL,
    PRIMARY KEY (tenant, content_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS collect_blobs_created ON collect_blobs(tenant, content_type, content_created);
CREATE TABLE IF NOT EXISTS collect_offset (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS collect_gaps (
    tenant TEXT NOT NULL,
    content_type TEXT NOT NULL,
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    reason TEXT NOT NULL
);
";

const SEEN_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS collect_seen (
    creation_time INTEGER NOT NULL,
    dedup INTEGER NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (creation_time, dedup)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS collect_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// Rows per multi-row INSERT.
pub(crate) const ROWS_PER_STATEMENT: usize = 100;

/// `(?, ?, ?), (?, ?, ?), ...`: `rows` tuples of `cols` parameters.
pub(crate) fn placeholders(rows: usize, cols: usize) -> String {
    let one = format!("({})", vec!["?"; cols].join(", "));
    vec![one; rows].join(", ")
}

pub use crate::key::{dedup_key, event_key};
pub(crate) use crate::key::{parse_ts, ts};

pub use crate::tx::Tx;

/// How a checkpoint is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// With the event rows of the SQLite sink: big pages.
    WithEvents,
    /// With the seen-id table, for sinks that cannot de-duplicate themselves.
    WithSeen,
}

/// The checkpoint database, used from one thread.
pub struct Checkpoint {
    pub(crate) conn: Connection,
    db: String,
    seen: bool,
    /// Whether a transaction holds staged blobs, waiting for [`Checkpoint::commit`].
    open: bool,
}

impl Checkpoint {
    /// Open (or create, private to the user) the checkpoint at `path`; `None` keeps it in
    /// memory. `extra` is the sink's own schema.
    pub fn open(path: Option<&Path>, layout: Layout, extra: &str) -> Result<Self, SinkError> {
        let db = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| ":memory:".into());
        let sql = |source| SinkError::Sql {
            path: db.clone(),
            source,
        };
        let conn = match path {
            Some(p) => {
                o365_store::files::check_regular("the checkpoint", p)
                    .and_then(|()| o365_store::files::create_private_file(p))
                    .map_err(|e| SinkError::io(p, e))?;
                Connection::open(p).map_err(sql)?
            }
            None => Connection::open_in_memory().map_err(sql)?,
        };
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sql)?;
        // Pages of 16 KiB for the event rows, 4 KiB for a checkpoint of small rows (set before
        // the file has tables). With the event rows the WAL is copied into the database every
        // 128 MiB rather than every 2: an index page changed by several commits in between is
        // copied once. Measured side by side against 64 KiB pages and 32 MiB: 11 % less CPU
        // into SQLite (docs/benchmarks.md).
        let (page, checkpoint_bytes) = match layout {
            Layout::WithEvents => (16384, 128 << 20),
            Layout::WithSeen => (4096, 2 << 20),
        };
        conn.pragma_update(None, "page_size", page).map_err(sql)?;
        // A file made by an earlier version keeps its pages (64 KiB for the event rows).
        let page: i64 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        // A committed blob survives a crash of this process or of the machine.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        // 16 MiB of page cache.
        conn.pragma_update(None, "cache_size", -16384)
            .map_err(sql)?;
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint_bytes / page.max(512))
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        let seen = layout == Layout::WithSeen;
        if seen {
            conn.execute_batch(SEEN_SCHEMA).map_err(sql)?;
        }
        conn.execute_batch(extra).map_err(sql)?;
        Ok(Self {
            conn,
            db,
            seen,
            open: false,
        })
    }

    /// Open an existing checkpoint without writing anything to it; `None` when there is none.
    pub fn open_read_only(path: &Path) -> Result<Option<Self>, SinkError> {
        o365_store::files::check_regular("the checkpoint", path)
            .map_err(|e| SinkError::io(path, e))?;
        if !path.exists() {
            return Ok(None);
        }
        let db = path.display().to_string();
        let sql = |source| SinkError::Sql {
            path: db.clone(),
            source,
        };
        let conn = o365_store::files::open_sqlite_read_only(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        let has: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'collect_cursors'",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if has == 0 {
            return Ok(None);
        }
        Ok(Some(Self {
            conn,
            db,
            seen: false,
            open: false,
        }))
    }

    /// The error maker for this database.
    pub(crate) fn sql(&self) -> impl Fn(rusqlite::Error) -> SinkError + '_ {
        move |source| SinkError::Sql {
            path: self.db.clone(),
            source,
        }
    }

    /// Where collection of a type stands.
    pub fn resume(&self, tenant: &str, ct: ContentType) -> Result<Option<Resume>, SinkError> {
        let s: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT cursor, origin FROM collect_cursors WHERE tenant = ?1 AND content_type = ?2",
                params![tenant, ct.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.sql())?;
        Ok(s.and_then(|(c, o)| {
            Some(Resume {
                cursor: parse_ts(&c)?,
                origin: parse_ts(&o)?,
            })
        }))
    }

    /// Content ids already done for a content type with `contentCreated >= since`.
    pub fn done_since(
        &self,
        tenant: &str,
        ct: ContentType,
        since: DateTime<Utc>,
    ) -> Result<HashSet<String>, SinkError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT content_id FROM collect_blobs WHERE tenant = ?1 AND content_type = ?2 AND content_created >= ?3",
            )
            .map_err(self.sql())?;
        let rows = st
            .query_map(params![tenant, ct.as_str(), ts(since)], |r| {
                r.get::<_, String>(0)
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// One transaction: `write` puts the events of `blobs` into the sink (returning the events
    /// written per blob), then the blobs' acknowledgements and the cursor moves are added, and
    /// all of it commits at once, with whatever [`Checkpoint::stage`] wrote before it.
    pub fn commit(
        &mut self,
        blobs: &[BlobOut],
        cursors: &[CursorMove],
        write: impl FnOnce(&Tx<'_>, &[BlobOut]) -> Result<Vec<u64>, SinkError>,
    ) -> Result<Vec<u64>, SinkError> {
        self.within(|cp| {
            let written = cp.write_blobs(blobs, write)?;
            cp.move_cursors(cursors)?;
            cp.conn.execute_batch("COMMIT").map_err(cp.sql())?;
            cp.open = false;
            Ok(written)
        })
    }

    /// Write `blobs` (their events and acknowledgements) into the transaction the next
    /// [`Checkpoint::commit`] makes durable; nothing is durable before it. The events written
    /// per blob.
    pub fn stage(
        &mut self,
        blobs: &[BlobOut],
        write: impl FnOnce(&Tx<'_>, &[BlobOut]) -> Result<Vec<u64>, SinkError>,
    ) -> Result<Vec<u64>, SinkError> {
        self.within(|cp| cp.write_blobs(blobs, write))
    }

    /// Run `f` in the open transaction (begun if none is); on failure everything since its
    /// beginning is rolled back.
    fn within<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, SinkError>,
    ) -> Result<T, SinkError> {
        if !self.open {
            self.conn.execute_batch("BEGIN").map_err(self.sql())?;
            self.open = true;
        }
        let r = f(self);
        if r.is_err() && self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.open = false;
        }
        r
    }

    /// The events of `blobs` through `write`, then the blobs' acknowledgements.
    fn write_blobs(
        &self,
        blobs: &[BlobOut],
        write: impl FnOnce(&Tx<'_>, &[BlobOut]) -> Result<Vec<u64>, SinkError>,
    ) -> Result<Vec<u64>, SinkError> {
        let now = ts(Utc::now());
        let sql = self.sql();
        let written = write(
            &Tx {
                tx: &self.conn,
                db: &self.db,
            },
            blobs,
        )?;
        let mut ack = self
            .conn
            .prepare_cached(
                "INSERT OR REPLACE INTO collect_blobs (tenant, content_id, content_type, content_created, events, written, lost, done_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(&sql)?;
        for (b, w) in blobs.iter().zip(&written) {
            ack.execute(params![
                b.tenant,
                b.content_id,
                b.content_type.as_str(),
                ts(b.content_created),
                b.events.len() as i64,
                *w as i64,
                b.lost,
                now
            ])
            .map_err(&sql)?;
        }
        Ok(written)
    }

    /// The cursor moves, in the open transaction.
    fn move_cursors(&self, cursors: &[CursorMove]) -> Result<(), SinkError> {
        let now = ts(Utc::now());
        let sql = self.sql();
        let mut cur = self
            .conn
            .prepare_cached(
                "INSERT INTO collect_cursors (tenant, content_type, cursor, updated_at, service_now, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(tenant, content_type) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at,
                    service_now = excluded.service_now",
            )
            .map_err(&sql)?;
        for c in cursors {
            cur.execute(params![
                c.tenant,
                c.content_type.as_str(),
                ts(c.cursor),
                now,
                ts(c.service_now),
                ts(c.origin)
            ])
            .map_err(&sql)?;
        }
        Ok(())
    }

    /// The tenants this checkpoint knows (their cursors or blobs).
    pub fn tenants(&self) -> Result<Vec<String>, SinkError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT tenant FROM collect_cursors UNION SELECT tenant FROM collect_blobs ORDER BY 1",
            )
            .map_err(self.sql())?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// The committed length of the JSONL file.
    pub fn offset(&self) -> Result<u64, SinkError> {
        Ok(self
            .conn
            .query_row("SELECT offset FROM collect_offset WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map_err(self.sql())?
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// Record content that can no longer be listed.
    pub fn record_gap(&mut self, g: &RetentionGap) -> Result<(), SinkError> {
        self.conn
            .execute(
                "INSERT INTO collect_gaps (tenant, content_type, start, end, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![g.tenant, g.content_type.as_str(), ts(g.start), ts(g.end), "older than the 7-day retention"],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// Forget what can never be listed again: blobs, and (at most hourly) seen ids older than
    /// `older_than`.
    pub fn prune(&mut self, older_than: DateTime<Utc>) -> Result<(), SinkError> {
        self.conn
            .execute(
                // A backfill's finished windows are kept: a window recorded is never asked
                // again.
                "DELETE FROM collect_blobs WHERE content_created < ?1 AND content_id NOT LIKE 'backfill:%'",
                [ts(older_than)],
            )
            .map_err(self.sql())?;
        if !self.seen {
            return Ok(());
        }
        let now = Utc::now().timestamp();
        let last: i64 = self
            .conn
            .query_row(
                "SELECT value FROM collect_meta WHERE key = 'pruned_at'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(self.sql())?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if now - last >= 3600 {
            // A full scan, kept off the per-event path (no index on seen_at).
            self.conn
                .execute(
                    "DELETE FROM collect_seen WHERE seen_at < ?1",
                    [older_than.timestamp()],
                )
                .map_err(self.sql())?;
            self.conn
                .execute(
                    "INSERT OR REPLACE INTO collect_meta (key, value) VALUES ('pruned_at', ?1)",
                    [now.to_string()],
                )
                .map_err(self.sql())?;
        }
        Ok(())
    }
}

/// A checkpoint path next to a sink's file: `PATH.checkpoint.sqlite`.
pub fn beside(path: &Path) -> PathBuf {
    let mut s = path.to_path_buf().into_os_string();
    s.push(".checkpoint.sqlite");
    PathBuf::from(s)
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
