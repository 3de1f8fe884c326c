//! SQLite: one row per event in the same file as the checkpoint, so events and their blob's
//! acknowledgement commit together; de-duplicated by a unique index.

use std::path::PathBuf;

use crate::checkpoint::{placeholders, Checkpoint, Layout, Tx, ROWS_PER_STATEMENT};
use crate::local::{EventWriter, Local};
use crate::sinks::{
    path_after, BlobOut, Sink, SinkError, SinkKind, SinkSpec, SpecContext, TypeStatus,
};
use crate::status::status_at;

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

/// `sqlite:PATH`.
#[derive(Debug, Clone)]
pub struct SqliteKind {
    path: PathBuf,
}

impl SqliteKind {
    /// Events and checkpoint in `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

/// Parse `sqlite:PATH`.
pub fn parse(rest: Option<&str>, _: &SpecContext) -> Result<SinkSpec, String> {
    Ok(SinkSpec::new(SqliteKind::new(path_after(
        rest,
        "sqlite:events.sqlite",
    )?)))
}

/// `CreationTime` as stored (`YYYY-MM-DDTHH:MM:SS`, empty when absent), written into `out`.
fn creation_key<'a>(e: &o365_api::SharedEvent, out: &'a mut String) -> &'a str {
    out.clear();
    if let Some(t) = &e.creation_time {
        o365_api::seconds::push_seconds(t, out);
    }
    out
}

struct Rows;

impl EventWriter for Rows {
    fn write(&mut self, tx: &Tx<'_>, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError> {
        let sql = tx.sql();
        let mut written_per_blob = Vec::with_capacity(blobs.len());
        // SQLite copies bound text, so one buffer serves every row.
        let mut time = String::with_capacity(19);
        // Multi-row statements: far less per-row overhead than one statement per event.
        for b in blobs {
            let hash = crate::key::TenantHash::new(&b.tenant);
            let mut w = 0;
            for chunk in b.events.chunks(ROWS_PER_STATEMENT) {
                let text = format!(
                    "INSERT OR IGNORE INTO events (tenant, id, content_type, creation_time, record_type, operation, workload, user_id, content_id, raw, dedup) VALUES {}",
                    placeholders(chunk.len(), 11)
                );
                let mut st = tx.tx.prepare_cached(&text).map_err(&sql)?;
                let mut k = 1;
                for e in chunk {
                    let bind = &mut |v: &dyn rusqlite::ToSql| -> Result<(), SinkError> {
                        st.raw_bind_parameter(k, v).map_err(&sql)?;
                        k += 1;
                        Ok(())
                    };
                    bind(&b.tenant)?;
                    bind(&e.id())?;
                    bind(&b.content_type.as_str())?;
                    bind(&creation_key(e, &mut time))?;
                    bind(&e.record_type)?;
                    bind(&e.operation())?;
                    bind(&e.workload())?;
                    bind(&e.user_id())?;
                    bind(&b.content_id)?;
                    // Text as it came: its UTF-8 was checked when the blob was decoded.
                    bind(&rusqlite::types::ToSqlOutput::Borrowed(
                        rusqlite::types::ValueRef::Text(&e.raw),
                    ))?;
                    bind(&hash.dedup_key(e.id()))?;
                }
                w += st.raw_execute().map_err(&sql)? as u64;
            }
            written_per_blob.push(w);
        }
        Ok(written_per_blob)
    }

    fn stages(&self) -> bool {
        true
    }
}

impl SinkKind for SqliteKind {
    fn name(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
    fn check(&self) -> Result<(), SinkError> {
        o365_store::files::check_regular("the SQLite sink", &self.path)
            .and_then(|()| o365_store::files::create_private_file(&self.path))
            .map_err(|e| SinkError::io(&self.path, e))
    }
    fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        let cp = Checkpoint::open(Some(&self.path), Layout::WithEvents, EVENTS_SCHEMA)?;
        Ok(Box::new(Local::new(cp, Rows)))
    }
    fn status(&self, tenant: &str) -> Result<Option<Vec<TypeStatus>>, SinkError> {
        status_at(&self.path, tenant)
    }
    fn checkpoint_path(&self) -> Option<PathBuf> {
        Some(self.path.clone())
    }
    fn remembered(&self) -> Option<String> {
        let p = std::path::absolute(&self.path).ok()?;
        Some(format!("sqlite:{}", p.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{BlobOut, SinkError};

    fn blob(id: &str, events: usize) -> BlobOut {
        let body: Vec<String> = (0..events)
            .map(|i| {
                format!(
                    r#"{{"Id":"{id}-{i}","CreationTime":"2026-12-04T10:00:0{}"}}"#,
                    i % 10
                )
            })
            .collect();
        BlobOut {
            tenant: "t".into(),
            content_type: o365_api::ContentType::Exchange,
            content_id: id.into(),
            content_created: chrono::Utc::now(),
            events: o365_api::event::decode_blob_shared(
                format!("[{}]", body.join(",")).into_bytes().into(),
            )
            .unwrap(),
            lost: None,
        }
    }

    fn counts(path: &std::path::Path) -> (i64, i64) {
        let c = rusqlite::Connection::open(path).unwrap();
        let n = |q: &str| c.query_row(q, [], |r| r.get::<_, i64>(0)).unwrap();
        (
            n("SELECT count(*) FROM events"),
            n("SELECT count(*) FROM collect_blobs"),
        )
    }

    #[test]
    fn staged_blobs_are_durable_with_the_next_commit_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.sqlite");
        let kind = SqliteKind::new(path.clone());
        let mut sink = kind.open().unwrap();
        assert!(sink.stages());
        assert_eq!(sink.stage(&[blob("a", 3), blob("b", 2)]).unwrap(), [3, 2]);
        // The same events again in the same transaction: duplicates.
        assert_eq!(sink.stage(&[blob("a", 3)]).unwrap(), [0]);
        // Not durable yet: another connection sees nothing.
        assert_eq!(counts(&path), (0, 0));
        let done = sink.commit(&[blob("c", 4)], &[]).unwrap();
        assert_eq!(done.written, [4]);
        assert_eq!(counts(&path), (9, 3));
        // Staged, then the sink is gone without a commit: nothing of it remains.
        sink.stage(&[blob("d", 5)]).unwrap();
        drop(sink);
        assert_eq!(counts(&path), (9, 3));
        let mut sink = kind.open().unwrap();
        assert_eq!(sink.commit(&[blob("d", 5)], &[]).unwrap().written, [5]);
        assert_eq!(counts(&path), (14, 4));
    }

    #[test]
    fn a_failed_commit_takes_the_staged_blobs_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.sqlite");
        let mut cp = Checkpoint::open(Some(&path), Layout::WithEvents, EVENTS_SCHEMA).unwrap();
        cp.stage(&[blob("a", 3)], |tx, b| Rows.write(tx, b))
            .unwrap();
        let failed = cp.commit(&[blob("b", 2)], &[], |_, _| {
            Err(SinkError::Bus("refused".into()))
        });
        assert!(failed.is_err());
        assert_eq!(counts(&path), (0, 0));
        // The checkpoint goes on: a later commit stands alone.
        cp.commit(&[blob("b", 2)], &[], |tx, b| Rows.write(tx, b))
            .unwrap();
        assert_eq!(counts(&path), (2, 1));
    }
}
