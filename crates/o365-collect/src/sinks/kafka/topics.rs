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

/// Create the topic (and, with `checkpoints`, the checkpoint topic) when it does not exist.
pub(crate) fn ensure_topics(spec: &KafkaSpec, checkpoints: bool) -> Result<(), SinkError> {
    let probe: BaseConsumer = spec
        .config()
        .set("group.id", format!("{}-probe", spec.prefix))
        .create()
        .map_err(|e| SinkError::Bus(format!("kafka: {e}")))?;
    let md = probe.fetch_metadata(None, TIMEOUT).map_err(|e| {
        SinkError::Bus(format!(
            "kafka: cannot reach {} ({e}); check the brokers and the security settings",
            spec.brokers
        ))
    })?;
    let exists = |name: &str| {
        md.topics()
            .iter()
            .any(|t| t.name() == name && t.error().is_none() && !t.partitions().is_empty())
    };
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
    Ok(())
}
