//! SQLite: one row per event in the same file as the checkpoint, so events and their blob's
//! acknowledgement commit together; de-duplicated by a unique index.

#[cfg(test)]
mod fixture;
mod layout;
mod upgrade;

use std::path::PathBuf;

pub(crate) use layout::EventLayout;
use layout::Rows;
pub use upgrade::Upgrade;

use crate::checkpoint::{self, Checkpoint};
use crate::local::Local;
use crate::sinks::{path_after, Sink, SinkError, SinkKind, SinkSpec, SpecContext, TypeStatus};
use crate::status::status_at;

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
        let cp = Checkpoint::open(Some(&self.path), checkpoint::Layout::WithEvents, "")?;
        let layout = EventLayout::settle(&cp.conn).map_err(cp.sql())?;
        if layout == EventLayout::Wide {
            tracing::info!(
                path = %self.path.display(),
                "events kept in the layout of the version that made this file (one wide table); `o365mgmt collect upgrade --sink sqlite:PATH` rewrites them in the current one, about a quarter less CPU per event"
            );
        }
        Ok(Box::new(Local::new(cp, Rows(layout))))
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
    fn upgrade(&self) -> Result<Upgrade, SinkError> {
        upgrade::upgrade(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{BlobOut, SinkError};
    use crate::local::EventWriter as _;

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
        let mut cp = Checkpoint::open(Some(&path), checkpoint::Layout::WithEvents, "").unwrap();
        let mut rows = Rows(EventLayout::settle(&cp.conn).unwrap());
        cp.stage(&[blob("a", 3)], |tx, b| rows.write(tx, b))
            .unwrap();
        let failed = cp.commit(&[blob("b", 2)], &[], |_, _| {
            Err(SinkError::Bus("refused".into()))
        });
        assert!(failed.is_err());
        assert_eq!(counts(&path), (0, 0));
        // The checkpoint goes on: a later commit stands alone.
        cp.commit(&[blob("b", 2)], &[], |tx, b| rows.write(tx, b))
            .unwrap();
        assert_eq!(counts(&path), (2, 1));
    }
}
