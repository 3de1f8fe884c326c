//! The null sink: events are counted and dropped (the pipeline's limit, for benchmarks); its
//! checkpoint lives in memory.

use crate::checkpoint::{Checkpoint, Layout, Tx};
use crate::local::{EventWriter, Local};
use crate::sinks::{BlobOut, Sink, SinkError, SinkKind, SinkSpec, SpecContext, TypeStatus};

/// `null`.
#[derive(Debug, Clone, Copy)]
pub struct NullKind;

/// Parse `null`.
pub fn parse(rest: Option<&str>, _: &SpecContext) -> Result<SinkSpec, String> {
    match rest {
        None => Ok(SinkSpec::new(NullKind)),
        Some(_) => Err("null takes nothing after it".into()),
    }
}

/// The null sink's writer: every event counted as written, none kept.
struct Discard;

impl EventWriter for Discard {
    fn write(&mut self, _: &Tx<'_>, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError> {
        Ok(blobs.iter().map(|b| b.events.len() as u64).collect())
    }
}

impl SinkKind for NullKind {
    fn name(&self) -> String {
        "null".into()
    }
    fn check(&self) -> Result<(), SinkError> {
        Ok(())
    }
    fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        let cp = Checkpoint::open(None, Layout::WithSeen, "")?;
        Ok(Box::new(Local::new(cp, Discard)))
    }
    fn status(&self, _: &str) -> Result<Option<Vec<TypeStatus>>, SinkError> {
        Ok(None)
    }
}
