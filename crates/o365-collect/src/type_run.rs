//! One content type in one run: where to start, the windows to list, the blobs to fetch, and
//! the cursor moved over every window whose blobs are all done.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use o365_api::{Client, ContentType};
use o365_store::{GapSource, SubscriptionState};
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::ack::{Ack, TypeState, WindowState};
use crate::fetch::Fetch;
use crate::metrics::Metrics;
use crate::options::{Options, Stop};
use crate::sinks::{CursorMove, Resume, RetentionGap};
use crate::summary::{RunError, TypeSummary};
use crate::writer::{WriterHandle, WriterMsg};

pub(crate) struct TypeRun {
    pub(crate) client: Client,
    pub(crate) tenant: String,
    pub(crate) ct: ContentType,
    pub(crate) opts: Options,
    pub(crate) writer: WriterHandle,
    pub(crate) sem: Arc<Semaphore>,
    pub(crate) global: Option<Arc<Semaphore>>,
    pub(crate) stop: Stop,
    pub(crate) ledger: Option<Arc<o365_store::Store>>,
    pub(crate) metrics: Arc<Metrics>,
}

impl TypeRun {
    /// Move the cursor, durably.
    async fn move_cursor(
        &self,
        cursor: DateTime<Utc>,
        origin: DateTime<Utc>,
    ) -> Result<(), RunError> {
        let c = CursorMove {
            tenant: self.tenant.clone(),
            content_type: self.ct,
            cursor,
            service_now: self.client.server_now(),
            origin,
        };
        self.writer.ask(|s| WriterMsg::Cursor(c, s)).await?;
        self.metrics.set_cursor(self.ct, cursor);
        Ok(())
    }

    /// Where this type stands: fixed the first time it is decided, so a failed first run never
    /// moves the start (and never skips what it failed to fetch).
    pub(crate) async fn resume(&self, now: DateTime<Utc>) -> Result<Resume, RunError> {
        let tenant = self.tenant.clone();
        if let Some(r) = self
            .writer
            .ask(|s| WriterMsg::Resume(tenant, self.ct, s))
            .await?
        {
            return Ok(r);
        }
        let origin = self.opts.since_time.unwrap_or(now - self.opts.since);
        // Nothing before the origin is wanted: it is a cursor from the start.
        self.move_cursor(origin, origin).await?;
        Ok(Resume {
            cursor: origin,
            origin,
        })
    }

    /// What can no longer be listed becomes a recorded gap (sink and ledger), never a silent
    /// one; the cursor then moves past it.
    async fn record_retention_gap(
        &self,
        r: &mut Resume,
        floor: DateTime<Utc>,
        sum: &mut TypeSummary,
    ) -> Result<(), RunError> {
        let gap = RetentionGap {
            tenant: self.tenant.clone(),
            content_type: self.ct,
            start: r.cursor,
            end: floor,
        };
        tracing::warn!(content_type = %self.ct, from = %gap.start, to = %gap.end, "content older than 7 days can no longer be listed: recorded as a gap");
        sum.gaps.push((gap.start, gap.end));
        if let Some(l) = &self.ledger {
            if let Err(e) = l.record_gap(
                &o365_api::cloud::history_key(&self.tenant, self.client.api_root()),
                self.ct,
                gap.start,
                gap.end,
                GapSource::Retention,
            ) {
                tracing::error!(error = %e, "could not record the gap in the ledger");
            }
        }
        self.writer.ask(|s| WriterMsg::Gap(gap, s)).await?;
        self.move_cursor(floor, r.origin).await?;
        r.cursor = floor;
        Ok(())
    }

    pub(crate) async fn run(self) -> TypeSummary {
        let mut sum = TypeSummary {
            content_type: self.ct.as_str().into(),
            ..Default::default()
        };
        let state = Arc::new(TypeState::default());
        if let Err(e) = self.list_and_fetch(&mut sum, &state).await {
            state.error(e);
        }
        if let Ok(mut v) = state.errors.lock() {
            sum.errors.append(&mut v);
        }
        let g = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        sum.blobs_done = g(&state.blobs_done);
        sum.blobs_lost = g(&state.blobs_lost);
        sum.events_written = g(&state.written);
        sum.duplicates = g(&state.duplicates);
        sum
    }

    async fn list_and_fetch(
        &self,
        sum: &mut TypeSummary,
        state: &Arc<TypeState>,
    ) -> Result<(), RunError> {
        let now = self.client.server_now();
        self.metrics.set_service_now(now);
        let mut r = self.resume(now).await?;
        sum.cursor = Some(r.cursor);
        let floor = now - o365_api::window::retention();
        if r.cursor < floor {
            self.record_retention_gap(&mut r, floor, sum).await?;
            sum.cursor = Some(r.cursor);
        }
        // Late blobs are caught by re-listing the overlap, never before where collection began.
        let start = (r.cursor - self.opts.overlap).max(r.origin);
        let plan = o365_api::window::plan(start, now, now);
        let Some(first) = plan.windows.first() else {
            return Ok(());
        };
        let tenant = self.tenant.clone();
        let since = first.start;
        let done = self
            .writer
            .ask(|s| WriterMsg::DoneSince(tenant, self.ct, since, s))
            .await?;
        let mut windows: VecDeque<Arc<WindowState>> = VecDeque::new();
        let mut halted = false;
        'windows: for w in &plan.windows {
            if self.stop.is_stopped() {
                halted = true;
                break;
            }
            let ws = WindowState::new(w.end);
            windows.push_back(ws.clone());
            sum.windows += 1;
            let mut pages = std::pin::pin!(self.client.list_content(self.ct, *w));
            loop {
                let page = match pages.try_next().await {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    Err(e) => {
                        state.error(self.listing_failed(&e));
                        ws.fail();
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
                    let permits = tokio::select! {
                        p = self.permits() => match p { Some(p) => p, None => break 'windows },
                        _ = self.stop.wait() => { halted = true; ws.fail(); break 'windows; }
                    };
                    let created = blob.content_created;
                    let job = Fetch {
                        client: self.client.clone(),
                        tenant: self.tenant.clone(),
                        ct: self.ct,
                        blob,
                        ack: Ack::new(ws.clone(), state.clone(), self.metrics.clone(), created),
                        permits,
                        writer: self.writer.clone(),
                        stop: self.stop.clone(),
                    };
                    // Detached: a finished task frees its memory at once.
                    tokio::spawn(job.run().in_current_span());
                }
            }
            ws.listed();
            // Move the cursor over every finished window at the front, without waiting.
            self.advance(&mut windows, &mut r, sum, false).await?;
        }
        // Every fetch settles its window, so waiting for the windows waits for the fetches.
        self.advance(&mut windows, &mut r, sum, true).await?;
        for w in &windows {
            w.wait().await;
        }
        let no_errors = state.errors.lock().map(|v| v.is_empty()).unwrap_or(false);
        if halted && no_errors && !self.stop.is_stopped() {
            return Err(RunError::Halted);
        }
        Ok(())
    }

    /// This tenant's share of blobs in flight, then the global cap (fair: first come, first
    /// served). `None` when closed.
    async fn permits(
        &self,
    ) -> Option<(
        tokio::sync::OwnedSemaphorePermit,
        Option<tokio::sync::OwnedSemaphorePermit>,
    )> {
        let mine = self.sem.clone().acquire_owned().await.ok()?;
        let global = match &self.global {
            Some(g) => Some(g.clone().acquire_owned().await.ok()?),
            None => None,
        };
        Some((mine, global))
    }

    /// Move the cursor over the finished windows at the front (waiting for them when `wait`).
    async fn advance(
        &self,
        windows: &mut VecDeque<Arc<WindowState>>,
        r: &mut Resume,
        sum: &mut TypeSummary,
        wait: bool,
    ) -> Result<(), RunError> {
        let mut end = None;
        while let Some(front) = windows.front() {
            if wait {
                front.wait().await;
            }
            if front.is_failed() || !front.done() {
                break;
            }
            end = Some(front.end);
            windows.pop_front();
        }
        if let Some(e) = end.filter(|e| *e > r.cursor) {
            self.move_cursor(e, r.origin).await?;
            r.cursor = e;
            sum.cursor = Some(e);
        }
        Ok(())
    }

    fn listing_failed(&self, e: &o365_api::Error) -> RunError {
        let ct = self.ct;
        if !e.is_not_subscribed() {
            return RunError::Listing {
                content_type: ct,
                error: e.to_string(),
            };
        }
        // The subscription is not enabled: what it would have produced does not exist.
        if let Some(l) = &self.ledger {
            let state = if e.is_subscription_disabled() {
                SubscriptionState::Disabled
            } else {
                SubscriptionState::Absent
            };
            if let Err(err) = l.observe(
                &o365_api::cloud::history_key(&self.tenant, self.client.api_root()),
                ct,
                state,
                self.client.server_now(),
                None,
            ) {
                tracing::error!(error = %err, "could not record the observed state in the ledger");
            }
        }
        RunError::NotSubscribed {
            content_type: ct,
            error: e.to_string(),
        }
    }
}
