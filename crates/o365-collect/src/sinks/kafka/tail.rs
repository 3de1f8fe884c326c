//! What consumers can already see of a tenant beyond its last checkpoint.
//!
//! A transaction that never commits (the process was killed) is aborted when the tenant's next
//! producer starts. A broker that filters aborted data from `read_committed` reads hides its
//! records; one that does not leaves them visible. Either way, exactly once means: what any
//! consumer can see is never written again. So each transaction records, after its events are
//! acknowledged, the tail of the events topic (next offset per partition) in its checkpoint;
//! when a tenant's producer starts, the events topic is read from that tail, and every event of
//! the tenant found there counts as written. On a filtering broker nothing is found; on the
//! other kind, the killed transaction's visible events are found and not repeated.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Headers, Message};
use rdkafka::producer::ProducerContext;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::spec::KafkaSpec;
use super::writer::EndIsNews;
use crate::checkpoint::dedup_key;
use crate::sinks::SinkError;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A producer context that remembers, per partition of the events topic, the offset after the
/// last record it delivered.
pub(super) struct Delivered {
    topic: String,
    next: Mutex<HashMap<i32, i64>>,
}

impl Delivered {
    pub(super) fn new(topic: &str) -> Self {
        Self {
            topic: topic.into(),
            next: Mutex::new(HashMap::new()),
        }
    }

    /// The tail after everything delivered so far, over `base`.
    pub(super) fn tail(&self, base: &HashMap<i32, i64>) -> HashMap<i32, i64> {
        let mut t = base.clone();
        if let Ok(n) = self.next.lock() {
            for (p, o) in n.iter() {
                let e = t.entry(*p).or_insert(0);
                *e = (*e).max(*o);
            }
        }
        t
    }
}

impl ClientContext for Delivered {}

impl ProducerContext for Delivered {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        if let Ok(m) = r {
            if m.topic() == self.topic {
                if let Ok(mut n) = self.next.lock() {
                    let e = n.entry(m.partition()).or_insert(0);
                    *e = (*e).max(m.offset() + 1);
                }
            }
        }
    }
}

fn bus(e: impl std::fmt::Display) -> SinkError {
    SinkError::Bus(format!("kafka: reading the events topic: {e}"))
}

/// The current end of every partition of the events topic.
pub(super) fn ends(spec: &KafkaSpec) -> Result<HashMap<i32, i64>, SinkError> {
    let c: BaseConsumer<EndIsNews> = consumer(spec)?;
    let md = c.fetch_metadata(Some(&spec.topic), TIMEOUT).map_err(bus)?;
    let parts: Vec<i32> = md
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut out = HashMap::new();
    for p in parts {
        let (_, high) = c.fetch_watermarks(&spec.topic, p, TIMEOUT).map_err(bus)?;
        out.insert(p, high);
    }
    Ok(out)
}

fn consumer(spec: &KafkaSpec) -> Result<BaseConsumer<EndIsNews>, SinkError> {
    spec.config()
        .set("group.id", format!("{}-tail-reader", spec.prefix))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create_with_context(EndIsNews)
        .map_err(bus)
}

/// The de-duplication keys of `tenant`'s events visible after `tail`.
pub(super) fn visible_after(
    spec: &KafkaSpec,
    tenant: &str,
    tail: &HashMap<i32, i64>,
) -> Result<HashSet<(i64, i64)>, SinkError> {
    let c = consumer(spec)?;
    let end = ends(spec)?;
    let mut tpl = TopicPartitionList::new();
    let mut left: HashSet<i32> = HashSet::new();
    for (p, high) in &end {
        let from = tail.get(p).copied().unwrap_or(0);
        if from < *high {
            tpl.add_partition_offset(&spec.topic, *p, Offset::Offset(from))
                .map_err(bus)?;
            left.insert(*p);
        }
    }
    let mut keys = HashSet::new();
    if left.is_empty() {
        return Ok(keys);
    }
    c.assign(&tpl).map_err(bus)?;
    let prefix = format!("{tenant}/");
    let deadline = Instant::now() + TIMEOUT;
    // To the end as it was at the start: past every transaction open then (read_committed
    // waits for them), so nothing of this tenant's stays hidden behind another's.
    while !left.is_empty() {
        if Instant::now() > deadline {
            return Err(bus(format!(
                "partitions {left:?} not read to their end after {TIMEOUT:?} (a transaction of another instance is still open)"
            )));
        }
        match c.poll(Duration::from_millis(500)) {
            None => {}
            Some(Ok(m)) => {
                if m.offset() + 1 >= end.get(&m.partition()).copied().unwrap_or(0) {
                    left.remove(&m.partition());
                }
                let Some(id) = m
                    .key()
                    .and_then(|k| std::str::from_utf8(k).ok())
                    .and_then(|k| k.strip_prefix(&prefix))
                else {
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
            Some(Err(KafkaError::PartitionEOF(_))) => {
                // At the end of what is stable: done once that is the end we set out for.
                if let Ok(pos) = c.position() {
                    for e in pos.elements() {
                        if let Offset::Offset(o) = e.offset() {
                            if o >= end.get(&e.partition()).copied().unwrap_or(0) {
                                left.remove(&e.partition());
                            }
                        }
                    }
                }
            }
            Some(Err(e)) => return Err(bus(e)),
        }
    }
    if !keys.is_empty() {
        tracing::warn!(
            tenant,
            events = keys.len(),
            "events of an unfinished transaction are visible to consumers (this broker does not hide aborted data): they count as written"
        );
    }
    Ok(keys)
}
