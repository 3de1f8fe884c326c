//! What consumers can already see of a tenant beyond its last checkpoint.
//!
//! A transaction that never commits (the process was killed) is aborted when the tenant's next
//! producer starts. A broker that filters aborted data from `read_committed` reads hides its
//! records; one that does not leaves them visible. Either way, exactly once means: what any
//! consumer can see is never written again. So each transaction records, after its events are
//! acknowledged, the tail of the events topic (the end of each partition then) in its checkpoint;
//! when a tenant's producer starts, the events topic is read from that tail, and every event of
//! the tenant found there counts as written. On a filtering broker nothing is found; on the
//! other kind, the killed transaction's visible events are found and not repeated. Their keys
//! are recorded in the checkpoint at once (`s|` records): the tenant's next transaction moves
//! the tail past them, and a later scan would no longer find them.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::reader::{EndIsNews, FETCH_WAIT_MS};
use super::spec::KafkaSpec;
use crate::key::dedup_key;
use crate::sinks::SinkError;

const TIMEOUT: Duration = Duration::from_secs(60);

fn bus(e: impl std::fmt::Display) -> SinkError {
    SinkError::Bus(format!("kafka: reading the events topic: {e}"))
}

/// The ends (high watermarks) of the events topic's partitions, asked of the brokers. Asked
/// before a transaction's events are sent, they are at or before every one of them: a valid
/// tail (a broker that answers with less than the end only makes the next scan longer).
pub(super) struct Ends {
    consumer: BaseConsumer<EndIsNews>,
    topic: String,
    partitions: Mutex<Vec<i32>>,
}

impl Ends {
    /// A client for asking (it reads nothing).
    pub(super) fn new(spec: &KafkaSpec) -> Result<Self, SinkError> {
        let consumer = spec
            .config()
            .set("group.id", format!("{}-tail-reader", spec.prefix))
            .set("enable.auto.commit", "false")
            // The end of what is written, open transactions included.
            .set("isolation.level", "read_uncommitted")
            .create_with_context(EndIsNews)
            .map_err(bus)?;
        Ok(Self {
            consumer,
            topic: spec.topic.clone(),
            partitions: Mutex::new(vec![]),
        })
    }

    /// Every partition's end, the partitions looked up afresh.
    pub(super) fn all(&self) -> Result<HashMap<i32, i64>, SinkError> {
        let md = self
            .consumer
            .fetch_metadata(Some(&self.topic), TIMEOUT)
            .map_err(bus)?;
        let parts: Vec<i32> = md
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        *self.partitions.lock().unwrap_or_else(|p| p.into_inner()) = parts.clone();
        self.of(&parts).map_err(bus)
    }

    /// The ends of the partitions last looked up.
    pub(super) fn known(&self) -> Result<HashMap<i32, i64>, KafkaError> {
        let parts = self
            .partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        self.of(&parts)
    }

    fn of(&self, parts: &[i32]) -> Result<HashMap<i32, i64>, KafkaError> {
        let mut out = HashMap::new();
        for p in parts {
            let (_, high) = self.consumer.fetch_watermarks(&self.topic, *p, TIMEOUT)?;
            out.insert(*p, high);
        }
        Ok(out)
    }
}

fn consumer(spec: &KafkaSpec) -> Result<BaseConsumer<EndIsNews>, SinkError> {
    spec.config()
        .set("group.id", format!("{}-tail-reader", spec.prefix))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", FETCH_WAIT_MS)
        .create_with_context(EndIsNews)
        .map_err(bus)
}

/// Event keys found beyond the tails, by tenant.
pub(super) type Visible = HashMap<String, crate::key::KeySet>;

/// The de-duplication keys of each tenant's events visible after its tail, in one read of the
/// events topic (from the lowest tail of each partition to its end as it is now).
pub(super) fn visible_after(
    spec: &KafkaSpec,
    ends: &Ends,
    tails: &HashMap<String, HashMap<i32, i64>>,
) -> Result<Visible, SinkError> {
    let mut found: Visible = tails
        .keys()
        .map(|t| (t.clone(), crate::key::KeySet::default()))
        .collect();
    if tails.is_empty() {
        return Ok(found);
    }
    let c = consumer(spec)?;
    let end = ends.all()?;
    let from = |tenant: &str, p: i32| -> i64 {
        tails
            .get(tenant)
            .and_then(|t| t.get(&p))
            .copied()
            .unwrap_or(0)
    };
    let mut tpl = TopicPartitionList::new();
    let mut left: HashSet<i32> = HashSet::new();
    // Per partition, the offset after the last record read.
    let mut next: HashMap<i32, i64> = HashMap::new();
    for (p, high) in &end {
        let lowest = tails.keys().map(|t| from(t, *p)).min().unwrap_or(0);
        if lowest < *high {
            tpl.add_partition_offset(&spec.topic, *p, Offset::Offset(lowest))
                .map_err(bus)?;
            left.insert(*p);
            next.insert(*p, lowest);
        }
    }
    if left.is_empty() {
        return Ok(found);
    }
    c.assign(&tpl).map_err(bus)?;
    let deadline = Instant::now() + TIMEOUT;
    // To the end as it was at the start: past every transaction open then (read_committed
    // waits for them), so nothing of these tenants stays hidden behind another's. A partition
    // is done when a fetch reports its end (some brokers answer the offsets query with less
    // than the end: the start of the last batch, plus one).
    while !left.is_empty() {
        if Instant::now() > deadline {
            return Err(bus(format!(
                "partitions {left:?} not read to their end after {TIMEOUT:?} (a transaction of another instance is still open)"
            )));
        }
        match c.poll(Duration::from_millis(500)) {
            None => {}
            Some(Ok(m)) => {
                next.insert(m.partition(), m.offset() + 1);
                let Some((tenant, id)) = m
                    .key()
                    .and_then(|k| std::str::from_utf8(k).ok())
                    .and_then(|k| k.split_once('/'))
                else {
                    continue;
                };
                if m.offset() < from(tenant, m.partition()) {
                    continue;
                }
                let Some(keys) = found.get_mut(tenant) else {
                    continue;
                };
                let created = m
                    .headers()
                    .and_then(|h| {
                        h.iter()
                            .find(|h| h.key == "creation_time")
                            .and_then(|h| h.value)
                            .and_then(|v| std::str::from_utf8(v).ok())
                            .and_then(o365_api::event::parse_creation_time)
                    })
                    .map(|t| t.and_utc().timestamp())
                    .unwrap_or(0);
                keys.insert((created, dedup_key(tenant, id)));
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                // At the end of what is stable: done once that is the end we set out for.
                let mut at = next.get(&p).copied().unwrap_or(0);
                if let Ok(pos) = c.position() {
                    for e in pos.elements().iter().filter(|e| e.partition() == p) {
                        if let Offset::Offset(o) = e.offset() {
                            at = at.max(o);
                        }
                    }
                }
                if at >= end.get(&p).copied().unwrap_or(0) {
                    left.remove(&p);
                }
            }
            Some(Err(e)) => return Err(bus(e)),
        }
    }
    for (tenant, keys) in &found {
        if !keys.is_empty() {
            tracing::warn!(
                tenant,
                events = keys.len(),
                "events of an unfinished transaction are visible to consumers (this broker does not hide aborted data): they count as written"
            );
        }
    }
    Ok(found)
}
