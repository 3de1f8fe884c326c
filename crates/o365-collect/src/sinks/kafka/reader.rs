//! The checkpoint topic read back: committed records only, into [`Checkpoints`].

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::records::Checkpoints;
use super::spec::KafkaSpec;
use crate::sinks::SinkError;

const READ_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a fetch at the end of a partition waits for news: reading to the end is done when
/// the end is reported, so this bounds the wait of every catch-up.
pub(crate) const FETCH_WAIT_MS: &str = "10";

fn bus(what: &str, e: impl std::fmt::Display) -> SinkError {
    SinkError::Bus(format!("kafka: {what}: {e}"))
}

/// A consumer context for which reaching the end of a partition is news, not an error.
pub(crate) struct EndIsNews;

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
    /// Where a fetch last reported the end of the partition.
    end_seen: Option<i64>,
    pub(super) checkpoints: Checkpoints,
    /// Tenants whose records this instance writes itself.
    pub(super) skip: HashSet<String>,
    /// The only tenants whose records are kept, if so limited.
    only: Option<HashSet<String>>,
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
            .set("fetch.wait.max.ms", FETCH_WAIT_MS)
            .create_with_context(EndIsNews)
            .map_err(|e| bus("checkpoint reader", e))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&spec.checkpoint_topic, 0, Offset::Beginning)
            .map_err(|e| bus("checkpoint reader", e))?;
        consumer
            .assign(&tpl)
            .map_err(|e| bus("checkpoint reader", e))?;
        // Fetching only while catching up.
        consumer
            .pause(&tpl)
            .map_err(|e| bus("checkpoint reader", e))?;
        Ok(Self {
            consumer,
            topic: spec.checkpoint_topic.clone(),
            position: 0,
            end_seen: None,
            checkpoints: Checkpoints::default(),
            skip: HashSet::new(),
            only: None,
        })
    }

    /// A reader that keeps the records of these tenants only.
    pub(super) fn only(spec: &KafkaSpec, tenants: HashSet<String>) -> Result<Self, SinkError> {
        let mut r = Self::new(spec)?;
        r.only = Some(tenants);
        Ok(r)
    }

    fn consumer_position(&self) -> Option<i64> {
        let p = self.consumer.position().ok()?;
        match p.find_partition(&self.topic, 0)?.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        }
    }

    fn partition(&self) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.topic, 0);
        tpl
    }

    /// Read every committed record written so far.
    pub(super) fn catch_up(&mut self) -> Result<(), SinkError> {
        let tpl = self.partition();
        self.consumer
            .resume(&tpl)
            .map_err(|e| bus("checkpoint reader", e))?;
        let read = self.read_to_end();
        let paused = self.consumer.pause(&tpl);
        read?;
        paused.map_err(|e| bus("checkpoint reader", e))
    }

    fn read_to_end(&mut self) -> Result<(), SinkError> {
        let deadline = Instant::now() + READ_TIMEOUT;
        let (_, high) = self
            .consumer
            .fetch_watermarks(&self.topic, 0, READ_TIMEOUT)
            .map_err(|e| bus("checkpoint topic offsets", e))?;
        // Some brokers answer the offsets query with less than the end (the start of the last
        // batch, plus one, or nothing at all): the first read, and any read with news, goes on
        // until a fetch reports the end.
        let mut at_end = self.position >= high && self.end_seen == Some(self.position);
        while self.position < high || !at_end {
            if Instant::now() > deadline {
                return Err(bus(
                    "reading the checkpoints",
                    format!("offset {} of {high} after {READ_TIMEOUT:?} (an open transaction of another instance?)", self.position),
                ));
            }
            match self.consumer.poll(Duration::from_millis(500)) {
                None => {}
                Some(Ok(m)) => {
                    at_end = false;
                    self.position = m.offset() + 1;
                    if let Some(k) = m.key() {
                        let (skip, only) = (&self.skip, &self.only);
                        self.checkpoints.apply(k, m.payload(), |t| {
                            !skip.contains(t) && only.as_ref().is_none_or(|o| o.contains(t))
                        });
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    // At the end of what is committed; markers and aborted records are skipped.
                    at_end = true;
                    if let Some(p) = self.consumer_position() {
                        self.position = self.position.max(p);
                    }
                    self.end_seen = Some(self.position);
                }
                Some(Err(e)) => return Err(bus("reading the checkpoints", e)),
            }
        }
        Ok(())
    }
}
