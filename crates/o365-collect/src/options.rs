//! How to collect, and how to ask a run to stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use o365_api::ContentType;
use tokio::sync::Notify;

/// Where a content type starts the first time, unless told: a day back.
pub const DEFAULT_SINCE: Duration = Duration::hours(24);
/// Recent time listed again on every pass, unless told.
pub const DEFAULT_OVERLAP: Duration = Duration::hours(12);
/// Blobs in flight at once per tenant, unless told.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How to collect.
#[derive(Debug, Clone)]
pub struct Options {
    /// Content types.
    pub types: Vec<ContentType>,
    /// Where a content type starts the first time it is collected: this long before now.
    pub since: Duration,
    /// Or at this time.
    pub since_time: Option<DateTime<Utc>>,
    /// Recent windows re-listed on every run, so late blobs are caught.
    pub overlap: Duration,
    /// Blobs in flight at once for this tenant (fetching, parsing or waiting for the sink).
    pub concurrency: usize,
    /// Largest number of blobs one sink transaction takes.
    pub batch_blobs: usize,
}

impl Options {
    /// Defaults: last 24 hours on a first run, 12 hours of overlap, 8 blobs in flight.
    pub fn new(types: Vec<ContentType>) -> Self {
        Self {
            types,
            since: DEFAULT_SINCE,
            since_time: None,
            overlap: DEFAULT_OVERLAP,
            concurrency: DEFAULT_CONCURRENCY,
            batch_blobs: 64,
        }
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
