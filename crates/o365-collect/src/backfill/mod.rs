//! Backfill beyond the feed's 7 days through Microsoft Graph's audit log search, into the same
//! sinks with the same rules. The range is cut into windows ([`plan`]); each window is one
//! query (split in halves while its answer is cut at the record limit or too big to hold),
//! and its events go to the sink per content type as one unit with the window's record: a
//! window is written whole or not at all, a window recorded is never asked again, and events
//! the feed (or an earlier backfill) already wrote are de-duplicated by `Id` like the feed's
//! own re-deliveries.

pub(crate) mod beside;
pub mod plan;
pub mod repair;
mod summary;

pub use summary::{BackfillSummary, Progress, Unreached};

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt as _;
use o365_api::audit_search::{content_type_of, record_type_filters, AuditSearch, QuerySpec};
use o365_api::{ContentType, SharedEvent};

use crate::ack::{Ack, TypeState, WindowState};
use crate::metrics::Metrics;
use crate::options::Stop;
use crate::sinks::{BlobOut, SinkError, SinkSpec};
use crate::summary::RunError;
use crate::writer::{Writer, WriterHandle, WriterMsg};

/// One query per window of this length, unless told.
pub const DEFAULT_WINDOW: Duration = Duration::days(1);
/// Queries submitted and not finished at once, unless told.
pub const DEFAULT_QUERIES: usize = 10;
/// The first wait before asking how a query goes, unless told.
pub const DEFAULT_POLL: StdDuration = StdDuration::from_secs(5);
/// A window whose answer holds more records is cut in halves, unless told otherwise.
pub const DEFAULT_MAX_WINDOW_RECORDS: u64 = 50_000;

/// How a backfill runs.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// Start of the range (inclusive).
    pub since: DateTime<Utc>,
    /// End of the range (exclusive).
    pub until: DateTime<Utc>,
    /// The content types wanted.
    pub types: Vec<ContentType>,
    /// Length of a window (a day by default).
    pub window: Duration,
    /// Queries submitted and not finished at once.
    pub concurrent: usize,
    /// First wait before polling a query (doubling to a minute).
    pub poll: StdDuration,
    /// A window whose answer holds more records than this is split (memory stays bounded);
    /// it is also the record limit assumed where Graph does not say (beta).
    pub max_window_records: u64,
    /// Records asked per page.
    pub page_size: usize,
    /// Times a failed query is submitted again before its window is given up for this run.
    pub retries: u32,
}

impl BackfillOptions {
    /// A day per window, 10 queries at once, polls from 5 s, 50,000 records per window at most.
    pub fn new(since: DateTime<Utc>, until: DateTime<Utc>, types: Vec<ContentType>) -> Self {
        Self {
            since,
            until,
            types,
            window: DEFAULT_WINDOW,
            concurrent: DEFAULT_QUERIES,
            poll: DEFAULT_POLL,
            max_window_records: DEFAULT_MAX_WINDOW_RECORDS,
            page_size: 1000,
            retries: 2,
        }
    }
}

/// Why a backfill could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The sink failed.
    #[error("sink: {0}")]
    Sink(#[from] SinkError),
    /// The sink's writer stopped.
    #[error("{0}")]
    Run(#[from] RunError),
    /// The ledger could not be read or written.
    #[error("state: {0}")]
    Ledger(String),
    /// The search refused this client (sign-in, token or permission): no query can succeed.
    #[error("{message}")]
    Refused {
        /// What the service said.
        message: String,
        /// Whether a permission is missing (403).
        forbidden: bool,
    },
}

/// Why a window failed: a passing fault of its own, or a refusal that fails every window.
enum Fail {
    Window(String),
    Refused(o365_api::Error),
}

impl From<o365_api::Error> for Fail {
    fn from(e: o365_api::Error) -> Self {
        if e.is_refused() {
            Fail::Refused(e)
        } else {
            Fail::Window(e.to_string())
        }
    }
}

/// Windows whose records are held in memory at once (fetched, until written): each holds up to
/// `max_window_records`, so this bounds a backfill's memory while more queries than this run on
/// the service's side.
const WINDOWS_HELD: usize = 2;

/// One tenant's backfill into one sink.
pub struct Backfill {
    search: AuditSearch,
    /// Leave to hold a window's records ([`WINDOWS_HELD`]).
    held: Arc<tokio::sync::Semaphore>,
    tenant: String,
    spec: SinkSpec,
    opts: BackfillOptions,
    progress: Arc<Progress>,
    writer: Option<WriterHandle>,
}

/// What a window's query brought: the events per wanted type, or a reason to split.
enum Answer {
    Events(BTreeMap<ContentType, Vec<SharedEvent>>, u64),
    Split,
}

impl Backfill {
    /// A backfill of `tenant` (its key in the sink) through `search` into `spec`.
    pub fn new(search: AuditSearch, tenant: String, spec: SinkSpec, opts: BackfillOptions) -> Self {
        Self {
            search,
            held: Arc::new(tokio::sync::Semaphore::new(WINDOWS_HELD)),
            tenant,
            spec,
            opts,
            progress: Arc::default(),
            writer: None,
        }
    }

    /// Write through a writer shared with collectors (a fleet's: the same producer, fenced by
    /// the same group generation, de-duplicating against what the feed writes now).
    pub fn with_writer(mut self, w: WriterHandle) -> Self {
        self.writer = Some(w);
        self
    }

    /// Progress counters, updated as windows finish.
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// Run the plan until every window is done, given up for this run, or `stop`.
    #[inline(never)]
    pub fn run<'a>(
        &'a self,
        stop: &'a Stop,
    ) -> crate::Boxed<'a, Result<BackfillSummary, BackfillError>> {
        Box::pin(self.run_plan(stop))
    }

    /// [`Self::run`]'s work.
    async fn run_plan(&self, stop: &Stop) -> Result<BackfillSummary, BackfillError> {
        let t0 = std::time::Instant::now();
        let own = match &self.writer {
            Some(_) => None,
            None => Some(Writer::start(&self.spec, 8, 64)?),
        };
        let handle = match (&self.writer, &own) {
            (Some(w), _) => w.clone(),
            (None, Some(w)) => w.handle(),
            (None, None) => return Err(RunError::WriterGone.into()),
        };
        if own.is_some() {
            handle.prepare(vec![self.tenant.clone()]).await;
        }
        let plan = plan::windows(self.opts.since, self.opts.until, self.opts.window);
        let mut done: BTreeMap<ContentType, HashSet<String>> = BTreeMap::new();
        for &ct in &self.opts.types {
            let ids = handle
                .ask(|s| WriterMsg::DoneSince(self.tenant.clone(), ct, DateTime::<Utc>::MIN_UTC, s))
                .await?;
            done.insert(ct, ids);
        }
        let mut summary = BackfillSummary {
            windows: plan.len() as u64,
            ..Default::default()
        };
        self.progress
            .windows
            .store(plan.len() as u64, Ordering::Relaxed);
        // What each window still needs: the types not recorded done for it.
        let mut todo = vec![];
        for (s, e) in plan {
            let need: Vec<ContentType> = self
                .opts
                .types
                .iter()
                .copied()
                .filter(|ct| !done[ct].contains(&plan::window_id(*ct, s, e)))
                .collect();
            if need.is_empty() {
                summary.windows_done_before += 1;
                self.progress.done.fetch_add(1, Ordering::Relaxed);
            } else {
                todo.push((s, e, need));
            }
        }
        let state = Arc::new(TypeState::default());
        let counts = Arc::new(Counts::default());
        // The first refusal stops every window: no query can succeed.
        let refused: Arc<std::sync::Mutex<Option<o365_api::Error>>> = Arc::default();
        let metrics = Arc::new(Metrics::default());
        let results: Vec<Result<(), Unreached>> = futures::stream::iter(todo)
            .map(|(s, e, need)| {
                let (handle, state, counts, metrics, refused) = (
                    handle.clone(),
                    state.clone(),
                    counts.clone(),
                    metrics.clone(),
                    refused.clone(),
                );
                async move {
                    let skipped = |why: &str| Unreached {
                        start: s,
                        end: e,
                        error: why.into(),
                    };
                    if stop.is_stopped() {
                        return Err(skipped("stopped"));
                    }
                    if refused.lock().map_or(true, |r| r.is_some()) {
                        return Err(skipped("not asked: the search refused this client"));
                    }
                    match self
                        .window(s, e, &need, &handle, &state, &counts, &metrics, stop)
                        .await
                    {
                        Ok(()) => {
                            self.progress.done.fetch_add(1, Ordering::Relaxed);
                            Ok(())
                        }
                        Err(Fail::Window(why)) => Err(skipped(&why)),
                        Err(Fail::Refused(err)) => {
                            let why = err.to_string();
                            if let Ok(mut r) = refused.lock() {
                                r.get_or_insert(err);
                            }
                            Err(skipped(&why))
                        }
                    }
                }
            })
            .buffer_unordered(self.opts.concurrent.max(1))
            .collect()
            .await;
        drop(handle);
        if let Some(w) = own {
            w.close().await?;
        }
        if let Some(e) = refused.lock().ok().and_then(|mut r| r.take()) {
            return Err(BackfillError::Refused {
                message: e.to_string(),
                forbidden: e.is_forbidden(),
            });
        }
        for r in results {
            match r {
                Ok(()) => summary.windows_done += 1,
                Err(u) => summary.unreached.push(u),
            }
        }
        summary.unreached.sort_by_key(|u| u.start);
        summary.splits = counts.splits.load(Ordering::Relaxed);
        summary.queries = counts.queries.load(Ordering::Relaxed);
        summary.events_seen = counts.seen.load(Ordering::Relaxed);
        summary.events_written = state.written.load(Ordering::Relaxed);
        summary.events_already_there = state.duplicates.load(Ordering::Relaxed);
        summary.graph_version = self.search.version().to_string();
        summary.seconds = t0.elapsed().as_secs_f64();
        Ok(summary)
    }

    /// One window of the plan (cut in halves as needed), written per type with its record.
    #[allow(clippy::too_many_arguments)]
    async fn window(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        need: &[ContentType],
        handle: &WriterHandle,
        state: &Arc<TypeState>,
        counts: &Counts,
        metrics: &Arc<Metrics>,
        stop: &Stop,
    ) -> Result<(), Fail> {
        // The pieces still to ask, as a stack: a piece cut short is replaced by its halves.
        let mut pieces = vec![(start, end)];
        let mut got: BTreeMap<ContentType, Vec<SharedEvent>> = BTreeMap::new();
        // Taken before the first records are fetched, kept until they are written (one per
        // window, whatever its pieces: a window never waits for a second one).
        let mut holding = None;
        while let Some((s, e)) = pieces.pop() {
            match self.ask(s, e, need, counts, stop, &mut holding).await? {
                Answer::Split => match plan::halves(s, e) {
                    Some([a, b]) => {
                        counts.splits.fetch_add(1, Ordering::Relaxed);
                        pieces.push(b);
                        pieces.push(a);
                    }
                    None => {
                        return Err(Fail::Window(format!(
                            "more records in one second ({s}) than a query returns"
                        )))
                    }
                },
                Answer::Events(by_type, n) => {
                    counts.seen.fetch_add(n, Ordering::Relaxed);
                    for (ct, mut ev) in by_type {
                        got.entry(ct).or_default().append(&mut ev);
                    }
                }
            }
        }
        // One unit per type: its events with the window's record, committed together.
        let ws = WindowState::new(end);
        for &ct in need {
            let blob = BlobOut {
                tenant: self.tenant.clone(),
                content_type: ct,
                content_id: plan::window_id(ct, start, end),
                content_created: start,
                events: got.remove(&ct).unwrap_or_default(),
                lost: None,
            };
            let ack = Ack::new(ws.clone(), state.clone(), metrics.clone(), start);
            if handle
                .send(WriterMsg::Blob(Box::new(blob), ack))
                .await
                .is_err()
            {
                return Err(Fail::Window("the sink's writer stopped".into()));
            }
        }
        ws.listed();
        ws.wait().await;
        if ws.is_failed() {
            return Err(Fail::Window(
                "the sink did not take the window's events (see the log)".into(),
            ));
        }
        self.progress
            .written
            .store(state.written.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok(())
    }

    /// One query over `[s, e)`: its events by wanted type, or the answer that it must be split.
    /// The records are fetched once `holding` has leave to hold them (taken here if not yet).
    async fn ask(
        &self,
        s: DateTime<Utc>,
        e: DateTime<Utc>,
        need: &[ContentType],
        counts: &Counts,
        stop: &Stop,
        holding: &mut Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<Answer, Fail> {
        let record_types: Vec<String> = if need.contains(&ContentType::General) {
            vec![]
        } else {
            need.iter()
                .flat_map(|ct| record_type_filters(*ct).iter().map(|s| s.to_string()))
                .collect()
        };
        let spec = QuerySpec {
            display_name: format!(
                "o365mgmt backfill {}/{}",
                s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            start: s,
            end: e,
            record_types,
        };
        let mut attempts = 0;
        let state = loop {
            attempts += 1;
            counts.queries.fetch_add(1, Ordering::Relaxed);
            // Past the search's quotas (queries at once, submissions a day) the service says
            // when to come back: a quota is waited out, not a failure.
            let q = loop {
                match self.search.create(&spec).await {
                    Ok(q) => break q,
                    Err(err) => match err.throttled() {
                        Some(after) => {
                            let wait = after
                                .unwrap_or(self.opts.poll)
                                .max(StdDuration::from_secs(1));
                            tracing::info!(
                                wait_seconds = wait.as_secs_f64(),
                                "audit search quota reached: waiting"
                            );
                            tokio::select! {
                                _ = tokio::time::sleep(wait) => {}
                                _ = stop.wait() => return Err(Fail::Window("stopped".into())),
                            }
                        }
                        None => return Err(err.into()),
                    },
                }
            };
            let mut wait = self.opts.poll;
            let mut q = q;
            while !q.ended() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait() => return Err(Fail::Window("stopped".into())),
                }
                wait = (wait * 2).min(StdDuration::from_secs(60));
                q = self.search.state(&q.id).await?;
            }
            if q.succeeded() {
                break q;
            }
            tracing::warn!(query = %q.id, status = %q.status, start = %s, end = %e, "audit log query did not succeed");
            if attempts > self.opts.retries {
                return Err(Fail::Window(format!(
                    "the audit log query ended {} {} times",
                    q.status, attempts
                )));
            }
        };
        let cap = self.opts.max_window_records;
        let cut = state.is_record_count_limit_exceeded == Some(true)
            || state
                .approximate_returned_record_count
                .is_some_and(|n| n > cap);
        if cut {
            return Ok(Answer::Split);
        }
        if holding.is_none() {
            tokio::select! {
                p = self.held.clone().acquire_owned() => {
                    *holding = Some(p.map_err(|_| Fail::Window("stopped".into()))?);
                }
                _ = stop.wait() => return Err(Fail::Window("stopped".into())),
            }
        }
        let mut by_type: BTreeMap<ContentType, Vec<SharedEvent>> = BTreeMap::new();
        let (mut n, mut next) = (0u64, None::<String>);
        loop {
            let page = self
                .search
                .records(&state.id, self.opts.page_size, next.as_deref())
                .await?;
            for ev in page.events {
                n += 1;
                let ct = content_type_of(ev.record_type);
                if need.contains(&ct) {
                    by_type.entry(ct).or_default().push(ev);
                }
            }
            // Where Graph does not say the answer was cut (beta), as many records as the
            // limit means it may have been; more than the cap is too big to hold.
            if n > cap || (state.is_record_count_limit_exceeded.is_none() && n >= cap) {
                return Ok(Answer::Split);
            }
            match page.next {
                Some(l) => next = Some(l),
                None => break,
            }
        }
        Ok(Answer::Events(by_type, n))
    }
}

#[derive(Default)]
struct Counts {
    splits: AtomicU64,
    queries: AtomicU64,
    seen: AtomicU64,
}
