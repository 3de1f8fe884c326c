//! The fleet's share of the work, decided by Kafka's group protocol: every `serve` instance
//! with the same configuration joins one consumer group on the assignment topic
//! (`TOPIC.assignments`, P partitions). A tenant belongs to partition `stable_hash(tenant) mod
//! P`; an instance collects the tenants of the partitions the group gave it. Assignment is
//! cooperative-sticky (a rebalance moves only what must move) and membership static
//! (`group.instance.id`: an instance restarted within the session timeout gets its own back).
//!
//! The member is polled by the writer thread between transactions, so a revocation is taken in
//! before the next transaction begins: nothing of a revoked tenant is committed after the
//! callback returns. Each transaction also commits the group's offsets with the member's
//! generation (KIP-447): a zombie's is refused.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rdkafka::consumer::{
    BaseConsumer, Consumer, ConsumerContext, ConsumerGroupMetadata, Rebalance,
};
use rdkafka::error::KafkaError;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::watch;

use super::spec::KafkaSpec;
use crate::shard::stable_hash;
use crate::sinks::SinkError;

/// How long a member may go without serving the group (the writer serves it between
/// transactions and every 200 ms while idle; a commit waits 30 s at most).
const MAX_POLL_INTERVAL_MS: &str = "90000";

/// The partition of the assignment topic a tenant belongs to.
pub fn partition_of(tenant: &str, partitions: i32) -> i32 {
    let p = u64::try_from(partitions.max(1)).unwrap_or(1);
    i32::try_from(stable_hash(&tenant.trim().to_ascii_lowercase()) % p).unwrap_or(0)
}

/// What this instance holds in the group, for the service to act on and show.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Held {
    /// This instance (`group.instance.id`).
    pub instance: String,
    /// The consumer group.
    pub group: String,
    /// Whether the group gave this instance its share yet.
    pub joined: bool,
    /// Partitions of the assignment topic.
    pub partition_count: i32,
    /// The partitions this instance holds.
    pub partitions: BTreeSet<i32>,
    /// The group's generation this instance is in (-1 before it joined).
    pub generation: i32,
    /// Rebalances this instance took part in.
    pub rebalances: u64,
    /// When the last one ended.
    pub last_rebalance: Option<DateTime<Utc>>,
}

impl Held {
    /// Whether this instance collects `tenant` now.
    pub fn holds(&self, tenant: &str) -> bool {
        self.partitions
            .contains(&partition_of(tenant, self.partition_count))
    }
}

/// What a poll of the group brought.
#[derive(Debug)]
pub(super) enum Change {
    /// These partitions are now this instance's.
    Assigned(Vec<i32>),
    /// These partitions are no longer this instance's (given up, or lost).
    Revoked(Vec<i32>),
}

/// The consumer's context: the rebalance callbacks keep what changed for the writer.
#[derive(Default)]
pub(super) struct Rebalances {
    changes: Mutex<Vec<Change>>,
}

fn partitions(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

impl ClientContext for Rebalances {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "kafka group member");
    }
}

impl ConsumerContext for Rebalances {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = r {
            if let Ok(mut c) = self.changes.lock() {
                c.push(Change::Revoked(partitions(tpl)));
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        match r {
            Rebalance::Assign(tpl) => {
                if let Ok(mut c) = self.changes.lock() {
                    c.push(Change::Assigned(partitions(tpl)));
                }
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "group rebalance failed"),
            Rebalance::Revoke(_) => {}
        }
    }
}

/// This instance in the group.
pub(super) struct Member {
    consumer: BaseConsumer<Rebalances>,
    topic: String,
    held: Arc<watch::Sender<Held>>,
    spec: KafkaSpec,
    instance: String,
}

/// A consumer of the assignment topic in the group, as `instance`.
fn consumer(spec: &KafkaSpec, instance: &str) -> Result<BaseConsumer<Rebalances>, SinkError> {
    let bus = |e: KafkaError| SinkError::Bus(format!("kafka: joining group {}: {e}", spec.group));
    let consumer: BaseConsumer<Rebalances> = spec
        .config()
        .set("group.id", &spec.group)
        .set("group.instance.id", instance)
        .set("client.id", instance)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", spec.session_timeout_ms.to_string())
        .set(
            "heartbeat.interval.ms",
            (spec.session_timeout_ms / 5).max(500).to_string(),
        )
        // A member that has not served the group for this long is dropped from it (and a
        // rebalance waits no longer for it).
        .set("max.poll.interval.ms", MAX_POLL_INTERVAL_MS)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create_with_context(Rebalances::default())
        .map_err(bus)?;
    consumer
        .subscribe(&[&spec.assignment_topic()])
        .map_err(bus)?;
    Ok(consumer)
}

impl Member {
    /// Join the group as `instance` (the assignment topic is created when missing).
    pub fn join(
        spec: &KafkaSpec,
        instance: &str,
        held: Arc<watch::Sender<Held>>,
    ) -> Result<Self, SinkError> {
        let partition_count = super::topics::ensure_assignments(spec)?;
        let consumer = consumer(spec, instance)?;
        let topic = spec.assignment_topic();
        held.send_modify(|h| {
            h.instance = instance.to_string();
            h.group = spec.group.clone();
            h.partition_count = partition_count;
            h.generation = -1;
        });
        tracing::info!(group = %spec.group, instance, topic = %topic, "joining the fleet's group");
        Ok(Self {
            consumer,
            topic,
            held,
            spec: spec.clone(),
            instance: instance.to_string(),
        })
    }

    /// After a fatal error of the member (e.g. fenced by its own rejoin under the same
    /// `group.instance.id` once its session had expired, as after a long pause), join again
    /// with a new consumer: everything it held counts as revoked.
    fn rejoin(&mut self) -> Vec<Change> {
        let held: Vec<i32> = self.held.borrow().partitions.iter().copied().collect();
        match consumer(&self.spec, &self.instance) {
            Ok(c) => {
                tracing::warn!(group = %self.spec.group, "the group member failed for good: joining the group again");
                self.consumer = c;
                if held.is_empty() {
                    vec![]
                } else {
                    vec![Change::Revoked(held)]
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "could not join the group again (tried again soon)");
                vec![]
            }
        }
    }

    /// Serve the group (heartbeats run on their own; rebalances are served here) and return
    /// what changed since the last poll.
    pub fn poll(&mut self) -> Vec<Change> {
        // The topic stays empty: a poll only serves the group's events.
        while let Some(r) = self.consumer.poll(Duration::ZERO) {
            if let Err(e) = r {
                tracing::warn!(error = %e, "kafka group member");
                break;
            }
        }
        let mut changes = match self.consumer.context().changes.lock() {
            Ok(mut c) => std::mem::take(&mut *c),
            Err(_) => vec![],
        };
        if self.consumer.client().fatal_error().is_some() {
            changes.extend(self.rejoin());
        }
        if !changes.is_empty() {
            let generation = self.generation();
            self.held.send_modify(|h| {
                for c in &changes {
                    match c {
                        Change::Assigned(p) => h.partitions.extend(p.iter().copied()),
                        Change::Revoked(p) => {
                            for x in p {
                                h.partitions.remove(x);
                            }
                        }
                    }
                }
                h.joined = true;
                h.generation = generation;
                h.rebalances += 1;
                h.last_rebalance = Some(Utc::now());
            });
            tracing::info!(
                generation,
                partitions = ?self.held.borrow().partitions,
                "group rebalanced"
            );
        }
        changes
    }

    /// What this instance holds now.
    pub fn held(&self) -> Held {
        self.held.borrow().clone()
    }

    /// The offsets and group metadata every transaction commits: the broker refuses them when
    /// this member's generation is no longer the group's.
    pub fn fence(&self) -> Result<(TopicPartitionList, ConsumerGroupMetadata), KafkaError> {
        let cgm = self
            .consumer
            .group_metadata()
            .ok_or_else(super::owned::state_error)?;
        let mut tpl = TopicPartitionList::new();
        for p in &self.held.borrow().partitions {
            tpl.add_partition_offset(&self.topic, *p, Offset::Offset(0))?;
        }
        if tpl.count() == 0 {
            // Nothing held: offsets of partition 0 still carry the generation to be checked.
            tpl.add_partition_offset(&self.topic, 0, Offset::Offset(0))?;
        }
        Ok((tpl, cgm))
    }

    /// The group generation this member is in, as librdkafka's group metadata says (-1 when
    /// unknown).
    #[allow(unsafe_code)]
    pub fn generation(&self) -> i32 {
        use rdkafka::bindings as rd;
        let client = self.consumer.client().native_ptr();
        // SAFETY: `client` is this consumer's handle, alive for the whole call (`self.consumer`
        // holds it). `rd_kafka_consumer_group_metadata` returns a new object (or null) that we
        // destroy; `rd_kafka_consumer_group_metadata_write` fills `buf`/`size` with a buffer
        // librdkafka allocated, which we read within `size` and free with `rd_kafka_mem_free`;
        // its error object, if any, is destroyed.
        unsafe {
            let cgm = rd::rd_kafka_consumer_group_metadata(client);
            if cgm.is_null() {
                return -1;
            }
            let mut buf: *mut std::ffi::c_void = std::ptr::null_mut();
            let mut size: usize = 0;
            let err = rd::rd_kafka_consumer_group_metadata_write(cgm, &mut buf, &mut size);
            rd::rd_kafka_consumer_group_metadata_destroy(cgm);
            if !err.is_null() {
                rd::rd_kafka_error_destroy(err);
                return -1;
            }
            if buf.is_null() {
                return -1;
            }
            let bytes = std::slice::from_raw_parts(buf as *const u8, size);
            let generation = generation_of(bytes);
            rd::rd_kafka_mem_free(std::ptr::null_mut(), buf);
            generation
        }
    }
}

/// The generation in librdkafka's written group metadata: a 7-byte magic, then the generation
/// as a native-endian 32-bit integer.
fn generation_of(bytes: &[u8]) -> i32 {
    match bytes.get(7..11) {
        Some(b) if bytes.starts_with(b"CGMDv2:") => i32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
        _ => -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_generation_is_read_from_the_written_metadata() {
        let mut b = b"CGMDv2:".to_vec();
        b.extend_from_slice(&7i32.to_ne_bytes());
        b.extend_from_slice(b"group\0member\0\x01");
        assert_eq!(generation_of(&b), 7);
        assert_eq!(generation_of(b"CGMDv1:\x07\0\0\0"), -1);
        assert_eq!(generation_of(b"CGMDv2:"), -1);
    }

    #[test]
    fn a_tenant_written_either_way_is_in_one_partition() {
        let t = "5F1C2D3E-0A1B-4C2D-8E3F-112233445566";
        assert_eq!(partition_of(t, 64), partition_of(&t.to_lowercase(), 64));
        // Fixed: which partition a tenant is in must never change between releases.
        assert_eq!(partition_of("", 64), (0xcbf2_9ce4_8422_2325u64 % 64) as i32);
        let mut h = Held {
            partition_count: 64,
            ..Held::default()
        };
        assert!(!h.holds(t));
        h.partitions.insert(partition_of(t, 64));
        assert!(h.holds(t));
    }

    proptest! {
        /// Every tenant is in exactly one partition, within range.
        #[test]
        fn one_partition_in_range(tenant in "[a-z0-9.-]{1,40}", n in 1i32..200) {
            let p = partition_of(&tenant, n);
            prop_assert!((0..n).contains(&p));
        }
    }
}
