//! Kafka: one record per event (key = tenant + event `Id`, value = the event's bytes as served,
//! headers = tenant, content type, content id, creation time), written exactly once with
//! transactions; the checkpoints live in a compacted topic beside the events, so the collector
//! needs no local state at all.

mod batch;
mod fleet_writer;
mod group;
mod owned;
mod producer;
pub(crate) mod reader;
mod ready;
mod records;
mod spec;
mod tail;
pub(crate) mod topics;
mod wave;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use o365_api::ContentType;
use rdkafka::consumer::{BaseConsumer, Consumer};

pub use group::{partition_of, Held};
pub use spec::{options, KafkaSpec};

use crate::sinks::{Sink, SinkError, SinkKind, SinkSpec, SpecContext, TypeStatus};

/// Parse `kafka://HOST:PORT[,HOST:PORT]/TOPIC[?options]`.
pub fn parse(rest: Option<&str>, _: &SpecContext) -> Result<SinkSpec, String> {
    let rest = rest.ok_or("write kafka://HOST:PORT/TOPIC")?;
    Ok(SinkSpec::new(KafkaKind {
        spec: KafkaSpec::parse(rest)?,
        fleet: None,
    }))
}

/// A seat in a fleet: this instance's id, and where what it holds is published.
#[derive(Debug)]
struct Seat {
    instance: String,
    held: Arc<tokio::sync::watch::Sender<Held>>,
}

/// The Kafka sink: alone (one producer per tenant, fenced by the tenant's transactional id) or
/// as an instance of a fleet (tenants shared by the group protocol, one producer).
#[derive(Debug, Clone)]
pub struct KafkaKind {
    spec: KafkaSpec,
    fleet: Option<Arc<Seat>>,
}

impl SinkKind for KafkaKind {
    fn name(&self) -> String {
        self.spec.name()
    }

    fn check(&self) -> Result<(), SinkError> {
        let probe: BaseConsumer = self
            .spec
            .config()
            .set("group.id", format!("{}-probe", self.spec.prefix))
            .create()
            .map_err(|e| SinkError::Bus(format!("kafka: {e}")))?;
        probe
            .fetch_metadata(None, Duration::from_secs(15))
            .map_err(|e| {
                SinkError::Unreachable(format!(
                    "kafka: cannot reach {} ({e}); check the brokers and the security settings",
                    self.spec.brokers
                ))
            })?;
        if self.spec.exactly_once {
            producer::probe_transactions(&self.spec)?;
        }
        Ok(())
    }

    fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        match &self.fleet {
            Some(seat) => Ok(Box::new(fleet_writer::FleetWriter::new(
                self.spec.clone(),
                &seat.instance,
                seat.held.clone(),
            )?)),
            None => Ok(Box::new(writer::KafkaWriter::new(self.spec.clone()))),
        }
    }

    fn in_fleet(&self, instance: &str) -> Option<(SinkSpec, tokio::sync::watch::Receiver<Held>)> {
        let (tx, rx) = tokio::sync::watch::channel(Held::default());
        let sink = KafkaKind {
            spec: self.spec.clone(),
            fleet: Some(Arc::new(Seat {
                instance: instance.to_string(),
                held: Arc::new(tx),
            })),
        };
        Some((SinkSpec::new(sink), rx))
    }

    fn tenants(&self) -> Result<Vec<String>, SinkError> {
        // Read only, as `status`.
        topics::ensure(&self.spec)?;
        let mut r = reader::Reader::new(&self.spec)?;
        r.catch_up()?;
        Ok(r.checkpoints.tenants.keys().cloned().collect())
    }

    fn status(&self, tenant: &str) -> Result<Option<Vec<TypeStatus>>, SinkError> {
        // Read only: no producer is made, so nothing is fenced.
        topics::ensure(&self.spec)?;
        let mut r = reader::Reader::new(&self.spec)?;
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
                                    crate::key::ts(records::time(g.start)),
                                    crate::key::ts(records::time(g.end)),
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
