//! The Kafka sink at work: one transactional producer per tenant, and each group of blobs
//! written as one transaction holding the events **and** the checkpoint records that say they
//! are done. A new producer fences any older one with the same id (its open transaction is
//! aborted), then the tenant's checkpoint is read back from the topic: a restarted or
//! replacement instance resumes exactly where the last commit left off. The tenants of one
//! commit have their transactions run side by side.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use o365_api::ContentType;
use rdkafka::error::KafkaError;

use super::batch::Batch;
use super::owned::{each_tenant, state_error, Owned};
use super::producer::{is_fenced, TxProducer};
use super::reader::Reader;
use super::records::*;
use super::spec::KafkaSpec;
use super::tail::Ends;
use crate::sinks::{BlobOut, Committed, CursorMove, Resume, RetentionGap, Sink, SinkError};

const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A bus error saying what failed.
pub(super) fn bus(what: &str, e: impl std::fmt::Display) -> SinkError {
    SinkError::Bus(format!("kafka: {what}: {e}"))
}

/// The Kafka sink.
pub(super) struct KafkaWriter {
    pub(super) spec: KafkaSpec,
    /// This instance, in the records it writes.
    pub(super) id: String,
    reader: Option<Reader>,
    pub(super) ends: Option<Ends>,
    /// The tenants this instance writes.
    pub(super) owned: HashMap<String, Owned>,
    /// Tenants given up for good (another instance collects them), and why.
    pub(super) fenced: HashMap<String, String>,
}

impl KafkaWriter {
    pub(super) fn new(spec: KafkaSpec) -> Self {
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        Self {
            spec,
            id: format!("{:016x}", h.finish()),
            reader: None,
            ends: None,
            owned: HashMap::new(),
            fenced: HashMap::new(),
        }
    }

    pub(super) fn reader(&mut self) -> Result<&mut Reader, SinkError> {
        if self.reader.is_none() {
            super::topics::ensure(&self.spec)?;
            let ends = Ends::new(&self.spec)?;
            ends.all()?;
            self.ends = Some(ends);
            self.reader = Some(Reader::new(&self.spec)?);
        }
        self.reader.as_mut().ok_or_else(|| bus("reader", "missing"))
    }

    /// The tenant, ready to write.
    fn own(&mut self, tenant: &str) -> Result<&mut Owned, SinkError> {
        if let Some((_, e)) = self.ready(&[tenant]).pop() {
            return Err(e);
        }
        self.owned
            .get_mut(tenant)
            .ok_or_else(|| bus("tenant", "missing"))
    }

    /// One transaction of one tenant.
    fn transaction<T>(
        &mut self,
        tenant: &str,
        fill: impl FnOnce(&TxProducer, &TenantState) -> Result<T, KafkaError>,
        apply: impl FnOnce(&mut TenantState, &T),
    ) -> Result<T, SinkError> {
        let r = self.own(tenant)?.transaction(fill, apply);
        r.map_err(|e| self.failed(tenant, e))
    }

    /// A transaction failed: a fenced tenant is given up for good (another instance collects
    /// it); otherwise its producer is dropped, and the next one is made afresh.
    pub(super) fn failed(&mut self, tenant: &str, e: KafkaError) -> SinkError {
        let fenced = is_fenced(&e)
            || self
                .owned
                .get(tenant)
                .and_then(|o| o.producer.as_ref())
                .is_some_and(TxProducer::fenced);
        if fenced {
            tracing::error!(tenant, error = %e, "fenced: another instance now collects this tenant");
            self.owned.remove(tenant);
            self.fenced.insert(tenant.into(), e.to_string());
            return SinkError::Fenced {
                tenant: tenant.into(),
            };
        }
        if let Some(o) = self.owned.get_mut(tenant) {
            o.producer = None;
            o.scanned = false;
        }
        bus(&format!("transaction of tenant {tenant}"), e)
    }
}

impl Sink for KafkaWriter {
    fn prepare(&mut self, tenants: &[String]) {
        let names: Vec<&str> = tenants.iter().map(String::as_str).collect();
        for (t, e) in self.ready(&names) {
            tracing::warn!(tenant = %t, error = %e, "not ready to write yet (retried when the tenant is collected)");
        }
    }

    fn resume(&mut self, tenant: &str, ct: ContentType) -> Result<Option<Resume>, SinkError> {
        Ok(self.own(tenant)?.state.resume(ct))
    }

    fn done_since(
        &mut self,
        tenant: &str,
        ct: ContentType,
        since: DateTime<Utc>,
    ) -> Result<HashSet<String>, SinkError> {
        Ok(self.own(tenant)?.state.done_since(ct, since))
    }

    fn commit(
        &mut self,
        blobs: &[BlobOut],
        cursors: &[CursorMove],
    ) -> Result<Committed, SinkError> {
        let batches = Batch::split(blobs, cursors);
        let names: Vec<&str> = batches.keys().copied().collect();
        let mut out = Committed {
            written: vec![0; blobs.len()],
            failed: self.ready(&names),
        };
        let go: HashSet<&str> = names
            .into_iter()
            .filter(|t| !out.failed.iter().any(|(f, _)| f == t))
            .collect();
        let now = ms(Utc::now());
        let (spec, id) = (&self.spec, self.id.as_str());
        // The events topic's end before any of these transactions: their tails.
        let mut before = HashMap::new();
        if go
            .iter()
            .any(|t| batches.get(t).is_some_and(|b| !b.blobs.is_empty()))
        {
            let known = match self.ends.as_ref() {
                Some(ends) => ends.known().map_err(|e| bus("the events topic's end", e)),
                None => Err(bus("tail", "not started")),
            };
            match known {
                Ok(k) => before = k,
                Err(e) => {
                    for t in go {
                        out.failed
                            .push((t.to_string(), SinkError::Bus(e.to_string())));
                    }
                    return Ok(out);
                }
            }
        }
        let before = &before;
        let results = each_tenant(&mut self.owned, &go, spec.transactions, |t, o| {
            let batch = batches.get(t).ok_or(state_error())?;
            o.transaction(
                |p, st| super::batch::write(spec, before, id, p, st, batch, now),
                |st, w| w.apply(st),
            )
        });
        for (t, r) in results {
            match r {
                Ok(w) => w.place(batches.get(t.as_str()), &mut out.written),
                Err(e) => {
                    let e = self.failed(&t, e);
                    out.failed.push((t, e));
                }
            }
        }
        Ok(out)
    }

    fn record_gap(&mut self, g: &RetentionGap) -> Result<(), SinkError> {
        let rec = GapRec {
            w: self.id.clone(),
            ct: g.content_type,
            start: ms(g.start),
            end: ms(g.end),
        };
        let key = gap_key(&g.tenant, g.content_type, rec.start);
        let topic = self.spec.checkpoint_topic.clone();
        let fill = |p: &TxProducer, _: &TenantState| p.record(&topic, &key, &rec);
        let (k2, r2) = (key.clone(), rec.clone());
        self.transaction(&g.tenant, fill, move |st, _| {
            st.gaps.insert(k2, r2);
        })
    }

    fn prune(&mut self, older_than: DateTime<Utc>) -> Result<(), SinkError> {
        let due: Vec<String> = self
            .owned
            .iter()
            .filter(|(_, o)| o.pruned.elapsed() >= PRUNE_EVERY)
            .map(|(t, _)| t.clone())
            .collect();
        for tenant in due {
            let Some(o) = self.owned.get_mut(&tenant) else {
                continue;
            };
            o.pruned = Instant::now();
            let gone = o.state.prune(&tenant, older_than);
            if gone.is_empty() {
                continue;
            }
            let topic = self.spec.checkpoint_topic.clone();
            let fill = |p: &TxProducer, _: &TenantState| p.tombstones(&topic, &gone);
            if let Err(e) = self.transaction(&tenant, fill, |_, _| {}) {
                tracing::warn!(tenant, error = %e, "could not write the pruning tombstones (retried in an hour)");
            }
        }
        Ok(())
    }
}
