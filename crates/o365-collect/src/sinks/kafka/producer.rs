//! A transactional producer (one per tenant, or one per instance of a fleet): records sent,
//! their acknowledgements awaited without busy waiting, transactions begun, committed and
//! aborted.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientContext, TopicPartitionList};

use super::spec::KafkaSpec;
use super::wave::{Waves, LINGER_MS, RECORD_OVERHEAD};

/// How long starting a producer may take (it waits for an older producer's open transaction to
/// be aborted).
const INIT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a tenant's producer may keep a transaction open before the broker aborts it.
pub(super) const TENANT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the records of a transaction may take to be acknowledged, and its commit.
pub(super) const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether an error means another producer with the same transactional id took over.
pub(super) fn is_fenced(e: &KafkaError) -> bool {
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

/// Whether the brokers run transactions for this sink's producers: a producer with a probe
/// transactional id is started and dropped. Refused, the error names the refusal and the
/// option that works on such a broker.
pub(super) fn probe_transactions(spec: &KafkaSpec) -> Result<(), crate::sinks::SinkError> {
    let tid = format!("{}.probe", spec.prefix);
    let p: BaseProducer<Delivered> = spec
        .config()
        .set("transactional.id", &tid)
        .set("enable.idempotence", "true")
        .create_with_context(Delivered::default())
        .map_err(|e| crate::sinks::SinkError::Bus(format!("kafka: {e}")))?;
    p.init_transactions(PROBE_TIMEOUT).map_err(|e| {
        crate::sinks::SinkError::Bus(format!(
            "kafka: the brokers at {} refused a transaction for producer {tid} ({e}). Exactly-once needs transactions (and the right to use transactional ids starting with \"{}\"). A broker without them (Azure Event Hubs' Kafka endpoint, or a cluster that denies this principal transactional ids) takes exactly_once=false: an idempotent producer, records keyed TENANT_ID/EVENT_ID for consumer-side de-duplication, checkpoints written after the events are acknowledged (at least once)",
            spec.brokers, spec.prefix
        ))
    })
}

/// How long the start-up probe waits for a transaction to be granted.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// The producer's context: keeps the first record that failed (only failures are reported).
#[derive(Default)]
pub(super) struct Delivered {
    failed: Mutex<Option<KafkaError>>,
}

impl Delivered {
    fn take_failure(&self) -> Option<KafkaError> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl ClientContext for Delivered {}

impl ProducerContext for Delivered {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = r {
            let mut f = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            if f.is_none() {
                *f = Some(e.clone());
            }
        }
    }
}

/// A transactional producer. No thread polls it: only failed records are reported, so an idle
/// producer costs nothing.
pub(super) struct TxProducer {
    inner: BaseProducer<Delivered>,
    /// Whether it runs transactions (`exactly_once`); without, a "transaction" is its records
    /// sent and acknowledged, in order.
    transactional: bool,
    /// The records queued since all were last acknowledged (see `wave.rs`).
    waves: Mutex<Waves>,
}

impl TxProducer {
    /// Make and start the producer of transactional id `tid`, whose open transactions the
    /// broker aborts after `timeout`: an older producer with the same id is fenced and its open
    /// transaction aborted.
    pub(super) fn start(
        spec: &KafkaSpec,
        tid: &str,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        let mut config = spec.config();
        config
            .set("enable.idempotence", "true")
            .set("delivery.report.only.error", "true");
        // A wave leaves when it is flushed (unless the user chose a linger of their own).
        if config.get("linger.ms").is_none() && config.get("queue.buffering.max.ms").is_none() {
            config.set("linger.ms", LINGER_MS);
        }
        let waves = Mutex::new(Waves::for_settings(|k| config.get(k).map(String::from)));
        if !spec.exactly_once {
            let inner = config.create_with_context(Delivered::default())?;
            tracing::info!("producer ready (exactly_once=false: idempotent, no transactions)");
            return Ok(Self {
                inner,
                transactional: false,
                waves,
            });
        }
        let inner: BaseProducer<Delivered> = config
            .set("transactional.id", tid)
            .set("transaction.timeout.ms", timeout.as_millis().to_string())
            .create_with_context(Delivered::default())?;
        inner.init_transactions(INIT_TIMEOUT)?;
        tracing::info!(transactional_id = %tid, "producer ready: older producers of this id are fenced");
        Ok(Self {
            inner,
            transactional: true,
            waves,
        })
    }

    /// Commit `offsets` of the group in the open transaction: the broker refuses them, and so
    /// the transaction, when `group` is of a generation that is no longer the group's (KIP-447).
    pub(super) fn send_offsets(
        &self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), KafkaError> {
        if !self.transactional {
            return Ok(());
        }
        self.inner
            .send_offsets_to_transaction(offsets, group, COMMIT_TIMEOUT)
    }

    /// Whether librdkafka found this producer fenced (a fatal error it may report apart from
    /// the call that failed, e.g. when partitions are added to the transaction).
    pub(super) fn fenced(&self) -> bool {
        matches!(
            self.inner.client().fatal_error(),
            Some((
                RDKafkaErrorCode::Fenced | RDKafkaErrorCode::ProducerFenced,
                _
            ))
        )
    }

    /// Whether librdkafka found this producer unusable for good (it must be made afresh).
    pub(super) fn fatal(&self) -> bool {
        self.inner.client().fatal_error().is_some()
    }

    /// Send a record whose headers take `header_bytes` (their names and values), waiting for
    /// room in the producer's queue; a record that would not fit the wave queued waits until
    /// that wave is acknowledged (see `wave.rs`).
    pub(super) fn send(
        &self,
        mut rec: BaseRecord<'_, str, [u8]>,
        header_bytes: usize,
    ) -> Result<(), KafkaError> {
        let size = record_size(&rec, header_bytes);
        if self.waves().must_wait(size) {
            self.flush()?;
        }
        // Read the clock only when the queue is full (a record rarely waits).
        let mut deadline = None;
        loop {
            match self.inner.send(rec) {
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                    if Instant::now()
                        < *deadline.get_or_insert_with(|| Instant::now() + COMMIT_TIMEOUT) =>
                {
                    rec = r;
                    self.wait(Duration::from_millis(100))?;
                }
                Err((e, _)) => return Err(e),
                Ok(()) => {
                    self.waves().queue(size);
                    return Ok(());
                }
            }
        }
    }

    /// The waves' account.
    fn waves(&self) -> std::sync::MutexGuard<'_, Waves> {
        self.waves.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Send a checkpoint record: `rec` as JSON under `key` in `topic` (the checkpoint topic).
    pub(super) fn record(
        &self,
        topic: &str,
        key: &str,
        rec: &impl serde::Serialize,
    ) -> Result<(), KafkaError> {
        let value = serde_json::to_vec(rec).unwrap_or_default();
        self.send(BaseRecord::to(topic).key(key).payload(&value[..]), 0)
    }

    /// Send tombstones for `keys` in `topic` (the checkpoint topic): once compacted, the topic
    /// forgets those records too.
    pub(super) fn tombstones(&self, topic: &str, keys: &[String]) -> Result<(), KafkaError> {
        for key in keys {
            self.send(BaseRecord::to(topic).key(key.as_str()), 0)?;
        }
        Ok(())
    }

    /// Wait up to `d` for the records sent to be acknowledged; whether they all are.
    ///
    /// This blocks in librdkafka's `rd_kafka_flush`, on a condition variable, and sends what is
    /// queued at once. The wrapper offers no such wait: its flush and poll wait in whole slices
    /// of their timeout (a commit would take 100 ms at least) or spin through the last
    /// millisecond; looking again and again costs CPU for as long as a broker is slow.
    #[allow(unsafe_code)]
    fn wait(&self, d: Duration) -> Result<bool, KafkaError> {
        let ms = i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: the pointer is the handle of this producer's client, which `self.inner` keeps
        // alive for the whole call; librdkafka documents `rd_kafka_flush` as callable from any
        // thread, and it neither keeps nor frees the handle.
        let err =
            unsafe { rdkafka::bindings::rd_kafka_flush(self.inner.client().native_ptr(), ms) };
        // A failed record's report is queued for us (and holds the flush until taken in).
        self.inner.poll(Duration::ZERO);
        if let Some(e) = self.inner.context().take_failure() {
            return Err(e);
        }
        let all = err == rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR;
        if all {
            self.waves().drained();
        }
        Ok(all)
    }

    /// Wait until every record sent is acknowledged; a record that failed fails this.
    pub(super) fn flush(&self) -> Result<(), KafkaError> {
        let deadline = Instant::now() + COMMIT_TIMEOUT;
        // In slices, so that a failed record is seen soon.
        while !self.wait(Duration::from_millis(100))? {
            if Instant::now() >= deadline {
                return Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut));
            }
        }
        Ok(())
    }

    /// Run `fill` in one transaction, committed once every record is acknowledged. After a
    /// failure the transaction is aborted (unless the producer was fenced: then there is
    /// nothing left to abort).
    pub(super) fn transaction<T>(
        &self,
        fill: impl FnOnce(&Self) -> Result<T, KafkaError>,
    ) -> Result<T, KafkaError> {
        if !self.transactional {
            let t = fill(self)?;
            self.flush()?;
            return Ok(t);
        }
        let result = self
            .begin()
            .and_then(|()| fill(self))
            .and_then(|t| self.finish().map(|()| t));
        if let Err(e) = &result {
            if !is_fenced(e) {
                self.abort();
            }
        }
        result
    }

    /// Begin a transaction that stays open across calls until [`Self::finish`] commits it
    /// (or [`Self::abort`] drops it).
    pub(super) fn begin(&self) -> Result<(), KafkaError> {
        if !self.transactional {
            return Ok(());
        }
        self.inner.begin_transaction()
    }

    /// Commit the open transaction once every record sent is acknowledged.
    pub(super) fn finish(&self) -> Result<(), KafkaError> {
        self.flush()?;
        if !self.transactional {
            return Ok(());
        }
        self.inner.commit_transaction(COMMIT_TIMEOUT)
    }

    /// Abort the open transaction. The records it purges report their failure to this thread,
    /// and the abort waits until those reports are taken in: it is asked in short slices, the
    /// reports served between them (a single long call would wait its whole timeout, then
    /// leave the producer unable to begin the next transaction).
    pub(super) fn abort(&self) {
        let deadline = Instant::now() + COMMIT_TIMEOUT;
        loop {
            match self.inner.abort_transaction(Duration::from_millis(200)) {
                Ok(()) => break,
                Err(_) if Instant::now() < deadline && !self.fatal() => {
                    self.inner.poll(Duration::ZERO);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the transaction could not be aborted (the broker aborts it at its timeout)");
                    break;
                }
            }
        }
        // The purged records' failures belong to the aborted transaction, not the next one.
        self.inner.poll(Duration::ZERO);
        let _ = self.inner.context().take_failure();
    }
}

/// The bytes `rec` takes in a batch, at most: key, value, headers (`header_bytes`, as the
/// caller built them: reading them back from librdkafka costs more than the record's own
/// bookkeeping) and the record's framing.
fn record_size(rec: &BaseRecord<'_, str, [u8]>, header_bytes: usize) -> usize {
    rec.key.map_or(0, str::len)
        + rec.payload.map_or(0, <[u8]>::len)
        + header_bytes
        + RECORD_OVERHEAD
}
