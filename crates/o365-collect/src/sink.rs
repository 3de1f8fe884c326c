//! Sinks and their checkpoints. Each sink keeps its own delivery progress (cursors, blobs done,
//! seen event ids) in an SQLite checkpoint database; the SQLite sink keeps it in the same file as
//! the events, so a blob's events and its acknowledgement are one transaction.

use std::collections::HashSet;
use std::fs::File;
use std::io::{IoSlice, Seek as _, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension as _};

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// SQLite: one row per event, de-duplicated by primary key.
    Sqlite(PathBuf),
    /// JSON lines: each raw event on one line; checkpoint in `PATH.checkpoint.sqlite`.
    Jsonl(PathBuf),
    /// Standard output, one raw event per line; checkpoint in the given file.
    Stdout(PathBuf),
    /// Discard events (the pipeline's limit, for benchmarks); checkpoint in memory.
    Null,
}

impl SinkSpec {
    /// Parse `sqlite:PATH`, `jsonl:PATH`, `stdout` or `null`; `stdout` keeps its checkpoint in
    /// `stdout_checkpoint`.
    pub fn parse(s: &str, stdout_checkpoint: &Path) -> Result<SinkSpec, String> {
        let t = s.trim();
        let path = |p: &str| -> Result<PathBuf, String> {
            if p.trim().is_empty() {
                Err(format!(
                    "--sink {s:?}: give a file after the colon, e.g. sqlite:events.sqlite"
                ))
            } else {
                Ok(PathBuf::from(p.trim()))
            }
        };
        match t.split_once(':') {
            Some(("sqlite", p)) => Ok(SinkSpec::Sqlite(path(p)?)),
            Some(("jsonl", p)) => Ok(SinkSpec::Jsonl(path(p)?)),
            None if t == "stdout" => Ok(SinkSpec::Stdout(stdout_checkpoint.to_owned())),
            None if t == "null" => Ok(SinkSpec::Null),
            _ => Err(format!(
                "--sink {s:?}: allowed are sqlite:PATH, jsonl:PATH, stdout and null"
            )),
        }
    }

    /// A short name for reports.
    pub fn name(&self) -> String {
        match self {
            SinkSpec::Sqlite(p) => format!("sqlite:{}", p.display()),
            SinkSpec::Jsonl(p) => format!("jsonl:{}", p.display()),
            SinkSpec::Stdout(_) => "stdout".into(),
            SinkSpec::Null => "null".into(),
        }
    }

    /// The checkpoint database of this sink (`None` for the null sink: memory).
    pub fn checkpoint_path(&self) -> Option<PathBuf> {
        match self {
            SinkSpec::Sqlite(p) => Some(p.clone()),
            SinkSpec::Jsonl(p) => {
                let mut s = p.clone().into_os_string();
                s.push(".checkpoint.sqlite");
                Some(PathBuf::from(s))
            }
            SinkSpec::Stdout(p) => Some(p.clone()),
            SinkSpec::Null => None,
        }
    }
}

/// A sink problem.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// SQLite failed.
    #[error("{path}: {source}")]
    Sql {
        /// The database.
        path: String,
        /// Why.
        source: rusqlite::Error,
    },
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

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

const EVENTS_SCHEMA: &str = "
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
-- The de-duplication key: (CreationTime, 64-bit hash of tenant and Id). CreationTime first, so
-- inserts land in the recent part of the index instead of a random page per event; a
-- re-delivered event carries the same CreationTime and Id and meets its first copy here. It also
-- serves queries by time.
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON events(creation_time, dedup);
CREATE INDEX IF NOT EXISTS events_user ON events(user_id, creation_time);
CREATE INDEX IF NOT EXISTS events_operation ON events(operation, creation_time);
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

/// A cursor and where collection began.
pub type CursorAndOrigin = (DateTime<Utc>, DateTime<Utc>);

/// A cursor move: everything of `content_type` before `cursor` is done.
#[derive(Debug, Clone)]
pub struct CursorMove {
    /// Tenant.
    pub tenant: String,
    /// Content type.
    pub content_type: &'static str,
    /// The new cursor.
    pub cursor: DateTime<Utc>,
    /// The service's clock when it moved (lag is measured on the service's clock).
    pub service_now: DateTime<Utc>,
    /// Where collection of this type began (kept from the first move; overlap never goes before).
    pub origin: DateTime<Utc>,
}

/// A fetched blob (or one that can never be fetched), ready for the sink.
#[derive(Debug)]
pub struct BlobOut {
    /// Tenant.
    pub tenant: String,
    /// Content type.
    pub content_type: &'static str,
    /// Content id.
    pub content_id: String,
    /// `contentCreated`.
    pub content_created: DateTime<Utc>,
    /// Its events.
    pub events: Vec<o365_api::SharedEvent>,
    /// Why it can never be fetched (expired, gone), if so.
    pub lost: Option<String>,
}

enum Out {
    Sqlite,
    Jsonl {
        file: File,
        path: PathBuf,
        offset: u64,
    },
    Stdout,
    Null,
}

/// A sink and its checkpoint, used from one thread.
pub struct Sink {
    conn: Connection,
    db: String,
    out: Out,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// FNV-1a (64 bits) of tenant and `Id`: the compact de-duplication key. Two different events
/// would have to share tenant, `CreationTime` second and this hash to be mistaken for each other.
fn dedup_key(tenant: &str, id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tenant.bytes().chain([0u8]).chain(id.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Write each slice followed by a newline, with vectored writes; returns the bytes written.
fn write_lines(w: &mut impl Write, lines: &[&[u8]]) -> std::io::Result<u64> {
    let mut total = 0u64;
    for group in lines.chunks(512) {
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(group.len() * 2);
        for l in group {
            slices.push(IoSlice::new(l));
            slices.push(IoSlice::new(b"\n"));
            total += l.len() as u64 + 1;
        }
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = w.write_vectored(rest)?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut rest, n);
        }
    }
    w.flush()?;
    Ok(total)
}

/// Rows per multi-row INSERT.
const ROWS_PER_STATEMENT: usize = 100;

/// `(?, ?, ?), (?, ?, ?), ...`: `rows` tuples of `cols` parameters.
fn placeholders(rows: usize, cols: usize) -> String {
    let one = format!("({})", vec!["?"; cols].join(", "));
    vec![one; rows].join(", ")
}

/// `CreationTime` as stored (`YYYY-MM-DDTHH:MM:SS`, empty when absent).
fn creation_key(e: &o365_api::SharedEvent) -> String {
    e.creation_time
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

impl Sink {
    /// Open the sink and its checkpoint; a JSONL file is cut back to its last committed length.
    pub fn open(spec: &SinkSpec) -> Result<Sink, SinkError> {
        let db = spec
            .checkpoint_path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| ":memory:".into());
        let sql = |source| SinkError::Sql {
            path: db.clone(),
            source,
        };
        let conn = match spec.checkpoint_path() {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| SinkError::Io {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                Connection::open(&p).map_err(sql)?
            }
            None => Connection::open_in_memory().map_err(sql)?,
        };
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sql)?;
        // Big pages for the event rows (one write per 64 KiB rather than per 4 KiB); small ones
        // for a checkpoint of small rows. Set before the file has tables.
        let page = if matches!(spec, SinkSpec::Sqlite(_)) {
            65536
        } else {
            4096
        };
        conn.pragma_update(None, "page_size", page).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        // A committed blob survives a crash of this process or of the machine.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        // 16 MiB of page cache; checkpoint the WAL every 32 MiB.
        conn.pragma_update(None, "cache_size", -16384)
            .map_err(sql)?;
        conn.pragma_update(None, "wal_autocheckpoint", 512)
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        let out = match spec {
            SinkSpec::Sqlite(_) => {
                conn.execute_batch(EVENTS_SCHEMA).map_err(sql)?;
                Out::Sqlite
            }
            SinkSpec::Jsonl(path) => {
                conn.execute_batch(SEEN_SCHEMA).map_err(sql)?;
                let committed: u64 = conn
                    .query_row("SELECT offset FROM collect_offset WHERE id = 1", [], |r| {
                        r.get::<_, i64>(0)
                    })
                    .optional()
                    .map_err(sql)?
                    .unwrap_or(0)
                    .max(0) as u64;
                let io = |source| SinkError::Io {
                    path: path.display().to_string(),
                    source,
                };
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(io)?;
                // One writer per file: a second collector appending here would interleave lines.
                if f.try_lock().is_err() {
                    return Err(SinkError::Io {
                        path: path.display().to_string(),
                        source: std::io::Error::other(
                            "another collector is writing to this file; stop it first or use another --sink",
                        ),
                    });
                }
                let len = f.metadata().map_err(io)?.len();
                if len > committed {
                    tracing::info!(path = %path.display(), len, committed, "cutting uncommitted lines from the JSONL file");
                    f.set_len(committed).map_err(io)?;
                }
                let offset = len.min(committed);
                f.seek(SeekFrom::Start(offset)).map_err(io)?;
                Out::Jsonl {
                    file: f,
                    path: path.clone(),
                    offset,
                }
            }
            SinkSpec::Stdout(_) => {
                conn.execute_batch(SEEN_SCHEMA).map_err(sql)?;
                Out::Stdout
            }
            SinkSpec::Null => Out::Null,
        };
        Ok(Sink { conn, db, out })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> SinkError + '_ {
        move |source| SinkError::Sql {
            path: self.db.clone(),
            source,
        }
    }

    /// The cursor of a content type, if any.
    pub fn cursor(&self, tenant: &str, ct: &str) -> Result<Option<DateTime<Utc>>, SinkError> {
        Ok(self.cursor_and_origin(tenant, ct)?.map(|(c, _)| c))
    }

    /// The cursor of a content type and where its collection began.
    pub fn cursor_and_origin(
        &self,
        tenant: &str,
        ct: &str,
    ) -> Result<Option<CursorAndOrigin>, SinkError> {
        let s: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT cursor, origin FROM collect_cursors WHERE tenant = ?1 AND content_type = ?2",
                params![tenant, ct],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.sql())?;
        let p = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        Ok(s.and_then(|(c, o)| Some((p(&c)?, p(&o)?))))
    }

    /// Content ids already done for a content type with `contentCreated >= since`.
    pub fn done_since(
        &self,
        tenant: &str,
        ct: &str,
        since: DateTime<Utc>,
    ) -> Result<HashSet<String>, SinkError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT content_id FROM collect_blobs WHERE tenant = ?1 AND content_type = ?2 AND content_created >= ?3",
            )
            .map_err(self.sql())?;
        let rows = st
            .query_map(params![tenant, ct, ts(since)], |r| r.get::<_, String>(0))
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Write blobs, their acknowledgements and cursor moves: durable when this returns. Returns
    /// the events written per blob (the rest were duplicates).
    pub fn write(
        &mut self,
        blobs: &[BlobOut],
        cursors: &[CursorMove],
    ) -> Result<Vec<u64>, SinkError> {
        let now = Utc::now();
        let db = self.db.clone();
        let sql = |source| SinkError::Sql {
            path: db.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let mut written_per_blob = Vec::with_capacity(blobs.len());
        match &mut self.out {
            Out::Sqlite => {
                // Multi-row statements: far less per-row overhead than one statement per event.
                for b in blobs {
                    let mut w = 0;
                    for chunk in b.events.chunks(ROWS_PER_STATEMENT) {
                        let sql_text = format!(
                            "INSERT OR IGNORE INTO events (tenant, id, content_type, creation_time, record_type, operation, workload, user_id, content_id, raw, dedup) VALUES {}",
                            placeholders(chunk.len(), 11)
                        );
                        let mut st = tx.prepare_cached(&sql_text).map_err(sql)?;
                        let mut k = 1;
                        for e in chunk {
                            let bind = &mut |v: &dyn rusqlite::ToSql| -> Result<(), SinkError> {
                                st.raw_bind_parameter(k, v).map_err(sql)?;
                                k += 1;
                                Ok(())
                            };
                            bind(&b.tenant)?;
                            bind(&e.id())?;
                            bind(&b.content_type)?;
                            bind(&creation_key(e))?;
                            bind(&e.record_type)?;
                            bind(&e.operation())?;
                            bind(&e.workload())?;
                            bind(&e.user_id())?;
                            bind(&b.content_id)?;
                            bind(&e.raw_str())?;
                            bind(&dedup_key(&b.tenant, e.id()))?;
                        }
                        w += st.raw_execute().map_err(sql)? as u64;
                    }
                    written_per_blob.push(w);
                }
            }
            Out::Jsonl { .. } | Out::Stdout => {
                let epoch = now.timestamp();
                let mut picked: Vec<&[u8]> = Vec::new();
                let mut fresh: std::collections::HashSet<(i64, i64)> =
                    std::collections::HashSet::new();
                for b in blobs {
                    let mut w = 0;
                    for chunk in b.events.chunks(ROWS_PER_STATEMENT) {
                        let keys: Vec<(i64, i64)> = chunk
                            .iter()
                            .map(|e| {
                                (
                                    e.creation_time
                                        .map(|t| t.and_utc().timestamp())
                                        .unwrap_or(0),
                                    dedup_key(&b.tenant, e.id()),
                                )
                            })
                            .collect();
                        let sql_text = format!(
                            "INSERT OR IGNORE INTO collect_seen (creation_time, dedup, seen_at) VALUES {} RETURNING creation_time, dedup",
                            placeholders(chunk.len(), 3)
                        );
                        let mut st = tx.prepare_cached(&sql_text).map_err(sql)?;
                        for (i, (c, d)) in keys.iter().enumerate() {
                            st.raw_bind_parameter(3 * i + 1, c).map_err(sql)?;
                            st.raw_bind_parameter(3 * i + 2, d).map_err(sql)?;
                            st.raw_bind_parameter(3 * i + 3, epoch).map_err(sql)?;
                        }
                        // Only rows really inserted come back: those are first sightings.
                        fresh.clear();
                        let mut rows = st.raw_query();
                        while let Some(r) = rows.next().map_err(sql)? {
                            fresh.insert((r.get(0).map_err(sql)?, r.get(1).map_err(sql)?));
                        }
                        for (e, key) in chunk.iter().zip(&keys) {
                            // `remove`: a second copy inside the same blob is a duplicate too.
                            if fresh.remove(key) {
                                picked.push(&e.raw);
                                w += 1;
                            }
                        }
                    }
                    written_per_blob.push(w);
                }
                match &mut self.out {
                    Out::Jsonl { file, path, offset } => {
                        let io = |source| SinkError::Io {
                            path: path.display().to_string(),
                            source,
                        };
                        // Straight from the response buffers to the file: no copy in between.
                        let n = write_lines(file, &picked).map_err(io)?;
                        file.sync_data().map_err(io)?;
                        *offset += n;
                        tx.execute(
                            "INSERT INTO collect_offset (id, offset) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET offset = excluded.offset",
                            [*offset as i64],
                        )
                        .map_err(sql)?;
                    }
                    _ => {
                        let mut out = std::io::stdout().lock();
                        write_lines(&mut out, &picked)
                            .and_then(|_| out.flush())
                            .map_err(|source| SinkError::Io {
                                path: "stdout".into(),
                                source,
                            })?;
                    }
                }
            }
            Out::Null => {
                written_per_blob.extend(blobs.iter().map(|b| b.events.len() as u64));
            }
        }
        {
            let mut ack = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO collect_blobs (tenant, content_id, content_type, content_created, events, written, lost, done_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(sql)?;
            for (b, w) in blobs.iter().zip(&written_per_blob) {
                ack.execute(params![
                    b.tenant,
                    b.content_id,
                    b.content_type,
                    ts(b.content_created),
                    b.events.len() as i64,
                    *w as i64,
                    b.lost,
                    ts(now)
                ])
                .map_err(sql)?;
            }
            let mut cur = tx
                .prepare_cached(
                    "INSERT INTO collect_cursors (tenant, content_type, cursor, updated_at, service_now, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(tenant, content_type) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at,
                        service_now = excluded.service_now",
                )
                .map_err(sql)?;
            for c in cursors {
                cur.execute(params![
                    c.tenant,
                    c.content_type,
                    ts(c.cursor),
                    ts(now),
                    ts(c.service_now),
                    ts(c.origin)
                ])
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(written_per_blob)
    }

    /// Record content that can no longer be listed (older than the retention limit).
    pub fn record_gap(
        &mut self,
        tenant: &str,
        ct: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), SinkError> {
        self.conn
            .execute(
                "INSERT INTO collect_gaps (tenant, content_type, start, end, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![tenant, ct, ts(start), ts(end), reason],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// Forget what can never be listed again: blobs, and (at most hourly) seen ids older than
    /// `older_than`.
    pub fn prune(&mut self, older_than: DateTime<Utc>) -> Result<(), SinkError> {
        self.conn
            .execute(
                "DELETE FROM collect_blobs WHERE content_created < ?1",
                [ts(older_than)],
            )
            .map_err(self.sql())?;
        if matches!(self.out, Out::Jsonl { .. } | Out::Stdout) {
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
        }
        Ok(())
    }

    /// Cursors, blob counts and event counts per content type, for `collect status`.
    pub fn status(&self, tenant: &str) -> Result<Vec<TypeStatus>, SinkError> {
        let mut out = Vec::new();
        for ct in o365_api::ContentType::ALL {
            let cursor = self.cursor(tenant, ct.as_str())?;
            let lag: Option<(String, String)> = self
                .conn
                .query_row(
                    "SELECT updated_at, service_now FROM collect_cursors WHERE tenant = ?1 AND content_type = ?2",
                    params![tenant, ct.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(self.sql())?;
            let parse = |s: &str| {
                DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            };
            // Service time now = its time at the last move + local time since.
            let lag_seconds = match (cursor, lag) {
                (Some(c), Some((upd, svc))) => match (parse(&upd), parse(&svc)) {
                    (Some(u), Some(sv)) => Some((sv + (Utc::now() - u) - c).num_seconds()),
                    _ => None,
                },
                _ => None,
            };
            let (blobs, events, written, lost): (i64, i64, i64, i64) = self
                .conn
                .query_row(
                    "SELECT count(*), coalesce(sum(events), 0), coalesce(sum(written), 0), count(lost)
                     FROM collect_blobs WHERE tenant = ?1 AND content_type = ?2",
                    params![tenant, ct.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .map_err(self.sql())?;
            let mut gaps = Vec::new();
            let mut st = self
                .conn
                .prepare_cached("SELECT start, end, reason FROM collect_gaps WHERE tenant = ?1 AND content_type = ?2 ORDER BY start")
                .map_err(self.sql())?;
            let rows = st
                .query_map(params![tenant, ct.as_str()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(self.sql())?;
            for g in rows {
                gaps.push(g.map_err(self.sql())?);
            }
            out.push(TypeStatus {
                content_type: ct.as_str(),
                cursor,
                lag_seconds,
                blobs_done: blobs as u64,
                events_seen: events as u64,
                events_written: written as u64,
                blobs_lost: lost as u64,
                retention_gaps: gaps,
            });
        }
        Ok(out)
    }
}

/// Progress of one content type in one sink.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TypeStatus {
    /// Content type.
    pub content_type: &'static str,
    /// Everything with `contentCreated` before this is done.
    pub cursor: Option<DateTime<Utc>>,
    /// How far the cursor is behind the service's clock now.
    pub lag_seconds: Option<i64>,
    /// Blobs done (kept for 8 days).
    pub blobs_done: u64,
    /// Events in those blobs.
    pub events_seen: u64,
    /// Events written (the rest were duplicates).
    pub events_written: u64,
    /// Blobs that could not be fetched any more (expired or gone).
    pub blobs_lost: u64,
    /// Ranges that could not be listed any more: (start, end, reason).
    pub retention_gaps: Vec<(String, String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_specs_parse_and_name_their_checkpoints() {
        let cp = Path::new("/s/stdout.sqlite");
        assert_eq!(
            SinkSpec::parse("sqlite:a.db", cp).unwrap(),
            SinkSpec::Sqlite("a.db".into())
        );
        let j = SinkSpec::parse("jsonl:/x/e.jsonl", cp).unwrap();
        assert_eq!(
            j.checkpoint_path().unwrap(),
            PathBuf::from("/x/e.jsonl.checkpoint.sqlite")
        );
        assert_eq!(
            SinkSpec::parse("stdout", cp)
                .unwrap()
                .checkpoint_path()
                .unwrap(),
            cp
        );
        assert_eq!(SinkSpec::parse("null", cp).unwrap().checkpoint_path(), None);
        for bad in ["sqlite:", "kafka:x", "file.jsonl"] {
            let e = SinkSpec::parse(bad, cp).unwrap_err();
            assert!(
                e.contains("sqlite:PATH") || e.contains("give a file"),
                "{e}"
            );
        }
    }

    #[test]
    fn one_writer_per_jsonl_file() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SinkSpec::Jsonl(dir.path().join("e.jsonl"));
        let first = Sink::open(&spec).unwrap();
        let err = Sink::open(&spec)
            .err()
            .expect("second writer refused")
            .to_string();
        assert!(err.contains("another collector"), "{err}");
        drop(first);
        Sink::open(&spec).expect("free again once the first is closed");
    }
}
