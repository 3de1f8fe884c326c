//! Forwarding to a Kafka topic, exactly once: before a batch is sent, the partitions' ends are
//! recorded with it as pending; once every record is acknowledged the cursor moves and the
//! pending batch is cleared. After a stop in between, the topic is read from the recorded ends
//! and the batch's lines found there (each record carries its spool offset in a header) are
//! not sent again; the others are.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::cursor::{Cursor, Pending, Position};
use super::file::advance;
use super::{Line, Output, Spool};
use crate::sinks::kafka::reader::{EndIsNews, FETCH_WAIT_MS};
use crate::sinks::kafka::KafkaSpec;
use crate::sinks::SinkError;

/// The header holding a record's spool offset.
pub const OFFSET_HEADER: &str = "o365-spool-offset";
const TIMEOUT: Duration = Duration::from_secs(60);

fn bus(what: &str, e: impl std::fmt::Display) -> SinkError {
    SinkError::Bus(format!("kafka: {what}: {e}"))
}

/// Keeps the first record that failed.
#[derive(Default)]
struct Failures(Mutex<Option<KafkaError>>);

impl ClientContext for Failures {}

impl ProducerContext for Failures {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = r {
            let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
            f.get_or_insert_with(|| e.clone());
        }
    }
}

pub(super) struct Kafka {
    spec: KafkaSpec,
    producer: BaseProducer<Failures>,
    partitions: Vec<i32>,
}

impl Kafka {
    pub(super) fn open(spec: KafkaSpec, spool: &Path) -> Result<Self, SinkError> {
        crate::sinks::kafka::topics::ensure_topics(&spec, false)?;
        let producer: BaseProducer<Failures> = spec
            .config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("client.id", format!("{}-alerts", spec.prefix))
            .create_with_context(Failures::default())
            .map_err(|e| bus("producer", e))?;
        let md = producer
            .client()
            .fetch_metadata(Some(&spec.topic), TIMEOUT)
            .map_err(|e| bus(&format!("cannot reach {}", spec.brokers), e))?;
        let partitions: Vec<i32> = md
            .topics()
            .iter()
            .filter(|t| t.name() == spec.topic)
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(bus("topic", format!("{} has no partitions", spec.topic)));
        }
        tracing::info!(topic = %spec.topic, spool = %spool.display(), "forwarding alerts to kafka");
        Ok(Self {
            spec,
            producer,
            partitions,
        })
    }

    /// Each partition's end now, as `partition:offset,...`.
    fn ends(&self) -> Result<String, SinkError> {
        let mut v = Vec::with_capacity(self.partitions.len());
        for p in &self.partitions {
            let (_, high) = self
                .producer
                .client()
                .fetch_watermarks(&self.spec.topic, *p, TIMEOUT)
                .map_err(|e| bus("topic offsets", e))?;
            v.push(format!("{p}:{high}"));
        }
        Ok(v.join(","))
    }

    /// Spool offsets found in the topic from `ends` on, within `from..to`.
    fn arrived(&self, ends: &str, from: u64, to: u64) -> Result<HashSet<u64>, SinkError> {
        let consumer: BaseConsumer<EndIsNews> = self
            .spec
            .config()
            .set("group.id", format!("{}-alerts-recovery", self.spec.prefix))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("fetch.wait.max.ms", FETCH_WAIT_MS)
            .create_with_context(EndIsNews)
            .map_err(|e| bus("recovery reader", e))?;
        let mut tpl = TopicPartitionList::new();
        let mut wanted: HashMap<i32, i64> = HashMap::new();
        // The offset after the last record read, per partition.
        let mut next: HashMap<i32, i64> = HashMap::new();
        for item in ends.split(',').filter(|s| !s.is_empty()) {
            let parsed = item
                .split_once(':')
                .and_then(|(p, o)| Some((p.parse::<i32>().ok()?, o.parse::<i64>().ok()?)));
            let Some((p, start)) = parsed else {
                return Err(bus("recovery", format!("unreadable note {ends:?}")));
            };
            let (_, high) = consumer
                .fetch_watermarks(&self.spec.topic, p, TIMEOUT)
                .map_err(|e| bus("topic offsets", e))?;
            if high > start {
                tpl.add_partition_offset(&self.spec.topic, p, Offset::Offset(start))
                    .map_err(|e| bus("recovery reader", e))?;
                wanted.insert(p, high);
                next.insert(p, start);
            }
        }
        let mut found = HashSet::new();
        if wanted.is_empty() {
            return Ok(found);
        }
        consumer
            .assign(&tpl)
            .map_err(|e| bus("recovery reader", e))?;
        // Some brokers answer the offsets query with less than the end: a partition is read
        // until a fetch reports its end, and not before the offset asked for.
        let deadline = Instant::now() + TIMEOUT;
        while !wanted.is_empty() {
            if Instant::now() > deadline {
                return Err(bus("recovery", "the topic was not read to its end in time"));
            }
            match consumer.poll(Duration::from_millis(500)) {
                None => {}
                Some(Ok(m)) => {
                    let offset = m.headers().and_then(|h| {
                        h.iter()
                            .find(|h| h.key == OFFSET_HEADER)
                            .and_then(|h| std::str::from_utf8(h.value?).ok()?.parse::<u64>().ok())
                    });
                    if let Some(o) = offset.filter(|o| (from..to).contains(o)) {
                        found.insert(o);
                    }
                    next.insert(m.partition(), m.offset() + 1);
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    let at = next.get(&p).copied().unwrap_or(0);
                    if wanted.get(&p).is_some_and(|high| at >= *high) {
                        wanted.remove(&p);
                    }
                }
                Some(Err(e)) => return Err(bus("recovery", e)),
            }
        }
        Ok(found)
    }

    /// Send `lines` and wait until every one is acknowledged.
    fn send(&self, lines: &[&Line]) -> Result<(), SinkError> {
        for l in lines {
            let key = l.key();
            let offset = l.start.to_string();
            let headers = OwnedHeaders::new().insert(Header {
                key: OFFSET_HEADER,
                value: Some(&offset),
            });
            let mut rec = BaseRecord::to(&self.spec.topic)
                .key(&key)
                .payload(&l.text)
                .headers(headers);
            let deadline = Instant::now() + TIMEOUT;
            loop {
                match self.producer.send(rec) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                        if Instant::now() < deadline =>
                    {
                        rec = r;
                        self.producer.poll(Duration::from_millis(100));
                    }
                    Err((e, _)) => return Err(bus("sending an alert", e)),
                }
            }
        }
        self.producer
            .flush(TIMEOUT)
            .map_err(|e| bus("waiting for acknowledgements", e))?;
        if let Some(e) = self
            .producer
            .context()
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return Err(bus("an alert was refused", e));
        }
        Ok(())
    }
}

impl Output for Kafka {
    fn recover(
        &mut self,
        pos: &mut Position,
        spool: &Spool,
        cursor: &Cursor,
    ) -> Result<(), SinkError> {
        let Some(p) = pos.pending.clone() else {
            return Ok(());
        };
        let (lines, _) = spool.read(p.from, p.to, usize::MAX)?;
        let found = self.arrived(&p.note, p.from, p.to)?;
        let missing: Vec<&Line> = lines.iter().filter(|l| !found.contains(&l.start)).collect();
        tracing::info!(
            batch = lines.len(),
            arrived = lines.len() - missing.len(),
            "a batch sent before a stop: sending only what did not arrive"
        );
        self.send(&missing)?;
        advance(pos, cursor, &lines, None)
    }

    fn deliver(
        &mut self,
        lines: &[Line],
        pos: &mut Position,
        cursor: &Cursor,
    ) -> Result<(), SinkError> {
        let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
            return Ok(());
        };
        let pending = Pending {
            from: first.start,
            to: last.end,
            note: self.ends()?,
        };
        cursor.set_pending(&pending)?;
        pos.pending = Some(pending);
        self.send(&lines.iter().collect::<Vec<_>>())?;
        advance(pos, cursor, lines, None)
    }
}
