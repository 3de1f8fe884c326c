//! The Kafka sink of a `serve` instance in a fleet: ONE transactional producer for the
//! instance, the tenants the group gave it (see `group.rs`), and each group of blobs of all
//! those tenants written as one transaction: their events, the checkpoint records that say
//! they are done, and the group's offsets with this member's generation. The broker commits
//! such a transaction only while that generation is the group's (KIP-447), so an instance the
//! group has given up on (paused past its session timeout, cut off) commits nothing; the
//! instance that now holds its tenants reads their checkpoints from the topic and goes on.
//!
//! This needs a broker that fences by generation and hides aborted records from
//! `read_committed` readers: Apache Kafka 2.5 and later (and the services built on it).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use o365_api::ContentType;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::watch;

use super::batch::{Batch, Written};
use super::group::{Change, Held, Member};
use super::producer::TxProducer;
use super::reader::Reader;
use super::records::*;
use super::spec::KafkaSpec;
use super::writer::bus;
use open::Open;

mod open;
use crate::sinks::{BlobOut, Committed, CursorMove, Resume, RetentionGap, Sink, SinkError};

const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often an idle writer serves the group (a rebalance waits for it).
const SERVE_EVERY: Duration = Duration::from_millis(200);

/// Whether an error says this member's generation is no longer the group's.
fn is_stale_generation(e: &KafkaError) -> bool {
    let code = match e {
        KafkaError::Transaction(t) => Some(t.code()),
        other => other.rdkafka_error_code(),
    };
    matches!(
        code,
        Some(
            RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::UnknownMemberId
                | RDKafkaErrorCode::FencedInstanceId
                | RDKafkaErrorCode::RebalanceInProgress
        )
    )
}

/// Why a transaction was not committed.
enum TxError {
    /// This member's generation was no longer the group's: a rebalance is under way; nothing
    /// was committed, and the same work may be tried again once the member is in the new one.
    Stale(SinkError),
    /// Anything else.
    Other(SinkError),
}

/// How long a commit waits for the group to settle when a rebalance refused it.
const REBALANCE_WAIT: Duration = Duration::from_secs(30);

/// A `serve` instance's Kafka sink.
pub(super) struct FleetWriter {
    spec: KafkaSpec,
    instance: String,
    member: Member,
    producer: Option<TxProducer>,
    /// Checkpoints of the tenants held, once read (with what the open transaction holds).
    tenants: HashMap<String, TenantState>,
    pruned: Instant,
    /// The transaction [`Sink::stage`] left open for the next commit.
    open: Option<Open>,
    /// Tenants whose blobs of the commit being built cannot be durable, and why (reported
    /// with that commit).
    failed: Vec<(String, SinkError)>,
}

impl FleetWriter {
    /// Join the group as `instance`; what it holds is published on `held`.
    pub(super) fn new(
        spec: KafkaSpec,
        instance: &str,
        held: Arc<watch::Sender<Held>>,
    ) -> Result<Self, SinkError> {
        let member = Member::join(&spec, instance, held)?;
        Ok(Self {
            spec,
            instance: instance.to_string(),
            member,
            producer: None,
            tenants: HashMap::new(),
            pruned: Instant::now(),
            open: None,
            failed: vec![],
        })
    }

    /// Serve the group; forget the checkpoints of tenants whose partitions were revoked (read
    /// afresh if they come back: another instance may have written for them meanwhile).
    fn sync(&mut self) -> Held {
        let changes = self.member.poll();
        let held = self.member.held();
        if changes.iter().any(|c| matches!(c, Change::Revoked(_))) {
            // Records of a tenant now another instance's must never be committed.
            let lost = self
                .open
                .as_ref()
                .is_some_and(|o| o.tenants.iter().any(|t| !held.holds(t)));
            if lost {
                self.abort_open("partitions of its tenants were revoked");
            }
            let before = self.tenants.len();
            self.tenants.retain(|t, _| held.holds(t));
            tracing::info!(
                released = before - self.tenants.len(),
                "tenants of revoked partitions released"
            );
        }
        held
    }

    /// Read the checkpoints of the named tenants not read yet (one read for all).
    fn load(&mut self, tenants: &[&str]) -> Result<(), SinkError> {
        let missing: HashSet<String> = tenants
            .iter()
            .filter(|t| !self.tenants.contains_key(**t))
            .map(|t| t.to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        // A read of the checkpoints stops where this instance's own open transaction begins:
        // commit it first.
        if self.open.is_some() {
            let _ = self.transaction(|_, _| Ok(()));
        }
        let t0 = Instant::now();
        let mut r = Reader::only(&self.spec, missing.clone())?;
        r.catch_up()?;
        tracing::info!(
            tenants = missing.len(),
            seconds = t0.elapsed().as_secs_f64(),
            "checkpoints read"
        );
        for t in missing {
            let st = r.checkpoints.tenants.remove(&t).unwrap_or_default();
            self.tenants.insert(t, st);
        }
        Ok(())
    }

    fn producer(&mut self) -> Result<&TxProducer, SinkError> {
        if self.producer.is_none() {
            let tid = self.spec.instance_transactional_id(&self.instance);
            let timeout = Duration::from_millis(self.spec.transaction_timeout_ms as u64);
            let p = TxProducer::start(&self.spec, &tid, timeout)
                .map_err(|e| bus("starting this instance's producer", e))?;
            self.producer = Some(p);
        }
        self.producer
            .as_ref()
            .ok_or_else(|| bus("producer", "missing"))
    }

    /// The tenant, held and its checkpoint read.
    fn own(&mut self, tenant: &str) -> Result<&mut TenantState, SinkError> {
        let held = self.sync();
        if !held.holds(tenant) {
            return Err(SinkError::Moved {
                tenant: tenant.into(),
            });
        }
        self.load(&[tenant])?;
        self.tenants
            .get_mut(tenant)
            .ok_or_else(|| bus("tenant", "missing"))
    }

    /// Run `fill` in one transaction that also commits the group's offsets with this member's
    /// generation. A failure aborts it; the producer is made afresh after a fatal one, and the
    /// group is served at once after a stale generation.
    fn transaction<T>(
        &mut self,
        fill: impl FnOnce(&TxProducer, &HashMap<String, TenantState>) -> Result<T, KafkaError>,
    ) -> Result<T, TxError> {
        self.producer().map_err(TxError::Other)?;
        let (p, member, tenants) = (&self.producer, &self.member, &self.tenants);
        let p = p
            .as_ref()
            .ok_or_else(|| TxError::Other(bus("producer", "missing")))?;
        let open = self.open.is_some();
        let r = (|| {
            if !open {
                p.begin()?;
            }
            let t = fill(p, tenants)?;
            let (offsets, group) = member.fence()?;
            p.send_offsets(&offsets, &group)?;
            p.finish()?;
            Ok(t)
        })();
        let e = match r {
            Ok(t) => {
                self.open = None;
                return Ok(t);
            }
            Err(e) => e,
        };
        let remake = self.abort(&e);
        if is_stale_generation(&e) && !remake {
            tracing::info!(error = %e, "not committed: this instance's group generation is no longer the group's (a rebalance is under way)");
            return Err(TxError::Stale(bus("transaction", e)));
        }
        Err(TxError::Other(bus("transaction", e)))
    }

    /// [`Self::transaction`], tried again while a rebalance refuses it (up to
    /// [`REBALANCE_WAIT`]).
    fn settled_transaction<T>(
        &mut self,
        fill: impl Fn(&TxProducer, &HashMap<String, TenantState>) -> Result<T, KafkaError>,
    ) -> Result<T, SinkError> {
        let until = Instant::now() + REBALANCE_WAIT;
        loop {
            let generation = self.member.generation();
            match self.transaction(&fill) {
                Ok(t) => return Ok(t),
                Err(TxError::Stale(e)) => {
                    if !self.wait_for_generation(generation, until) {
                        return Err(e);
                    }
                }
                Err(TxError::Other(e)) => return Err(e),
            }
        }
    }

    /// Serve the group until this member is in a generation other than `stale` (or `until`
    /// passes); whether it is.
    fn wait_for_generation(&mut self, stale: i32, until: Instant) -> bool {
        while Instant::now() < until {
            self.sync();
            if self.member.generation() != stale {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Sink for FleetWriter {
    fn prepare(&mut self, tenants: &[String]) {
        let held = self.sync();
        let mine: Vec<&str> = tenants
            .iter()
            .map(String::as_str)
            .filter(|t| held.holds(t))
            .collect();
        if let Err(e) = self.load(&mine) {
            tracing::warn!(error = %e, "checkpoints not read yet (read when the tenants are collected)");
        }
    }

    fn resume(&mut self, tenant: &str, ct: ContentType) -> Result<Option<Resume>, SinkError> {
        Ok(self.own(tenant)?.resume(ct))
    }

    fn done_since(
        &mut self,
        tenant: &str,
        ct: ContentType,
        since: DateTime<Utc>,
    ) -> Result<HashSet<String>, SinkError> {
        Ok(self.own(tenant)?.done_since(ct, since))
    }

    fn commit(
        &mut self,
        blobs: &[BlobOut],
        cursors: &[CursorMove],
    ) -> Result<Committed, SinkError> {
        let batches = Batch::split(blobs, cursors);
        let until = Instant::now() + REBALANCE_WAIT;
        loop {
            let held = self.sync();
            let mut out = Committed {
                written: vec![0; blobs.len()],
                failed: vec![],
            };
            let mut go: Vec<&str> = vec![];
            for t in batches.keys() {
                if self.failing(t) {
                    // Its staged blobs are lost: the rest of its group goes with them.
                    continue;
                } else if held.holds(t) {
                    go.push(t);
                } else {
                    let moved = SinkError::Moved {
                        tenant: t.to_string(),
                    };
                    out.failed.push((t.to_string(), moved));
                }
            }
            if go.is_empty() && self.open.is_none() {
                return Ok(self.report(out));
            }
            let fail_all = |out: &mut Committed, e: &SinkError| {
                for t in &go {
                    out.failed
                        .push((t.to_string(), SinkError::Bus(e.to_string())));
                }
            };
            if let Err(e) = self.load(&go) {
                fail_all(&mut out, &e);
                return Ok(self.report(out));
            }
            let (spec, id, now) = (self.spec.clone(), self.instance.clone(), ms(Utc::now()));
            let (spec, id) = (&spec, id.as_str());
            let none = HashMap::new();
            let generation = self.member.generation();
            let written = self.transaction(|p, tenants| {
                // Every tenant's events, acknowledged together, then every tenant's
                // checkpoint records: one wait for the whole transaction.
                let mut sent = Vec::with_capacity(go.len());
                for t in &go {
                    let (Some(batch), Some(st)) = (batches.get(t), tenants.get(*t)) else {
                        return Err(super::owned::state_error());
                    };
                    sent.push((
                        *t,
                        batch,
                        st,
                        super::batch::send_events(spec, p, st, batch)?,
                    ));
                }
                if sent.iter().any(|(.., s)| s.any) {
                    p.flush()?;
                }
                let mut all: Vec<(&str, Written)> = Vec::with_capacity(go.len());
                for (t, batch, st, s) in sent {
                    let w = super::batch::send_checkpoints(spec, &none, id, p, st, batch, s, now)?;
                    all.push((t, w));
                }
                Ok(all)
            });
            match written {
                Ok(all) => {
                    for (t, w) in all {
                        if let Some(st) = self.tenants.get_mut(t) {
                            w.apply(st);
                        }
                        w.place(batches.get(t), &mut out.written);
                    }
                    return Ok(self.report(out));
                }
                // A rebalance refused it: nothing was committed; once this member is in the
                // new generation, the tenants it still holds are tried again (those with
                // staged blobs, lost with the transaction, are not).
                Err(TxError::Stale(e)) => {
                    if !self.wait_for_generation(generation, until) {
                        fail_all(&mut out, &e);
                        return Ok(self.report(out));
                    }
                }
                Err(TxError::Other(e)) => {
                    fail_all(&mut out, &e);
                    return Ok(self.report(out));
                }
            }
        }
    }

    fn stages(&self) -> bool {
        true
    }

    /// See `open.rs`.
    fn stage(&mut self, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError> {
        self.stage_blobs(blobs)
    }

    fn record_gap(&mut self, g: &RetentionGap) -> Result<(), SinkError> {
        self.own(&g.tenant)?;
        let rec = GapRec {
            w: self.instance.clone(),
            ct: g.content_type,
            start: ms(g.start),
            end: ms(g.end),
        };
        let key = gap_key(&g.tenant, g.content_type, rec.start);
        let topic = self.spec.checkpoint_topic.clone();
        self.settled_transaction(|p, _| p.record(&topic, &key, &rec))?;
        if let Some(st) = self.tenants.get_mut(&g.tenant) {
            st.gaps.insert(key, rec);
        }
        Ok(())
    }

    fn prune(&mut self, older_than: DateTime<Utc>) -> Result<(), SinkError> {
        if self.pruned.elapsed() < PRUNE_EVERY {
            return Ok(());
        }
        self.pruned = Instant::now();
        self.sync();
        let mut gone: Vec<String> = vec![];
        for (t, st) in self.tenants.iter_mut() {
            gone.extend(st.prune(t, older_than));
        }
        if gone.is_empty() {
            return Ok(());
        }
        let topic = self.spec.checkpoint_topic.clone();
        let r = self.settled_transaction(|p, _| p.tombstones(&topic, &gone));
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not write the pruning tombstones (retried in an hour)");
        }
        Ok(())
    }

    fn idle_every(&self) -> Option<Duration> {
        Some(SERVE_EVERY)
    }

    fn idle(&mut self) {
        self.sync();
    }
}
