//! Effectively-once audit-log collection.
//!
//! Per (tenant, content type) a cursor on `contentCreated` says everything before it is done. A
//! run lists `[cursor - overlap, now)` in windows of at most 24 hours (late blobs are caught by the
//! overlap; blobs already done are skipped), fetches the new blobs with bounded concurrency through
//! the client's pacing and retries, and hands them to one writer thread. A blob is done when the
//! sink has durably taken its events; the cursor moves only over windows whose blobs are all done.
//! Events are de-duplicated on (tenant, `Id`) across blobs and runs.
//!
//! ```no_run
//! # async fn run(client: o365_api::Client) -> Result<(), o365_collect::CollectError> {
//! use o365_collect::{Collector, Options, SinkSpec};
//! let opts = Options::new(o365_api::ContentType::ALL.to_vec());
//! let c = Collector::new(client, "tenant-guid".into(), SinkSpec::Null, opts);
//! let summary = c.run_once(&Default::default()).await?;
//! println!("{} events", summary.events_written);
//! # Ok(()) }
//! ```
#![allow(clippy::result_large_err)]

pub mod metrics;
pub mod sink;

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt as _;
use o365_api::{Client, ContentType};
use tokio::sync::{mpsc, oneshot, Notify, OwnedSemaphorePermit, Semaphore};

pub use metrics::Metrics;
use sink::BlobOut;
pub use sink::{CursorMove, Sink, SinkError, SinkSpec, TypeStatus};

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

/// How to collect.
#[derive(Debug, Clone)]
pub struct Options {
    /// Content types.
    pub types: Vec<ContentType>,
    /// Where a content type without a cursor starts: this long before now.
    pub since: Duration,
    /// Or at this time.
    pub since_time: Option<DateTime<Utc>>,
    /// Recent windows re-listed on every run, so late blobs are caught.
    pub overlap: Duration,
    /// Blobs in flight at once (fetching, parsing or waiting for the sink).
    pub concurrency: usize,
    /// Largest number of blobs one sink transaction takes.
    pub batch_blobs: usize,
}

impl Options {
    /// Defaults: last 24 hours on a first run, 12 hours of overlap, 8 blobs in flight.
    pub fn new(types: Vec<ContentType>) -> Self {
        Self {
            types,
            since: Duration::hours(24),
            since_time: None,
            overlap: Duration::hours(12),
            concurrency: 8,
            batch_blobs: 64,
        }
    }
}

/// What happened to one content type in a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TypeSummary {
    /// Content type.
    pub content_type: String,
    /// Windows listed.
    pub windows: u64,
    /// Blobs listed (including ones already done).
    pub blobs_listed: u64,
    /// Blobs fetched and made durable in this run.
    pub blobs_done: u64,
    /// Blobs skipped as already done.
    pub blobs_skipped: u64,
    /// Blobs that could not be fetched any more (expired, gone).
    pub blobs_lost: u64,
    /// Events written.
    pub events_written: u64,
    /// Events dropped as duplicates.
    pub duplicates: u64,
    /// The cursor after the run.
    pub cursor: Option<DateTime<Utc>>,
    /// Ranges that could not be listed any more (older than 7 days).
    pub gaps: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Errors that held the cursor back (retried on the next run).
    pub errors: Vec<String>,
}

/// The result of a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    /// Per content type.
    pub types: Vec<TypeSummary>,
    /// Events written.
    pub events_written: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Blobs made durable.
    pub blobs_done: u64,
    /// Requests sent to the Activity API (retries included).
    pub requests: u64,
    /// Token requests.
    pub token_requests: u64,
    /// Retries.
    pub retries: u64,
    /// Throttled answers.
    pub throttled: u64,
    /// Wall time.
    pub seconds: f64,
    /// Events written per second.
    pub events_per_second: f64,
    /// Stopped early by a signal.
    pub interrupted: bool,
}

impl Summary {
    /// Whether every content type finished without an error.
    pub fn ok(&self) -> bool {
        self.types.iter().all(|t| t.errors.is_empty())
    }
}

/// Set to stop a run early: no new blobs are taken; blobs in flight finish.
#[derive(Debug, Default, Clone)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Stop {
    /// Ask the run to stop.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
    /// Wait until a stop is asked for.
    pub async fn wait(&self) {
        while !self.is_stopped() {
            let n = self.notify.notified();
            if self.is_stopped() {
                break;
            }
            n.await;
        }
    }
}

/// One listed window: done when listing finished and every blob is acknowledged.
struct WindowState {
    end: DateTime<Utc>,
    pending: AtomicU64,
    listed: AtomicBool,
    failed: AtomicBool,
    notify: Notify,
}

impl WindowState {
    fn settle(&self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    fn done(&self) -> bool {
        self.listed.load(Ordering::SeqCst) && self.pending.load(Ordering::SeqCst) == 0
    }
    async fn wait(&self) {
        loop {
            let n = self.notify.notified();
            if self.done() || self.failed.load(Ordering::SeqCst) {
                return;
            }
            n.await;
        }
    }
}

/// Acknowledgement travelling with a blob to the writer. However it ends (committed, failed,
/// abandoned, dropped with a dead writer), its window hears of it exactly once.
struct Ack {
    window: Arc<WindowState>,
    stats: Arc<TypeCounters>,
    committed: bool,
}

impl Ack {
    /// The sink has it: settle the window as done.
    fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.committed {
            self.window.failed.store(true, Ordering::SeqCst);
        }
        self.window.settle();
    }
}

#[derive(Default)]
struct TypeCounters {
    blobs_done: AtomicU64,
    blobs_lost: AtomicU64,
    written: AtomicU64,
    duplicates: AtomicU64,
}

type CursorReply = Result<Option<sink::CursorAndOrigin>, SinkError>;

enum WriterMsg {
    Blob(Box<BlobOut>, Ack),
    Cursor(CursorMove, oneshot::Sender<()>),
    Gap(String, &'static str, DateTime<Utc>, DateTime<Utc>),
    Prune(DateTime<Utc>),
    Cursors(String, &'static str, oneshot::Sender<CursorReply>),
    DoneSince(
        String,
        &'static str,
        DateTime<Utc>,
        oneshot::Sender<Result<HashSet<String>, SinkError>>,
    ),
}

/// The writer thread: owns the sink; commits blobs in batches.
fn writer(
    mut sink: Sink,
    mut rx: mpsc::Receiver<WriterMsg>,
    batch: usize,
    metrics: Arc<Metrics>,
    rt: tokio::runtime::Handle,
) -> Result<(), SinkError> {
    // Group commit: one durable transaction for up to `batch` blobs, or what arrived within
    // LINGER of the first one. Fewer syncs; each blob still waits for its own commit.
    const LINGER: std::time::Duration = std::time::Duration::from_millis(200);
    while let Some(first) = rx.blocking_recv() {
        let mut blobs = Vec::new();
        let mut acks = Vec::new();
        let started = Instant::now();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                WriterMsg::Blob(b, a) => {
                    blobs.push(*b);
                    acks.push(a);
                }
                WriterMsg::Cursor(c, done) => {
                    // Cursors go with the data before them, in the same order.
                    flush(&mut sink, &mut blobs, &mut acks, &metrics)?;
                    sink.write(&[], &[c])?;
                    let _ = done.send(());
                }
                WriterMsg::Gap(t, ct, s, e) => {
                    sink.record_gap(&t, ct, s, e, "older than the 7-day retention")?
                }
                WriterMsg::Prune(t) => sink.prune(t)?,
                WriterMsg::Cursors(t, ct, reply) => {
                    let _ = reply.send(sink.cursor_and_origin(&t, ct));
                }
                WriterMsg::DoneSince(t, ct, since, reply) => {
                    flush(&mut sink, &mut blobs, &mut acks, &metrics)?;
                    let _ = reply.send(sink.done_since(&t, ct, since));
                }
            }
            if blobs.len() >= batch {
                break;
            }
            next = match rx.try_recv() {
                Ok(m) => Some(m),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) if blobs.is_empty() => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    let left = LINGER.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        None
                    } else {
                        rt.block_on(async {
                            tokio::time::timeout(left, rx.recv()).await.ok().flatten()
                        })
                    }
                }
            };
        }
        flush(&mut sink, &mut blobs, &mut acks, &metrics)?;
    }
    Ok(())
}

fn flush(
    sink: &mut Sink,
    blobs: &mut Vec<BlobOut>,
    acks: &mut Vec<Ack>,
    metrics: &Metrics,
) -> Result<(), SinkError> {
    if blobs.is_empty() {
        return Ok(());
    }
    let written = sink.write(blobs, &[])?;
    for ((b, a), w) in blobs.iter().zip(acks.iter()).zip(written) {
        let n = b.events.len() as u64;
        a.stats.blobs_done.fetch_add(1, Ordering::Relaxed);
        a.stats.written.fetch_add(w, Ordering::Relaxed);
        a.stats.duplicates.fetch_add(n - w, Ordering::Relaxed);
        metrics.blobs_done.fetch_add(1, Ordering::Relaxed);
        metrics.events_written.fetch_add(w, Ordering::Relaxed);
        metrics.duplicates.fetch_add(n - w, Ordering::Relaxed);
        if b.lost.is_some() {
            a.stats.blobs_lost.fetch_add(1, Ordering::Relaxed);
            metrics.blobs_lost.fetch_add(1, Ordering::Relaxed);
        }
    }
    blobs.clear();
    for a in acks.drain(..) {
        a.commit();
    }
    Ok(())
}

/// Collects one tenant into one sink.
pub struct Collector {
    client: Client,
    tenant: String,
    spec: SinkSpec,
    opts: Options,
    ledger: Option<Arc<o365_store::Store>>,
    metrics: Arc<Metrics>,
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
        }
    }

    /// Record retention gaps and observed subscription changes in this ledger too.
    pub fn with_ledger(mut self, store: Arc<o365_store::Store>) -> Self {
        self.ledger = Some(store);
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

    /// One pass over every content type: list, fetch, write, move cursors.
    pub async fn run_once(&self, stop: &Stop) -> Result<Summary, CollectError> {
        let t0 = Instant::now();
        let before = self.client.stats();
        let sink = Sink::open(&self.spec)?;
        let (tx, rx) = mpsc::channel::<WriterMsg>(self.opts.concurrency.max(1) + 16);
        let batch = self.opts.batch_blobs.max(1);
        let m = self.metrics.clone();
        let rt = tokio::runtime::Handle::current();
        let writer = std::thread::Builder::new()
            .name("o365-collect-writer".into())
            .spawn(move || writer(sink, rx, batch, m, rt))
            .map_err(|_| CollectError::WriterGone)?;
        let sem = Arc::new(Semaphore::new(self.opts.concurrency.max(1)));
        let now = self.client.server_now();
        let _ = tx.send(WriterMsg::Prune(now - Duration::days(8))).await;

        let mut tasks = Vec::new();
        for &ct in &self.opts.types {
            let ctx = TypeRun {
                client: self.client.clone(),
                tenant: self.tenant.clone(),
                ct,
                opts: self.opts.clone(),
                tx: tx.clone(),
                sem: sem.clone(),
                stop: stop.clone(),
                ledger: self.ledger.clone(),
                metrics: self.metrics.clone(),
                began: now,
            };
            tasks.push(tokio::spawn(ctx.run()));
        }
        drop(tx);
        let mut summary = Summary::default();
        for t in tasks {
            match t.await {
                Ok(s) => summary.types.push(s),
                Err(e) => summary.types.push(TypeSummary {
                    errors: vec![format!("collector task failed: {e}")],
                    ..Default::default()
                }),
            }
        }
        let written = tokio::task::spawn_blocking(move || writer.join())
            .await
            .map_err(|_| CollectError::WriterGone)?;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(CollectError::Sink(e)),
            Err(_) => return Err(CollectError::WriterGone),
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

struct TypeRun {
    client: Client,
    tenant: String,
    ct: ContentType,
    opts: Options,
    tx: mpsc::Sender<WriterMsg>,
    sem: Arc<Semaphore>,
    stop: Stop,
    ledger: Option<Arc<o365_store::Store>>,
    metrics: Arc<Metrics>,
    began: DateTime<Utc>,
}

impl TypeRun {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> WriterMsg) -> Option<T> {
        let (s, r) = oneshot::channel();
        self.tx.send(make(s)).await.ok()?;
        r.await.ok()
    }

    /// Ask the writer for something that may fail; either failure comes back as text.
    async fn query<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, SinkError>>) -> WriterMsg,
    ) -> Result<T, String> {
        match self.ask(make).await {
            Some(r) => r.map_err(|e| e.to_string()),
            None => Err("the sink writer stopped".into()),
        }
    }

    async fn run(mut self) -> TypeSummary {
        let ct = self.ct.as_str();
        let mut sum = TypeSummary {
            content_type: ct.into(),
            ..Default::default()
        };
        let counters = Arc::new(TypeCounters::default());
        let known = match self
            .query(|s| WriterMsg::Cursors(self.tenant.clone(), ct, s))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                sum.errors.push(e);
                return sum;
            }
        };
        let cursor = known.map(|k| k.0);
        sum.cursor = cursor;
        let now = self.client.server_now();
        // Where this type's collection began: the overlap never reaches before it.
        let began = known
            .map(|k| k.1)
            .unwrap_or_else(|| self.opts.since_time.unwrap_or(now - self.opts.since));
        let origin = cursor.unwrap_or(began);
        let start = match cursor {
            Some(c) => (c - self.opts.overlap).max(began),
            None => origin,
        };
        self.began = began;
        let plan = o365_api::window::plan(start, now, now);
        let floor = now - o365_api::window::retention();
        if origin < floor {
            // Never a silent skip: what can no longer be listed is a recorded gap.
            let gap = (origin, floor);
            sum.gaps.push(gap);
            let _ = self
                .tx
                .send(WriterMsg::Gap(self.tenant.clone(), ct, gap.0, gap.1))
                .await;
            if let Some(l) = &self.ledger {
                if let Err(e) = l.record_gap(&self.tenant, ct, gap.0, gap.1, "retention") {
                    tracing::warn!(error = %e, "could not record the gap in the ledger");
                }
            }
            tracing::warn!(content_type = ct, from = %gap.0, to = %gap.1, "content older than 7 days can no longer be listed: recorded as a gap");
        }
        let Some(first) = plan.windows.first() else {
            return sum;
        };
        let done = match self
            .query(|s| WriterMsg::DoneSince(self.tenant.clone(), ct, first.start, s))
            .await
        {
            Ok(d) => d,
            Err(e) => {
                sum.errors.push(e);
                return sum;
            }
        };
        let mut windows: VecDeque<Arc<WindowState>> = VecDeque::new();
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut halted = false;
        'windows: for w in &plan.windows {
            if self.stop.is_stopped() {
                halted = true;
                break;
            }
            let ws = Arc::new(WindowState {
                end: w.end,
                pending: AtomicU64::new(0),
                listed: AtomicBool::new(false),
                failed: AtomicBool::new(false),
                notify: Notify::new(),
            });
            windows.push_back(ws.clone());
            sum.windows += 1;
            let mut pages = std::pin::pin!(self.client.list_content(self.ct, *w));
            loop {
                let page = match pages.try_next().await {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    Err(e) => {
                        self.listing_failed(&e, &mut sum).await;
                        ws.failed.store(true, Ordering::SeqCst);
                        halted = true;
                        break 'windows;
                    }
                };
                for blob in page {
                    sum.blobs_listed += 1;
                    if done.contains(&blob.content_id) {
                        sum.blobs_skipped += 1;
                        continue;
                    }
                    let permit = tokio::select! {
                        p = self.sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break 'windows },
                        _ = self.stop.wait() => { halted = true; ws.failed.store(true, Ordering::SeqCst); break 'windows; }
                    };
                    ws.pending.fetch_add(1, Ordering::SeqCst);
                    let job = Fetch {
                        client: self.client.clone(),
                        tenant: self.tenant.clone(),
                        ct,
                        blob,
                        ack: Ack {
                            window: ws.clone(),
                            stats: counters.clone(),
                            committed: false,
                        },
                        permit,
                        tx: self.tx.clone(),
                        metrics: self.metrics.clone(),
                        stop: self.stop.clone(),
                    };
                    // Detached: a finished task frees its memory at once.
                    let errors = errors.clone();
                    tokio::spawn(async move {
                        if let Err(e) = job.run().await {
                            if let Ok(mut v) = errors.lock() {
                                v.push(e);
                            }
                        }
                    });
                }
            }
            ws.listed.store(true, Ordering::SeqCst);
            ws.notify.notify_waiters();
            // Move the cursor over every finished window at the front, without waiting.
            self.advance(&mut windows, &mut sum, false).await;
        }
        // Every fetch settles its window, so waiting for the windows waits for the fetches.
        self.advance(&mut windows, &mut sum, true).await;
        for w in &windows {
            w.wait().await;
        }
        if let Ok(mut v) = errors.lock() {
            sum.errors.append(&mut v);
        }
        if halted && sum.errors.is_empty() && !self.stop.is_stopped() {
            sum.errors.push("listing stopped early".into());
        }
        sum.blobs_done = counters.blobs_done.load(Ordering::Relaxed);
        sum.blobs_lost = counters.blobs_lost.load(Ordering::Relaxed);
        sum.events_written = counters.written.load(Ordering::Relaxed);
        sum.duplicates = counters.duplicates.load(Ordering::Relaxed);
        sum
    }

    /// Move the cursor over the finished windows at the front (waiting for them when `wait`).
    async fn advance(
        &self,
        windows: &mut VecDeque<Arc<WindowState>>,
        sum: &mut TypeSummary,
        wait: bool,
    ) {
        let mut end = None;
        while let Some(front) = windows.front() {
            if wait {
                front.wait().await;
            }
            if front.failed.load(Ordering::SeqCst) || !front.done() {
                break;
            }
            end = Some(front.end);
            windows.pop_front();
        }
        if let Some(e) = end {
            if sum.cursor.is_none_or(|c| e > c) {
                let ok = self
                    .ask(|s| {
                        WriterMsg::Cursor(
                            CursorMove {
                                tenant: self.tenant.clone(),
                                content_type: self.ct.as_str(),
                                cursor: e,
                                service_now: self.client.server_now(),
                                origin: self.began,
                            },
                            s,
                        )
                    })
                    .await
                    .is_some();
                if ok {
                    sum.cursor = Some(e);
                    self.metrics.set_cursor(self.ct, e);
                }
            }
        }
    }

    async fn listing_failed(&self, e: &o365_api::Error, sum: &mut TypeSummary) {
        let ct = self.ct.as_str();
        if matches!(e.af_code(), Some("AF20022") | Some("AF20023")) {
            // The subscription is not enabled: what it would have produced does not exist.
            sum.errors.push(format!("{ct} is not subscribed ({e}); start it (`o365mgmt start-subscription {ct}` or --auto-start)"));
            if let Some(l) = &self.ledger {
                let state = if e.af_code() == Some("AF20022") {
                    "absent"
                } else {
                    "disabled"
                };
                let known = l.last_state(&self.tenant, ct).ok().flatten();
                if known.is_none_or(|k| k.to_state != state) {
                    let _ = l.transition(
                        &self.tenant,
                        ct,
                        state,
                        "observed",
                        self.client.server_now(),
                        None,
                    );
                }
            }
        } else {
            sum.errors.push(format!("listing {ct}: {e}"));
        }
    }
}

struct Fetch {
    client: Client,
    tenant: String,
    ct: &'static str,
    blob: o365_api::ContentBlob,
    ack: Ack,
    tx: mpsc::Sender<WriterMsg>,
    metrics: Arc<Metrics>,
    stop: Stop,
    /// Held while fetching and until the sink's queue takes the blob.
    permit: OwnedSemaphorePermit,
}

impl Fetch {
    async fn run(self) -> Result<(), String> {
        let created = self.blob.content_created;
        let result = tokio::select! {
            r = self.client.fetch_blob_bytes(&self.blob.content_uri) => r,
            // Stopping: abandon it; the next run fetches it again.
            _ = self.stop.wait() => return self.fail_quietly(),
        };
        let (events, lost) = match result {
            Ok(bytes) => {
                self.metrics
                    .bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                match o365_api::event::decode_blob_shared(bytes) {
                    Ok(ev) => (ev, None),
                    Err(e) => {
                        let msg = format!("blob {}: {e}", self.blob.content_id);
                        return self.fail(msg);
                    }
                }
            }
            Err(e) if matches!(e.af_code(), Some("AF20050") | Some("AF20051")) => {
                tracing::warn!(content_id = %self.blob.content_id, error = %e, "blob can no longer be fetched: recorded as lost");
                (Vec::new(), Some(e.to_string()))
            }
            Err(e) => {
                let msg = format!("blob {}: {e}", self.blob.content_id);
                return self.fail(msg);
            }
        };
        let out = BlobOut {
            tenant: self.tenant,
            content_type: self.ct,
            content_id: self.blob.content_id,
            content_created: created,
            events,
            lost,
        };
        let permit = self.permit;
        // If the writer is gone, the message (and its acknowledgement) is dropped: the window
        // is marked failed.
        let sent = self.tx.send(WriterMsg::Blob(Box::new(out), self.ack)).await;
        drop(permit);
        if sent.is_err() {
            return Err("the sink writer stopped".into());
        }
        Ok(())
    }

    fn fail_quietly(self) -> Result<(), String> {
        // Dropping the acknowledgement marks the window failed.
        Ok(())
    }

    fn fail(self, msg: String) -> Result<(), String> {
        self.metrics.blobs_failed.fetch_add(1, Ordering::Relaxed);
        Err(msg)
    }
}
