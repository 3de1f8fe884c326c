//! The writer thread: owns the sink, commits blobs in groups, answers checkpoint questions.
//! One writer may serve many tenants; a failure of one tenant's part fails only its blobs.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use o365_api::ContentType;
use tokio::sync::{mpsc, oneshot};

use crate::ack::Ack;
use crate::sinks::{BlobOut, CursorMove, Resume, RetentionGap, Sink, SinkError, SinkSpec};
use crate::summary::RunError;

/// Answer to a question that may fail.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, RunError>>;

pub(crate) enum WriterMsg {
    Blob(Box<BlobOut>, Ack),
    /// A cursor move; answered once it is durable.
    Cursor(CursorMove, Reply<()>),
    Gap(RetentionGap, Reply<()>),
    Prune(DateTime<Utc>),
    Prepare(Vec<String>),
    Resume(String, ContentType, Reply<Option<Resume>>),
    DoneSince(String, ContentType, DateTime<Utc>, Reply<HashSet<String>>),
}

/// How the sink's commits go: a commit that hangs (a frozen broker, a full disk) shows here.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Commits made.
    pub commits: AtomicU64,
    /// Tenant parts of commits that failed (their blobs are fetched again later).
    pub failures: AtomicU64,
    /// Events of the blobs committed (written, or found written before): unlike the tenants'
    /// series, this total stays when a tenant moves to another instance.
    pub events: AtomicU64,
    /// Blobs written into a commit ahead of it (a sink that stages: SQLite, a fleet's Kafka).
    pub staged: AtomicU64,
    /// Time spent committing, in milliseconds.
    pub commit_ms: AtomicU64,
    /// When the commit under way started (Unix ms), 0 when none is.
    pub commit_started_ms: AtomicI64,
    /// When the last commit ended (Unix ms).
    pub last_commit_ms: AtomicI64,
}

impl SinkStats {
    /// Prometheus text of these numbers.
    pub fn render(&self) -> String {
        let now = chrono::Utc::now().timestamp_millis();
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let started = self.commit_started_ms.load(Ordering::Relaxed);
        let last = self.last_commit_ms.load(Ordering::Relaxed);
        let secs = |ms: i64| ms.max(0) as f64 / 1000.0;
        format!(
            "# HELP o365_sink_commits_total Commits made by the sink.\n# TYPE o365_sink_commits_total counter\no365_sink_commits_total {}\n\
# HELP o365_sink_commit_failures_total Tenant parts of commits that failed (fetched again later).\n# TYPE o365_sink_commit_failures_total counter\no365_sink_commit_failures_total {}\n\
# HELP o365_sink_events_total Events of the blobs committed (written, or found written before), of every tenant this instance held.\n# TYPE o365_sink_events_total counter\no365_sink_events_total {}\n\
# HELP o365_sink_staged_blobs_total Blobs written into the commit being built ahead of it (durable with it, or with none of it).\n# TYPE o365_sink_staged_blobs_total counter\no365_sink_staged_blobs_total {}\n\
# HELP o365_sink_commit_seconds_total Time spent committing.\n# TYPE o365_sink_commit_seconds_total counter\no365_sink_commit_seconds_total {}\n\
# HELP o365_sink_commit_in_progress_seconds How long the commit under way has been waiting (0 when none is): a stall shows here.\n# TYPE o365_sink_commit_in_progress_seconds gauge\no365_sink_commit_in_progress_seconds {}\n\
# HELP o365_sink_seconds_since_last_commit Time since the last commit ended.\n# TYPE o365_sink_seconds_since_last_commit gauge\no365_sink_seconds_since_last_commit {}\n",
            g(&self.commits),
            g(&self.failures),
            g(&self.events),
            g(&self.staged),
            g(&self.commit_ms) as f64 / 1000.0,
            if started == 0 { 0.0 } else { secs(now - started) },
            if last == 0 { 0.0 } else { secs(now - last) },
        )
    }
}

/// A running writer. Clones of its sender may go to many collectors; the thread ends when the
/// last one is dropped.
pub struct Writer {
    tx: mpsc::Sender<WriterMsg>,
    thread: std::thread::JoinHandle<Result<(), SinkError>>,
    stats: Arc<SinkStats>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

/// A handle for sending work to a writer.
#[derive(Clone, Debug)]
pub struct WriterHandle(pub(crate) mpsc::Sender<WriterMsg>);

/// How many messages a writer's queue holds when `in_flight` blobs may be fetched at once:
/// half of them, at least two. A blob waits for room holding its place in flight, so what is
/// held stays bounded by what may be in flight (`serve` with 50 tenants, 64 in flight: a queue
/// of 128 held ~20 MB more at its peak than one of 32, for the same CPU within the noise).
pub(crate) fn queue_for(in_flight: usize) -> usize {
    in_flight.div_ceil(2).max(2)
}

impl Writer {
    /// Open the sink and start its writer thread; groups take at most `batch` blobs.
    pub fn start(spec: &SinkSpec, batch: usize, queue: usize) -> Result<Self, SinkError> {
        let sink = spec.open()?;
        let (tx, rx) = mpsc::channel::<WriterMsg>(queue.max(1));
        let rt = tokio::runtime::Handle::current();
        let batch = batch.max(1);
        let stats = Arc::new(SinkStats::default());
        let s2 = stats.clone();
        let thread = std::thread::Builder::new()
            .name("o365-collect-writer".into())
            .spawn(move || run(sink, rx, batch, rt, s2))
            .map_err(|e| SinkError::Bus(format!("cannot start the writer thread: {e}")))?;
        Ok(Self { tx, thread, stats })
    }

    /// How the sink's commits go.
    pub fn stats(&self) -> Arc<SinkStats> {
        self.stats.clone()
    }

    /// A handle for collectors.
    pub fn handle(&self) -> WriterHandle {
        WriterHandle(self.tx.clone())
    }

    /// Wait for everything sent to be written (every handle must be dropped first).
    pub async fn close(self) -> Result<(), SinkError> {
        drop(self.tx);
        let thread = self.thread;
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(r)) => r,
            _ => Err(SinkError::Bus("the writer thread panicked".into())),
        }
    }
}

impl WriterHandle {
    /// Ask something that may fail; a gone writer is an error too.
    pub(crate) async fn ask<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> WriterMsg,
    ) -> Result<T, RunError> {
        let (s, r) = oneshot::channel();
        self.0
            .send(make(s))
            .await
            .map_err(|_| RunError::WriterGone)?;
        r.await.map_err(|_| RunError::WriterGone)?
    }

    /// Tell the sink which tenants are about to be collected.
    pub async fn prepare(&self, tenants: Vec<String>) {
        let _ = self.send(WriterMsg::Prepare(tenants)).await;
    }

    /// Send without waiting for an answer.
    pub(crate) async fn send(&self, msg: WriterMsg) -> Result<(), RunError> {
        self.0.send(msg).await.map_err(|_| RunError::WriterGone)
    }
}

fn sink_err(e: &SinkError) -> RunError {
    RunError::Sink(e.to_string())
}

/// The writer loop. Group commit: one durable transaction for up to `batch` blobs, or what
/// arrived within LINGER of the first one. Fewer syncs; each blob still waits for its own commit.
fn run(
    mut sink: Box<dyn Sink>,
    mut rx: mpsc::Receiver<WriterMsg>,
    batch: usize,
    rt: tokio::runtime::Handle,
    stats: Arc<SinkStats>,
) -> Result<(), SinkError> {
    const LINGER: Duration = Duration::from_millis(200);
    // Big blobs make a group big: it is committed once it holds this much, however few blobs.
    const GROUP_BYTES: usize = 16 << 20;
    // A sink that stages (SQLite) writes a full group into the open transaction and goes on
    // gathering: a commit then takes up to this many groups (by blobs, by bytes, and by time
    // since its first blob). Fewer commits rewrite fewer index pages per event, and the blobs'
    // memory is freed as they are staged.
    const STAGED_GROUPS: usize = 4;
    let stages = sink.stages();
    let mut group = Group {
        stats,
        ..Group::default()
    };
    let idle_every = sink.idle_every();
    loop {
        let first = match idle_every {
            None => rx.blocking_recv(),
            // A sink that must be served while idle (a group member) waits in slices.
            Some(every) => loop {
                match rt.block_on(async { tokio::time::timeout(every, rx.recv()).await }) {
                    Ok(m) => break m,
                    Err(_) => sink.idle(),
                }
            },
        };
        let Some(first) = first else { break };
        let started = Instant::now();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                WriterMsg::Blob(b, a) => {
                    group.bytes += b.events.iter().map(|e| e.raw.len()).sum::<usize>();
                    group.blobs.push((*b, a));
                }
                WriterMsg::Cursor(c, done) => {
                    // Cursors go with the data before them, in the same commit; those that
                    // arrive together make one commit (many tenants ending a pass at once).
                    group.cursors.push((c, done));
                }
                WriterMsg::Gap(g, done) => {
                    // In order with what came before it.
                    group.flush(sink.as_mut())?;
                    let _ = done.send(sink.record_gap(&g).map_err(|e| sink_err(&e)));
                }
                WriterMsg::Prune(t) => {
                    group.flush(sink.as_mut())?;
                    sink.prune(t)?;
                }
                WriterMsg::Prepare(t) => sink.prepare(&t),
                WriterMsg::Resume(t, ct, reply) => {
                    let _ = reply.send(sink.resume(&t, ct).map_err(|e| sink_err(&e)));
                }
                WriterMsg::DoneSince(t, ct, since, reply) => {
                    group.flush(sink.as_mut())?;
                    let _ = reply.send(sink.done_since(&t, ct, since).map_err(|e| sink_err(&e)));
                }
            }
            if group.blobs.len() >= batch || group.bytes >= GROUP_BYTES {
                let room = group.staged.len() + group.blobs.len() < batch * STAGED_GROUPS
                    && group.staged_bytes + group.bytes < GROUP_BYTES * STAGED_GROUPS
                    && started.elapsed() < LINGER * STAGED_GROUPS as u32;
                if stages && room {
                    group.stage(sink.as_mut())?;
                } else {
                    break;
                }
            }
            next = match rx.try_recv() {
                Ok(m) => Some(m),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                // Nothing waiting to join: a group of cursor moves alone is committed at once
                // (they are on a pass's path); blobs wait for company.
                Err(mpsc::error::TryRecvError::Empty)
                    if group.blobs.is_empty() && group.staged.is_empty() =>
                {
                    None
                }
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
        group.flush(sink.as_mut())?;
    }
    Ok(())
}

/// A blob written ahead of its commit: what its acknowledgement needs.
struct Staged {
    ack: Ack,
    tenant: String,
    events: u64,
    written: u64,
    lost: bool,
}

/// Blobs and cursor moves waiting for one commit.
#[derive(Default)]
struct Group {
    /// Blobs staged into the commit being built (their events already written).
    staged: Vec<Staged>,
    /// Bytes of the events of `staged`.
    staged_bytes: usize,
    blobs: Vec<(BlobOut, Ack)>,
    /// Bytes of the events in `blobs`.
    bytes: usize,
    cursors: Vec<(CursorMove, Reply<()>)>,
    stats: Arc<SinkStats>,
}

impl Group {
    /// Whether nothing waits for a commit.
    fn is_empty(&self) -> bool {
        self.blobs.is_empty() && self.cursors.is_empty() && self.staged.is_empty()
    }

    /// Write the blobs held into the commit being built, keeping only their acknowledgements.
    fn stage(&mut self, sink: &mut dyn Sink) -> Result<(), SinkError> {
        let (blobs, acks): (Vec<BlobOut>, Vec<Ack>) = self.blobs.drain(..).unzip();
        self.staged_bytes += std::mem::take(&mut self.bytes);
        let written = sink.stage(&blobs)?;
        self.stats
            .staged
            .fetch_add(blobs.len() as u64, Ordering::Relaxed);
        for ((b, ack), written) in blobs.into_iter().zip(acks).zip(written) {
            self.staged.push(Staged {
                ack,
                events: b.events.len() as u64,
                written,
                lost: b.lost.is_some(),
                tenant: b.tenant,
            });
        }
        Ok(())
    }

    /// Commit what is waiting. A failed tenant's blobs are dropped unacknowledged (their windows
    /// fail, the next run fetches them again) and its cursor moves answered with the error.
    fn flush(&mut self, sink: &mut dyn Sink) -> Result<(), SinkError> {
        if self.is_empty() {
            return Ok(());
        }
        let (blobs, acks): (Vec<BlobOut>, Vec<Ack>) = self.blobs.drain(..).unzip();
        self.bytes = 0;
        let (cursors, replies): (Vec<CursorMove>, Vec<Reply<()>>) = self.cursors.drain(..).unzip();
        let t0 = Instant::now();
        let s = &self.stats;
        s.commit_started_ms
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
        let done = sink.commit(&blobs, &cursors);
        s.commit_started_ms.store(0, Ordering::Relaxed);
        s.last_commit_ms
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
        s.commit_ms
            .fetch_add(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
        s.commits.fetch_add(1, Ordering::Relaxed);
        let done = done?;
        s.failures
            .fetch_add(done.failed.len() as u64, Ordering::Relaxed);
        self.staged_bytes = 0;
        let mut events = 0;
        for st in self.staged.drain(..) {
            match done.failed_for(&st.tenant) {
                Some(e) => st.ack.state.error(sink_err(e)),
                None => {
                    events += st.events;
                    st.ack.commit(st.events, st.written, st.lost)
                }
            }
        }
        for ((b, a), w) in blobs.iter().zip(acks).zip(&done.written) {
            match done.failed_for(&b.tenant) {
                Some(e) => a.state.error(sink_err(e)),
                None => {
                    events += b.events.len() as u64;
                    a.commit(b.events.len() as u64, *w, b.lost.is_some())
                }
            }
        }
        s.events.fetch_add(events, Ordering::Relaxed);
        for (c, reply) in cursors.iter().zip(replies) {
            let _ = reply.send(match done.failed_for(&c.tenant) {
                Some(e) => Err(sink_err(e)),
                None => Ok(()),
            });
        }
        Ok(())
    }
}
