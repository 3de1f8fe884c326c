//! The topics the sink needs: created when missing (the checkpoint topic compacted).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use super::spec::KafkaSpec;
use crate::sinks::SinkError;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Create the events and checkpoint topics when they do not exist.
pub(super) fn ensure(spec: &KafkaSpec) -> Result<(), SinkError> {
    ensure_topics(spec, true)
}

/// The partitions of each topic the cluster has (a topic missing has none).
fn partitions(spec: &KafkaSpec) -> Result<Vec<(String, i32)>, SinkError> {
    let probe: BaseConsumer = spec
        .config()
        .set("group.id", format!("{}-probe", spec.prefix))
        .create()
        .map_err(|e| SinkError::Bus(format!("kafka: {e}")))?;
    let md = probe.fetch_metadata(None, TIMEOUT).map_err(|e| {
        SinkError::Unreachable(format!(
            "kafka: cannot reach {} ({e}); check the brokers and the security settings",
            spec.brokers
        ))
    })?;
    Ok(md
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_string(), t.partitions().len() as i32))
        .collect())
}

/// Create the events and checkpoint topics, and the assignment topic with the partitions the
/// spec asks for, when missing; returns the partitions the assignment topic has (which decide
/// the tenants' partitions, the same for every instance).
pub(super) fn ensure_assignments(spec: &KafkaSpec) -> Result<i32, SinkError> {
    ensure(spec)?;
    let name = spec.assignment_topic();
    let has = |all: &[(String, i32)]| {
        all.iter()
            .find(|(t, n)| *t == name && *n > 0)
            .map(|(_, n)| *n)
    };
    if let Some(n) = has(&partitions(spec)?) {
        if n != spec.assignment_partitions {
            tracing::warn!(topic = %name, partitions = n, asked = spec.assignment_partitions, "the assignment topic exists with another partition count: its own count is used");
        }
        return Ok(n);
    }
    create(
        spec,
        vec![NewTopic::new(
            &name,
            spec.assignment_partitions,
            TopicReplication::Fixed(spec.replication),
        )],
    )?;
    // Another instance may have made it first: its count wins.
    Ok(has(&partitions(spec)?).unwrap_or(spec.assignment_partitions))
}

/// Create the topic (and, with `checkpoints`, the checkpoint topic) when it does not exist.
pub(crate) fn ensure_topics(spec: &KafkaSpec, checkpoints: bool) -> Result<(), SinkError> {
    let all = partitions(spec)?;
    let exists = |name: &str| all.iter().any(|(t, n)| t == name && *n > 0);
    let mut wanted = Vec::new();
    if !exists(&spec.topic) {
        wanted.push(NewTopic::new(
            &spec.topic,
            spec.partitions,
            TopicReplication::Fixed(spec.replication),
        ));
    }
    if checkpoints && !exists(&spec.checkpoint_topic) {
        wanted.push(
            NewTopic::new(
                &spec.checkpoint_topic,
                1,
                TopicReplication::Fixed(spec.replication),
            )
            .set("cleanup.policy", "compact"),
        );
    }
    create(spec, wanted)
}

/// Create these topics (one that exists by now is fine).
fn create(spec: &KafkaSpec, wanted: Vec<NewTopic<'_>>) -> Result<(), SinkError> {
    if wanted.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = spec
        .config()
        .create()
        .map_err(|e| SinkError::Bus(format!("kafka: {e}")))?;
    let results = futures::executor::block_on(admin.create_topics(
        &wanted,
        &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
    ))
    .map_err(|e| SinkError::Bus(format!("kafka: creating topics: {e}")))?;
    let names: Vec<String> = wanted.iter().map(|t| t.name.to_string()).collect();
    for r in results {
        match r {
            Ok(name) => tracing::info!(topic = %name, "topic created"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(SinkError::Bus(format!(
                    "kafka: cannot create topic {name} ({code}): create it yourself (the checkpoint topic with one partition and cleanup.policy=compact) or grant the right to create topics"
                )))
            }
        }
    }
    // A topic just created may take a moment to show its partitions in the metadata.
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let all = partitions(spec)?;
        let visible = |n: &String| all.iter().any(|(t, p)| t == n && *p > 0);
        if names.iter().all(visible) || std::time::Instant::now() > deadline {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
