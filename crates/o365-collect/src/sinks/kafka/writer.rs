//! The Kafka sink at work: one transactional producer per tenant (`transactional.id` from the
//! tenant), and each group of blobs written as one transaction holding the events **and** the
//! checkpoint records that say they are done. A new producer fences any older one with the same
//! id (its open transaction is aborted), then the tenant's checkpoint is read back from the
//! topic: a restarted or replacement instance resumes exactly where the last commit left off.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use o365_api::ContentType;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::records::*;
use super::spec::KafkaSpec;
use super::tail::Delivered;
use crate::checkpoint::event_key;
use crate::sinks::{BlobOut, Committed, CursorMove, Resume, RetentionGap, Sink, SinkError};

const INIT_TIMEOUT: Duration = Duration::from_secs(60);
const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(180);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

fn bus(what: &str, e: impl std::fmt::Display) -> SinkError {
    SinkError::Bus(format!("kafka: {what}: {e}"))
}

/// Whether an error means another producer with the same transactional id took over.
fn is_fenced(e: &KafkaError) -> bool {
    let code = match e {
        KafkaError::Transaction(t) => Some(t.code()),
        other => other.rdkafka_error_code(),
    };
    matches!(
        code,
        Some(RDKafkaErrorCode::Fenced)
            | Some(RDKafkaErrorCode::ProducerFenced)
            | Some(RDKafkaErrorCode::InvalidProducerEpoch)
    )
}

/// A consumer context for which reaching the end of a partition is news, not an error.
pub(super) struct EndIsNews;

impl rdkafka::ClientContext for EndIsNews {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !eof {
            tracing::error!(%error, reason, "kafka client error");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for EndIsNews {}

/// Reads the checkpoint topic (committed records only) into [`Checkpoints`].
pub(super) struct Reader {
    consumer: BaseConsumer<EndIsNews>,
    topic: String,
    /// The next offset to read.
    position: i64,
    pub(super) checkpoints: Checkpoints,
    /// Tenants whose records this instance writes itself.
    pub(super) skip: HashSet<String>,
}

impl Reader {
    pub(super) fn new(spec: &KafkaSpec) -> Result<Self, SinkError> {
        let consumer: BaseConsumer<EndIsNews> = spec
            .config()
            .set("group.id", format!("{}-checkpoint-reader", spec.prefix))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            .create_with_context(EndIsNews)
            .map_err(|e| bus("checkpoint reader", e))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&spec.checkpoint_topic, 0, Offset::Beginning)
            .map_err(|e| bus("checkpoint reader", e))?;
        consumer
            .assign(&tpl)
            .map_err(|e| bus("checkpoint reader", e))?;
        Ok(Self {
            consumer,
            topic: spec.checkpoint_topic.clone(),
            position: 0,
            checkpoints: Checkpoints::default(),
            skip: HashSet::new(),
        })
    }

    fn consumer_position(&self) -> Option<i64> {
        let p = self.consumer.position().ok()?;
        match p.find_partition(&self.topic, 0)?.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        }
    }

    /// Read every committed record written so far.
    pub(super) fn catch_up(&mut self) -> Result<(), SinkError> {
        let deadline = Instant::now() + READ_TIMEOUT;
        let (_, high) = self
            .consumer
            .fetch_watermarks(&self.topic, 0, READ_TIMEOUT)
            .map_err(|e| bus("checkpoint topic offsets", e))?;
        while self.position < high {
            if Instant::now() > deadline {
                return Err(bus(
                    "reading the checkpoints",
                    format!("offset {} of {high} after {READ_TIMEOUT:?} (an open transaction of another instance?)", self.position),
                ));
            }
            match self.consumer.poll(Duration::from_millis(500)) {
                None => {}
                Some(Ok(m)) => {
                    self.position = m.offset() + 1;
                    if let Some(k) = m.key() {
                        self.checkpoints.apply(k, m.payload(), &self.skip);
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    // At the end of what is committed; markers and aborted records are skipped.
                    if let Some(p) = self.consumer_position() {
                        self.position = self.position.max(p);
                    }
                }
                Some(Err(e)) => return Err(bus("reading the checkpoints", e)),
            }
        }
        Ok(())
    }
}

/// A tenant this instance writes: its producer (none after a failed transaction: the next one
/// is made afresh) and its checkpoint.
struct Owned {
    producer: Option<BaseProducer<Delivered>>,
    state: TenantState,
    /// The checkpoint was read from the topic.
    loaded: bool,
    /// What consumers see beyond the checkpoint's tail was taken in, for this producer.
    scanned: bool,
    pruned: Instant,
}

/// The Kafka sink.
pub(super) struct KafkaWriter {
    spec: KafkaSpec,
    /// This instance, in the records it writes.
    id: String,
    reader: Option<Reader>,
    owned: HashMap<String, Owned>,
    fenced: HashMap<String, String>,
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
            owned: HashMap::new(),
            fenced: HashMap::new(),
        }
    }

    /// A producer for `tenant`, made and started: older producers with its transactional id
    /// are fenced and their open transaction aborted. After a failure, a new one is only made if
    /// no other instance has written for the tenant since (a broker may tell a fenced producer
    /// by closing its connection rather than with an error).
    fn start_producer(&mut self, tenant: &str) -> Result<(), SinkError> {
        if self.fenced.contains_key(tenant) {
            return Err(SinkError::Fenced {
                tenant: tenant.into(),
            });
        }
        if self.reader.is_none() {
            super::topics::ensure(&self.spec)?;
            self.reader = Some(Reader::new(&self.spec)?);
        }
        match self.owned.get(tenant) {
            Some(o) if o.producer.is_some() => return Ok(()),
            Some(_) => {
                let reader = self
                    .reader
                    .as_mut()
                    .ok_or_else(|| bus("reader", "missing"))?;
                reader.catch_up()?;
                let other = reader
                    .checkpoints
                    .writers
                    .get(tenant)
                    .is_some_and(|w| *w != self.id);
                if other {
                    self.fenced
                        .insert(tenant.into(), "another instance wrote since".into());
                    tracing::error!(tenant, "fenced: another instance now collects this tenant");
                    return Err(SinkError::Fenced {
                        tenant: tenant.into(),
                    });
                }
            }
            None => {}
        }
        let tid = self.spec.transactional_id(tenant);
        let producer: BaseProducer<Delivered> = self
            .spec
            .config()
            .set("transactional.id", &tid)
            .set("enable.idempotence", "true")
            .set("transaction.timeout.ms", "60000")
            .set("linger.ms", "5")
            .create_with_context(Delivered::new(&self.spec.topic))
            .map_err(|e| bus("producer", e))?;
        producer
            .init_transactions(INIT_TIMEOUT)
            .map_err(|e| bus(&format!("starting the transactions of {tid}"), e))?;
        tracing::info!(transactional_id = %tid, "producer ready: older producers of this tenant are fenced");
        let o = self
            .owned
            .entry(tenant.to_string())
            .or_insert_with(|| Owned {
                producer: None,
                state: TenantState::default(),
                loaded: false,
                scanned: false,
                pruned: Instant::now(),
            });
        o.producer = Some(producer);
        o.scanned = false;
        Ok(())
    }

    /// Start the producers of these tenants now (fencing older ones and ending their open
    /// transactions), so that reading any tenant's tail never waits on another's.
    fn start_all(&mut self, tenants: &[String]) {
        for t in tenants {
            if let Err(e) = self.start_producer(t) {
                tracing::warn!(tenant = %t, error = %e, "producer not started yet (retried when the tenant is collected)");
            }
        }
    }

    /// The tenant's producer and checkpoint: the checkpoint is read (the first time), then what
    /// consumers can already see beyond its tail counts as written (see `tail.rs`).
    fn own(&mut self, tenant: &str) -> Result<&mut Owned, SinkError> {
        self.start_producer(tenant)?;
        let loaded = self.owned.get(tenant).is_some_and(|o| o.loaded);
        if !loaded {
            let reader = self
                .reader
                .as_mut()
                .ok_or_else(|| bus("reader", "missing"))?;
            reader.catch_up()?;
            reader.skip.insert(tenant.to_string());
            let state = reader
                .checkpoints
                .tenants
                .remove(tenant)
                .unwrap_or_default();
            if let Some(o) = self.owned.get_mut(tenant) {
                o.state = state;
                o.loaded = true;
            }
        }
        let spec = self.spec.clone();
        let id = self.id.clone();
        let o = self
            .owned
            .get_mut(tenant)
            .ok_or_else(|| bus("tenant", "missing"))?;
        if !o.scanned {
            if o.state.tail.is_empty() {
                // The first transaction of this tenant: its tail starts at today's end.
                let tail = super::tail::ends(&spec)?;
                let rec = TailRec {
                    w: id,
                    partitions: tail.clone(),
                };
                let key = tail_key(tenant);
                let Some(producer) = o.producer.as_ref() else {
                    return Err(bus("producer", "missing"));
                };
                let first = producer
                    .begin_transaction()
                    .and_then(|()| {
                        send(
                            producer,
                            BaseRecord::to(&spec.checkpoint_topic)
                                .key(key.as_str())
                                .payload(&json(&rec)[..]),
                        )
                    })
                    .and_then(|()| producer.commit_transaction(COMMIT_TIMEOUT));
                if let Err(e) = first {
                    let _ = producer.abort_transaction(COMMIT_TIMEOUT);
                    return Err(self.failed(tenant, e));
                }
                o.state.tail = tail;
            } else {
                let seen = super::tail::visible_after(&spec, tenant, &o.state.tail)?;
                o.state.seen.extend(seen);
            }
            o.scanned = true;
        }
        self.owned
            .get_mut(tenant)
            .ok_or_else(|| bus("tenant", "missing"))
    }

    /// Run `fill` in one transaction of `tenant`'s producer; on success `apply` updates the
    /// checkpoint in memory. A fenced producer is given up for good; after any other failure
    /// the transaction is aborted and the producer dropped: the next one is made afresh.
    fn transaction<T>(
        &mut self,
        tenant: &str,
        fill: impl FnOnce(&KafkaSpec, &BaseProducer<Delivered>, &TenantState) -> Result<T, KafkaError>,
        apply: impl FnOnce(&mut TenantState, &T),
    ) -> Result<T, SinkError> {
        let spec = self.spec.clone();
        let owned = self.own(tenant)?;
        let Some(producer) = owned.producer.as_ref() else {
            return Err(bus("producer", "missing"));
        };
        let result = producer
            .begin_transaction()
            .and_then(|()| fill(&spec, producer, &owned.state))
            .and_then(|t| producer.commit_transaction(COMMIT_TIMEOUT).map(|()| t));
        match result {
            Ok(t) => {
                apply(&mut owned.state, &t);
                Ok(t)
            }
            Err(e) => {
                if !is_fenced(&e) {
                    let _ = producer.abort_transaction(COMMIT_TIMEOUT);
                }
                Err(self.failed(tenant, e))
            }
        }
    }

    /// A transaction failed: a fenced tenant is given up for good (another instance collects
    /// it); otherwise its producer is dropped, and the next one is made afresh.
    fn failed(&mut self, tenant: &str, e: KafkaError) -> SinkError {
        if is_fenced(&e) {
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

/// Send, waiting for room in the producer's queue.
fn send(p: &BaseProducer<Delivered>, mut rec: BaseRecord<'_, str, [u8]>) -> Result<(), KafkaError> {
    for _ in 0..600 {
        match p.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                rec = r;
                p.poll(Duration::from_millis(100));
            }
            Err((e, _)) => return Err(e),
        }
    }
    Err(KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull))
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// What a transaction of blobs wrote, to take into the checkpoint once committed.
struct Written {
    written: Vec<u64>,
    keys: Vec<(i64, i64)>,
    blobs: Vec<(String, BlobRec)>,
    cursors: Vec<(ContentType, CursorRec)>,
    /// The new tail, when events were written.
    tail: HashMap<i32, i64>,
}

impl Sink for KafkaWriter {
    fn prepare(&mut self, tenants: &[String]) {
        self.start_all(tenants);
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
        let cut = ms(since);
        Ok(self
            .own(tenant)?
            .state
            .blobs
            .iter()
            .filter(|(_, b)| b.ct == ct && b.created >= cut)
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn commit(
        &mut self,
        blobs: &[BlobOut],
        cursors: &[CursorMove],
    ) -> Result<Committed, SinkError> {
        let mut tenants: Vec<&str> = blobs.iter().map(|b| b.tenant.as_str()).collect();
        tenants.extend(cursors.iter().map(|c| c.tenant.as_str()));
        tenants.sort_unstable();
        tenants.dedup();
        let mut out = Committed {
            written: vec![0; blobs.len()],
            failed: vec![],
        };
        for tenant in tenants {
            let idx: Vec<usize> = (0..blobs.len())
                .filter(|i| blobs[*i].tenant == tenant)
                .collect();
            let moves: Vec<&CursorMove> = cursors.iter().filter(|c| c.tenant == tenant).collect();
            let now = ms(Utc::now());
            let id = self.id.clone();
            let fill = |spec: &KafkaSpec, p: &BaseProducer<Delivered>, st: &TenantState| {
                let mut w = Written {
                    written: Vec::with_capacity(idx.len()),
                    keys: vec![],
                    blobs: vec![],
                    cursors: vec![],
                    tail: HashMap::new(),
                };
                let mut fresh: HashSet<(i64, i64)> = HashSet::new();
                // Events first, acknowledged before any checkpoint record that counts them:
                // whatever a consumer may see of this transaction, the checkpoint never claims
                // more than that.
                let mut per_blob: Vec<Vec<(i64, i64)>> = Vec::with_capacity(idx.len());
                for &i in &idx {
                    let b = &blobs[i];
                    let mut mine = Vec::new();
                    for e in &b.events {
                        let k = event_key(tenant, e);
                        if st.seen.contains(&k) || !fresh.insert(k) {
                            continue; // a duplicate: already written, here or before
                        }
                        mine.push(k);
                        let key = format!("{tenant}/{}", e.id());
                        let created = e
                            .creation_time
                            .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                            .unwrap_or_default();
                        let headers = OwnedHeaders::new()
                            .insert(Header {
                                key: "tenant",
                                value: Some(tenant),
                            })
                            .insert(Header {
                                key: "content_type",
                                value: Some(b.content_type.as_str()),
                            })
                            .insert(Header {
                                key: "content_id",
                                value: Some(b.content_id.as_str()),
                            })
                            .insert(Header {
                                key: "creation_time",
                                value: Some(created.as_str()),
                            });
                        send(
                            p,
                            BaseRecord::to(&spec.topic)
                                .key(key.as_str())
                                .payload(&e.raw[..])
                                .headers(headers),
                        )?;
                    }
                    per_blob.push(mine);
                }
                if !fresh.is_empty() {
                    p.flush(COMMIT_TIMEOUT)?;
                    p.poll(Duration::ZERO);
                }
                for (&i, mine) in idx.iter().zip(per_blob) {
                    let b = &blobs[i];
                    let rec = BlobRec {
                        w: id.clone(),
                        ct: b.content_type,
                        created: ms(b.content_created),
                        events: b.events.len() as u64,
                        written: mine.len() as u64,
                        lost: b.lost.clone(),
                        keys: pack_keys(&mine),
                    };
                    let bkey = blob_key(tenant, &b.content_id);
                    send(
                        p,
                        BaseRecord::to(&spec.checkpoint_topic)
                            .key(bkey.as_str())
                            .payload(&json(&rec)[..]),
                    )?;
                    w.written.push(mine.len() as u64);
                    w.keys.extend(mine);
                    w.blobs.push((b.content_id.clone(), rec));
                }
                for c in &moves {
                    let rec = CursorRec {
                        w: id.clone(),
                        cursor: ms(c.cursor),
                        origin: st
                            .cursors
                            .get(&c.content_type)
                            .map_or(ms(c.origin), |o| o.origin),
                        service_now: ms(c.service_now),
                        at: now,
                    };
                    let ckey = cursor_key(tenant, c.content_type);
                    send(
                        p,
                        BaseRecord::to(&spec.checkpoint_topic)
                            .key(ckey.as_str())
                            .payload(&json(&rec)[..]),
                    )?;
                    w.cursors.push((c.content_type, rec));
                }
                if !fresh.is_empty() {
                    // The tail after these events, once every record above is acknowledged.
                    p.flush(COMMIT_TIMEOUT)?;
                    p.poll(Duration::ZERO);
                    w.tail = p.context().tail(&st.tail);
                    let rec = TailRec {
                        w: id.clone(),
                        partitions: w.tail.clone(),
                    };
                    let tkey = tail_key(tenant);
                    send(
                        p,
                        BaseRecord::to(&spec.checkpoint_topic)
                            .key(tkey.as_str())
                            .payload(&json(&rec)[..]),
                    )?;
                }
                Ok(w)
            };
            let apply = |st: &mut TenantState, w: &Written| {
                st.seen.extend(w.keys.iter().copied());
                for (id, rec) in &w.blobs {
                    let mut r = rec.clone();
                    r.keys.clear();
                    st.blobs.insert(id.clone(), r);
                }
                for (ct, rec) in &w.cursors {
                    st.cursors.insert(*ct, rec.clone());
                }
                if !w.tail.is_empty() {
                    st.tail = w.tail.clone();
                }
            };
            match self.transaction(tenant, fill, apply) {
                Ok(w) => {
                    for (i, n) in idx.iter().zip(w.written) {
                        out.written[*i] = n;
                    }
                }
                Err(e) => out.failed.push((tenant.to_string(), e)),
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
        let fill = |spec: &KafkaSpec, p: &BaseProducer<Delivered>, _: &TenantState| {
            send(
                p,
                BaseRecord::to(&spec.checkpoint_topic)
                    .key(key.as_str())
                    .payload(&json(&rec)[..]),
            )
        };
        let k2 = key.clone();
        let r2 = rec.clone();
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
            let gone = o.state.prune(older_than);
            if gone.is_empty() {
                continue;
            }
            // Tombstones: a compacted topic then forgets these blobs too.
            let fill = |spec: &KafkaSpec, p: &BaseProducer<Delivered>, _: &TenantState| {
                for id in &gone {
                    let key = blob_key(&tenant, id);
                    let rec: BaseRecord<'_, str, [u8]> =
                        BaseRecord::to(&spec.checkpoint_topic).key(key.as_str());
                    send(p, rec)?;
                }
                Ok(())
            };
            if let Err(e) = self.transaction(&tenant, fill, |_, _| {}) {
                tracing::warn!(tenant, error = %e, "could not write the pruning tombstones (retried in an hour)");
            }
        }
        Ok(())
    }
}
