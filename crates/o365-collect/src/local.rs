//! Sinks whose checkpoint is a local SQLite file: the sink writes events inside the
//! checkpoint's transaction; resuming, gaps and pruning are the checkpoint's.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use o365_api::ContentType;

use crate::checkpoint::{Checkpoint, Tx};
use crate::sinks::{BlobOut, Committed, CursorMove, Resume, RetentionGap, Sink, SinkError};

/// Writes events inside a checkpoint transaction.
pub trait EventWriter: Send {
    /// Write the events of `blobs`; returns the events written per blob (the rest were
    /// duplicates). Nothing is durable until the transaction commits.
    fn write(&mut self, tx: &Tx<'_>, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError>;
    /// Whether its events may be written ahead of the commit (rows in the checkpoint's own
    /// file may; lines in another file may not: they would be out before their commit).
    fn stages(&self) -> bool {
        false
    }
}

/// A sink made of a local checkpoint and an event writer.
pub struct Local<W> {
    checkpoint: Checkpoint,
    events: W,
}

impl<W: EventWriter> Local<W> {
    /// Join a checkpoint and an event writer.
    pub fn new(checkpoint: Checkpoint, events: W) -> Self {
        Self { checkpoint, events }
    }
}

impl<W: EventWriter> Sink for Local<W> {
    fn resume(&mut self, tenant: &str, ct: ContentType) -> Result<Option<Resume>, SinkError> {
        self.checkpoint.resume(tenant, ct)
    }

    fn done_since(
        &mut self,
        tenant: &str,
        ct: ContentType,
        since: DateTime<Utc>,
    ) -> Result<HashSet<String>, SinkError> {
        self.checkpoint.done_since(tenant, ct, since)
    }

    fn commit(
        &mut self,
        blobs: &[BlobOut],
        cursors: &[CursorMove],
    ) -> Result<Committed, SinkError> {
        let events = &mut self.events;
        self.checkpoint
            .commit(blobs, cursors, |tx, b| events.write(tx, b))
            .map(Committed::all)
    }

    fn stages(&self) -> bool {
        self.events.stages()
    }

    fn stage(&mut self, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError> {
        let events = &mut self.events;
        self.checkpoint.stage(blobs, |tx, b| events.write(tx, b))
    }

    fn record_gap(&mut self, gap: &RetentionGap) -> Result<(), SinkError> {
        self.checkpoint.record_gap(gap)
    }

    fn prune(&mut self, older_than: DateTime<Utc>) -> Result<(), SinkError> {
        self.checkpoint.prune(older_than)
    }
}
