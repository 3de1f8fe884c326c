//! The transaction a fleet instance leaves open between commits: full groups of blobs are
//! staged into it (their events acknowledged, their blob records written), and the next
//! commit makes them durable together with its own blobs and the group's offsets. Fewer,
//! larger transactions cost less per event, and a staged blob's memory is freed at once.
//! Anything that goes wrong aborts it all: its tenants fail with that commit (their blobs are
//! fetched again) and their checkpoints are read afresh from the topic.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use rdkafka::error::KafkaError;

use super::FleetWriter;
use crate::sinks::kafka::batch::Batch;
use crate::sinks::kafka::producer::is_fenced;
use crate::sinks::kafka::records::ms;
use crate::sinks::kafka::writer::bus;
use crate::sinks::{BlobOut, Committed, SinkError};

/// A transaction left open by [`Sink::stage`](crate::sinks::Sink::stage): events and blob
/// records of full groups, committed with the next commit (and the group's offsets), or
/// aborted with it.
#[derive(Default)]
pub(super) struct Open {
    /// Tenants with records in it: their checkpoints in memory count them already (read
    /// afresh from the topic if it is aborted).
    pub(super) tenants: HashSet<String>,
}

impl FleetWriter {
    /// Write full groups of blobs into a transaction left open for the next commit: their
    /// events, acknowledged, then the records that say their blobs are done. Nothing is
    /// visible to `read_committed` readers until that commit, which also carries the group's
    /// offsets (so a zombie commits none of it); a failure aborts it all, and the tenants
    /// concerned fail with the commit.
    pub(super) fn stage_blobs(&mut self, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError> {
        let mut written = vec![0; blobs.len()];
        let batches = Batch::split(blobs, &[]);
        let held = self.sync();
        let mut go: Vec<&str> = vec![];
        for t in batches.keys() {
            if self.failing(t) {
                continue;
            } else if held.holds(t) {
                go.push(t);
            } else {
                let moved = SinkError::Moved {
                    tenant: t.to_string(),
                };
                self.failed.push((t.to_string(), moved));
            }
        }
        if go.is_empty() {
            return Ok(written);
        }
        // (Reading a tenant's checkpoints commits what is open first.)
        let begun = self.load(&go).and_then(|()| {
            let fresh = self.open.is_none();
            let p = self.producer()?;
            if fresh {
                p.begin().map_err(|e| bus("beginning a transaction", e))?;
            }
            Ok(fresh)
        });
        if let Ok(true) = begun {
            self.open = Some(Open::default());
        }
        if let Err(e) = begun {
            for t in go {
                self.failed
                    .push((t.to_string(), SinkError::Bus(e.to_string())));
            }
            return Ok(written);
        }
        let (spec, id, now) = (self.spec.clone(), self.instance.clone(), ms(Utc::now()));
        let none = HashMap::new();
        let sent = match (&self.producer, &self.tenants) {
            (Some(p), tenants) => (|| {
                let mut sent = Vec::with_capacity(go.len());
                for t in &go {
                    let (Some(batch), Some(st)) = (batches.get(t), tenants.get(*t)) else {
                        return Err(crate::sinks::kafka::owned::state_error());
                    };
                    let s = crate::sinks::kafka::batch::send_events(&spec, p, st, batch)?;
                    sent.push((*t, batch, st, s));
                }
                if sent.iter().any(|(.., s)| s.any) {
                    p.flush()?;
                }
                let mut all = Vec::with_capacity(go.len());
                for (t, batch, st, s) in sent {
                    let w = crate::sinks::kafka::batch::send_checkpoints(
                        &spec, &none, &id, p, st, batch, s, now,
                    )?;
                    all.push((t, w));
                }
                Ok(all)
            })(),
            (None, _) => Err(crate::sinks::kafka::owned::state_error()),
        };
        match sent {
            Ok(all) => {
                let open = self.open.get_or_insert_with(Open::default);
                for (t, w) in all {
                    open.tenants.insert(t.to_string());
                    if let Some(st) = self.tenants.get_mut(t) {
                        w.apply(st);
                    }
                    w.place(batches.get(t), &mut written);
                }
                tracing::debug!(blobs = blobs.len(), "blobs staged in the open transaction");
            }
            Err(e) => {
                // Some of it may be in the transaction: all of it goes.
                if let Some(open) = &mut self.open {
                    open.tenants.extend(go.iter().map(|t| t.to_string()));
                }
                self.abort(&e);
            }
        }
        Ok(written)
    }

    /// Abort the open transaction after `e`; its staged tenants fail with the next commit.
    /// Whether the producer had to go (fenced, or a fatal error).
    pub(super) fn abort(&mut self, e: &KafkaError) -> bool {
        let remake = self.drop_transaction(is_fenced(e));
        if remake {
            tracing::error!(error = %e, "this instance's producer cannot go on (fenced: another process runs with the same --instance-id, or a fatal error); a new one is made");
        }
        self.fail_open(e);
        remake
    }

    /// Abort the open transaction, if any, for `why`.
    pub(super) fn abort_open(&mut self, why: &str) {
        if self.open.is_some() {
            tracing::info!(reason = why, "the open transaction is aborted");
            self.drop_transaction(false);
            self.fail_open(&why);
        }
    }

    /// Abort what the producer has open (nothing to abort when `fenced`); the producer goes
    /// when it cannot go on, and then this says so.
    fn drop_transaction(&mut self, fenced: bool) -> bool {
        let Some(p) = &self.producer else {
            return false;
        };
        if !fenced {
            p.abort();
        }
        let remake = fenced || p.fenced() || p.fatal();
        if remake {
            self.producer = None;
        }
        remake
    }

    /// The open transaction is gone: its tenants' staged blobs fail with the next commit
    /// (fetched again later), and their checkpoints are read afresh when next needed.
    pub(super) fn fail_open(&mut self, why: &dyn std::fmt::Display) {
        let Some(open) = self.open.take() else { return };
        for t in open.tenants {
            self.tenants.remove(&t);
            let err = SinkError::Bus(format!("not committed: {why}"));
            self.failed.push((t, err));
        }
    }

    /// `out`, with the tenants whose staged blobs failed since the last commit.
    pub(super) fn report(&mut self, mut out: Committed) -> Committed {
        out.failed.append(&mut self.failed);
        out
    }

    /// Whether `tenant` already failed in the commit being built.
    pub(super) fn failing(&self, tenant: &str) -> bool {
        self.failed.iter().any(|(t, _)| t == tenant)
    }
}
