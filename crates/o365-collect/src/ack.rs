//! Windows and the acknowledgements that settle them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::metrics::Metrics;
use crate::summary::RunError;

/// One listed window: done when listing finished and every blob is acknowledged.
pub(crate) struct WindowState {
    pub(crate) end: DateTime<Utc>,
    pending: AtomicU64,
    listed: AtomicBool,
    pub(crate) failed: AtomicBool,
    notify: Notify,
}

impl WindowState {
    pub(crate) fn new(end: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            end,
            pending: AtomicU64::new(0),
            listed: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            notify: Notify::new(),
        })
    }
    /// One more blob to wait for.
    pub(crate) fn await_one_more(&self) {
        self.pending.fetch_add(1, Ordering::SeqCst);
    }
    /// Listing of the window finished.
    pub(crate) fn listed(&self) {
        self.listed.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    /// The window cannot be done in this run.
    pub(crate) fn fail(&self) {
        self.failed.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    fn settle(&self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    pub(crate) fn done(&self) -> bool {
        self.listed.load(Ordering::SeqCst) && self.pending.load(Ordering::SeqCst) == 0
    }
    pub(crate) fn is_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
    pub(crate) async fn wait(&self) {
        loop {
            let n = self.notify.notified();
            if self.done() || self.is_failed() {
                return;
            }
            n.await;
        }
    }
}

/// Counters and errors of one content type in one run.
#[derive(Default)]
pub(crate) struct TypeState {
    pub(crate) blobs_done: AtomicU64,
    pub(crate) blobs_lost: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) errors: Mutex<Vec<RunError>>,
}

impl TypeState {
    /// Note an error (once, however many blobs meet it in a row).
    pub(crate) fn error(&self, e: RunError) {
        if let Ok(mut v) = self.errors.lock() {
            if v.last() != Some(&e) {
                v.push(e);
            }
        }
    }
}

/// Acknowledgement travelling with a blob to the writer. However it ends (committed, failed,
/// abandoned, dropped with a dead writer), its window hears of it exactly once.
pub(crate) struct Ack {
    window: Arc<WindowState>,
    pub(crate) state: Arc<TypeState>,
    pub(crate) metrics: Arc<Metrics>,
    /// The blob's `contentCreated`.
    created: chrono::DateTime<chrono::Utc>,
    committed: bool,
}

impl Ack {
    pub(crate) fn new(
        window: Arc<WindowState>,
        state: Arc<TypeState>,
        metrics: Arc<Metrics>,
        created: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        window.await_one_more();
        Self {
            window,
            state,
            metrics,
            created,
            committed: false,
        }
    }

    /// The sink has it: `events` of the blob, `written` of them new, `lost` if it can never be
    /// fetched. Settles the window as done.
    pub(crate) fn commit(mut self, events: u64, written: u64, lost: bool) {
        let (s, m) = (&self.state, &self.metrics);
        s.blobs_done.fetch_add(1, Ordering::Relaxed);
        s.written.fetch_add(written, Ordering::Relaxed);
        s.duplicates.fetch_add(events - written, Ordering::Relaxed);
        m.blobs_done.fetch_add(1, Ordering::Relaxed);
        m.events_written.fetch_add(written, Ordering::Relaxed);
        m.duplicates.fetch_add(events - written, Ordering::Relaxed);
        if lost {
            s.blobs_lost.fetch_add(1, Ordering::Relaxed);
            m.blobs_lost.fetch_add(1, Ordering::Relaxed);
        }
        m.note_commit(self.created);
        self.committed = true;
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.committed {
            self.window.fail();
        }
        self.window.settle();
    }
}
