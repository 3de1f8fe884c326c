//! Standard output: one raw event per line (or, with `stdout?envelope`, each inside a line that
//! names where it comes from), de-duplicated through a local checkpoint. After a crash the last
//! group may be written again (standard output cannot be cut back).

use std::io::Write as _;
use std::path::PathBuf;

use crate::checkpoint::{Checkpoint, Layout, Tx};
use crate::local::{EventWriter, Local};
use crate::sinks::jsonl::{map_lines, write_lines, Envelope};
use crate::sinks::{BlobOut, Sink, SinkError, SinkKind, SinkSpec, SpecContext, TypeStatus};
use crate::status::status_at;

/// `stdout`, with its checkpoint file.
#[derive(Debug, Clone)]
pub struct StdoutKind {
    checkpoint: PathBuf,
    /// `?envelope`: each event inside a line naming its tenant, type and blob.
    envelope: bool,
}

/// Parse `stdout` or `stdout?envelope`.
pub fn parse(rest: Option<&str>, ctx: &SpecContext) -> Result<SinkSpec, String> {
    let envelope = match rest {
        None => false,
        Some("?envelope") => true,
        Some(other) => {
            return Err(format!(
                "unknown option {other:?}: stdout takes ?envelope (each event inside a line that names its tenant, content type and blob), or nothing"
            ))
        }
    };
    Ok(SinkSpec::new(StdoutKind {
        checkpoint: ctx.stdout_checkpoint.clone(),
        envelope,
    }))
}

struct Lines {
    envelope: bool,
}

impl EventWriter for Lines {
    fn write(&mut self, tx: &Tx<'_>, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError> {
        let (written, picked) = tx.first_sightings(blobs)?;
        let mapped;
        let lines: Vec<&[u8]> = if self.envelope {
            mapped = map_lines(&Envelope, blobs, &written, &picked)?;
            mapped.iter().map(|l| l.as_slice()).collect()
        } else {
            picked
        };
        let mut out = std::io::stdout().lock();
        write_lines(&mut out, &lines)
            .and_then(|_| out.flush())
            .map_err(|source| SinkError::Io {
                path: "stdout".into(),
                source,
            })?;
        Ok(written)
    }
}

impl SinkKind for StdoutKind {
    fn name(&self) -> String {
        if self.envelope {
            "stdout?envelope".into()
        } else {
            "stdout".into()
        }
    }
    fn check(&self) -> Result<(), SinkError> {
        o365_store::files::check_regular("the stdout checkpoint", &self.checkpoint)
            .map_err(|e| SinkError::io(&self.checkpoint, e))
    }
    fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        let cp = Checkpoint::open(Some(&self.checkpoint), Layout::WithSeen, "")?;
        Ok(Box::new(Local::new(
            cp,
            Lines {
                envelope: self.envelope,
            },
        )))
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
