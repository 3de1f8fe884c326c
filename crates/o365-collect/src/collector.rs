//! A collector: one tenant's content types, into a sink.

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use o365_api::{Client, ContentType};
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::metrics::Metrics;
use crate::options::{Options, Stop};
use crate::sinks::{SinkError, SinkSpec};
use crate::summary::{RunError, Summary, TypeSummary};
use crate::type_run::TypeRun;
use crate::writer::{Writer, WriterHandle, WriterMsg};

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The sink failed: nothing more can be made durable.
    #[error("sink: {0}")]
    Sink(#[from] SinkError),
    /// The writer thread is gone.
    #[error("the sink writer stopped unexpectedly")]
    WriterGone,
}

/// Collects one tenant into one sink.
pub struct Collector {
    client: Client,
    tenant: String,
    spec: SinkSpec,
    opts: Options,
    ledger: Option<Arc<o365_store::Store>>,
    metrics: Arc<Metrics>,
    writer: Option<WriterHandle>,
    global: Option<Arc<Semaphore>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("tenant", &self.tenant)
            .field("sink", &self.spec)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector for `tenant` (the id used in the sink and the ledger).
    pub fn new(client: Client, tenant: String, spec: SinkSpec, opts: Options) -> Self {
        Self {
            client,
            tenant,
            spec,
            opts,
            ledger: None,
            metrics: Arc::new(Metrics::default()),
            writer: None,
            global: None,
        }
    }

    /// Record retention gaps and observed subscription changes in this ledger too.
    pub fn with_ledger(mut self, store: Arc<o365_store::Store>) -> Self {
        self.ledger = Some(store);
        self
    }

    /// Write through a writer shared with other collectors (instead of one per run).
    pub fn with_writer(mut self, w: WriterHandle) -> Self {
        self.writer = Some(w);
        self
    }

    /// Also take a permit of this cap, shared with other collectors, for every blob in flight.
    pub fn with_global_limit(mut self, sem: Arc<Semaphore>) -> Self {
        self.global = Some(sem);
        self
    }

    /// Use these metrics (e.g. one set per tenant of a service).
    pub fn with_metrics(mut self, m: Arc<Metrics>) -> Self {
        self.metrics = m;
        self
    }

    /// Shared metrics (for a Prometheus endpoint).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The client in use.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The tenant collected.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Fix where collection of each content type begins, before any request: a first run
    /// that then fails at once (the service unreachable, every answer an error) leaves its
    /// start recorded, so a later run begins there, never later. Types already started keep
    /// theirs.
    pub async fn fix_start(&self) -> Result<(), CollectError> {
        let (own, writer) = self.writer_for_pass().await?;
        let (sem, stop) = (Arc::new(Semaphore::new(1)), Stop::default());
        for &ct in &self.opts.types {
            self.type_run(ct, &writer, &sem, &stop)
                .resume(self.client.server_now())
                .await
                .map_err(|e| SinkError::Bus(format!("where {ct} begins: {e}")))?;
        }
        drop(writer);
        if let Some(w) = own {
            w.close().await?;
        }
        Ok(())
    }

    /// The writer a pass uses: the shared one, or one of its own (returned to be closed).
    async fn writer_for_pass(&self) -> Result<(Option<Writer>, WriterHandle), CollectError> {
        let own = match &self.writer {
            Some(_) => None,
            None => Some(Writer::start(
                &self.spec,
                self.opts.batch_blobs,
                crate::writer::queue_for(self.opts.concurrency),
            )?),
        };
        let writer = match (&self.writer, &own) {
            (Some(w), _) => w.clone(),
            (None, Some(w)) => w.handle(),
            (None, None) => return Err(CollectError::WriterGone),
        };
        if own.is_some() {
            writer.prepare(vec![self.tenant.clone()]).await;
        }
        Ok((own, writer))
    }

    /// The run of one content type in a pass.
    fn type_run(
        &self,
        ct: ContentType,
        writer: &WriterHandle,
        sem: &Arc<Semaphore>,
        stop: &Stop,
    ) -> TypeRun {
        TypeRun {
            client: self.client.clone(),
            tenant: self.tenant.clone(),
            ct,
            opts: self.opts.clone(),
            writer: writer.clone(),
            sem: sem.clone(),
            global: self.global.clone(),
            stop: stop.clone(),
            ledger: self.ledger.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// One pass over every content type: list, fetch, write, move cursors.
    #[inline(never)]
    pub fn run_once<'a>(
        &'a self,
        stop: &'a Stop,
    ) -> crate::Boxed<'a, Result<Summary, CollectError>> {
        Box::pin(self.pass(stop))
    }

    /// [`Self::run_once`]'s work.
    async fn pass(&self, stop: &Stop) -> Result<Summary, CollectError> {
        let t0 = Instant::now();
        let before = self.client.stats();
        // A writer of our own for this pass, unless one is shared with us.
        let (own, writer) = self.writer_for_pass().await?;
        let sem = Arc::new(Semaphore::new(self.opts.concurrency.max(1)));
        let _ = writer
            .send(WriterMsg::Prune(
                self.client.server_now() - Duration::days(8),
            ))
            .await;
        let tasks: Vec<_> = self
            .opts
            .types
            .iter()
            .map(|&ct| {
                tokio::spawn(
                    self.type_run(ct, &writer, &sem, stop)
                        .run()
                        .in_current_span(),
                )
            })
            .collect();
        drop(writer);
        let mut summary = Summary::default();
        for t in tasks {
            summary.types.push(t.await.unwrap_or_else(|e| TypeSummary {
                errors: vec![RunError::Task(e.to_string())],
                ..Default::default()
            }));
        }
        if let Some(w) = own {
            w.close().await?;
        }
        let after = self.client.stats();
        for t in &summary.types {
            summary.events_written += t.events_written;
            summary.duplicates += t.duplicates;
            summary.blobs_done += t.blobs_done;
        }
        summary.requests = after.requests - before.requests;
        summary.token_requests = after.token_requests - before.token_requests;
        summary.retries = after.retries - before.retries;
        summary.throttled = after.throttled - before.throttled;
        summary.seconds = t0.elapsed().as_secs_f64();
        summary.events_per_second = summary.events_written as f64 / summary.seconds.max(1e-9);
        summary.interrupted = stop.is_stopped();
        Ok(summary)
    }
}
