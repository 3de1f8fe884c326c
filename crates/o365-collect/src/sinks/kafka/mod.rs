//! Kafka: one record per event (key = tenant + event `Id`, value = the event's bytes as served,
//! headers = tenant, content type, content id, creation time), written exactly once with
//! transactions; the checkpoints live in a compacted topic beside the events, so the collector
//! needs no local state at all.

mod batch;
mod owned;
mod producer;
pub(crate) mod reader;
mod ready;
mod records;
mod spec;
mod tail;
pub(crate) mod topics;
mod writer;

use std::time::Duration;

use chrono::Utc;
use o365_api::ContentType;
use rdkafka::consumer::{BaseConsumer, Consumer};

pub use spec::KafkaSpec;

use crate::sinks::{Sink, SinkError, SinkKind, SinkSpec, SpecContext, TypeStatus};

/// Parse `kafka://HOST:PORT[,HOST:PORT]/TOPIC[?options]`.
pub fn parse(rest: Option<&str>, _: &SpecContext) -> Result<SinkSpec, String> {
    let rest = rest.ok_or("write kafka://HOST:PORT/TOPIC")?;
    Ok(SinkSpec::new(KafkaSink(KafkaSpec::parse(rest)?)))
}

/// The Kafka sink.
#[derive(Debug, Clone)]
pub struct KafkaSink(pub KafkaSpec);

impl SinkKind for KafkaSink {
    fn name(&self) -> String {
        self.0.name()
    }

    fn check(&self) -> Result<(), SinkError> {
        let probe: BaseConsumer = self
            .0
            .config()
            .set("group.id", format!("{}-probe", self.0.prefix))
            .create()
            .map_err(|e| SinkError::Bus(format!("kafka: {e}")))?;
        probe
            .fetch_metadata(None, Duration::from_secs(15))
            .map(drop)
            .map_err(|e| {
                SinkError::Bus(format!(
                    "kafka: cannot reach {} ({e}); check the brokers and the security settings",
                    self.0.brokers
                ))
            })
    }

    fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        Ok(Box::new(writer::KafkaWriter::new(self.0.clone())))
    }

    fn status(&self, tenant: &str) -> Result<Option<Vec<TypeStatus>>, SinkError> {
        // Read only: no producer is made, so nothing is fenced.
        topics::ensure(&self.0)?;
        let mut r = reader::Reader::new(&self.0)?;
        r.catch_up()?;
        let Some(st) = r.checkpoints.tenants.remove(tenant) else {
            return Ok(None);
        };
        let now = Utc::now().timestamp_millis();
        Ok(Some(
            ContentType::ALL
                .iter()
                .map(|ct| {
                    let cur = st.cursors.get(ct);
                    let blobs: Vec<&records::BlobRec> =
                        st.blobs.values().filter(|b| b.ct == *ct).collect();
                    TypeStatus {
                        content_type: ct.as_str(),
                        cursor: cur.map(|c| records::time(c.cursor)),
                        lag_seconds: cur.map(|c| (c.service_now + (now - c.at) - c.cursor) / 1000),
                        blobs_done: blobs.len() as u64,
                        events_seen: blobs.iter().map(|b| b.events).sum(),
                        events_written: blobs.iter().map(|b| b.written).sum(),
                        blobs_lost: blobs.iter().filter(|b| b.lost.is_some()).count() as u64,
                        retention_gaps: st
                            .gaps
                            .values()
                            .filter(|g| g.ct == *ct)
                            .map(|g| {
                                (
                                    crate::checkpoint::ts(records::time(g.start)),
                                    crate::checkpoint::ts(records::time(g.end)),
                                    "older than the 7-day retention".to_string(),
                                )
                            })
                            .collect(),
                        first_done: blobs.iter().map(|b| b.created).min().map(records::time),
                        hourly: crate::status::HourCount::tally(
                            blobs.iter().map(|b| (b.created, b.written)),
                        ),
                    }
                })
                .collect(),
        ))
    }
}
