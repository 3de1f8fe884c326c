//! Standard output: one raw event per line, de-duplicated through a local checkpoint. After a
//! crash the last group may be written again (standard output cannot be cut back).

use std::io::Write as _;
use std::path::PathBuf;

use crate::checkpoint::{Checkpoint, Layout, Tx};
use crate::local::{EventWriter, Local};
use crate::sinks::jsonl::write_lines;
use crate::sinks::{BlobOut, Sink, SinkError, SinkKind, SinkSpec, SpecContext, TypeStatus};
use crate::status::status_at;

/// `stdout`, with its checkpoint file.
#[derive(Debug, Clone)]
pub struct StdoutSink {
    checkpoint: PathBuf,
}

/// Parse `stdout`.
pub fn parse(rest: Option<&str>, ctx: &SpecContext) -> Result<SinkSpec, String> {
    match rest {
        None => Ok(SinkSpec::new(StdoutSink {
            checkpoint: ctx.stdout_checkpoint.clone(),
        })),
        Some(_) => Err("stdout takes nothing after it".into()),
    }
}

struct Lines;

impl EventWriter for Lines {
    fn write(&mut self, tx: &Tx<'_>, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError> {
        let (written, picked) = tx.first_sightings(blobs)?;
        let mut out = std::io::stdout().lock();
        write_lines(&mut out, &picked)
            .and_then(|_| out.flush())
            .map_err(|source| SinkError::Io {
                path: "stdout".into(),
                source,
            })?;
        Ok(written)
    }
}

impl SinkKind for StdoutSink {
    fn name(&self) -> String {
        "stdout".into()
    }
    fn check(&self) -> Result<(), SinkError> {
        o365_store::files::check_regular("the stdout checkpoint", &self.checkpoint)
            .map_err(|e| SinkError::io(&self.checkpoint, e))
    }
    fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        let cp = Checkpoint::open(Some(&self.checkpoint), Layout::WithSeen, "")?;
        Ok(Box::new(Local::new(cp, Lines)))
    }
    fn status(&self, tenant: &str) -> Result<Option<Vec<TypeStatus>>, SinkError> {
        status_at(&self.checkpoint, tenant)
    }
    fn writes_stdout(&self) -> bool {
        true
    }
    fn checkpoint_path(&self) -> Option<PathBuf> {
        Some(self.checkpoint.clone())
    }
}
