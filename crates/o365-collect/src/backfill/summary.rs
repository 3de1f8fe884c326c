//! What a backfill reports: its summary, the windows it could not reach, its progress.

use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};

/// What a backfill did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct BackfillSummary {
    /// Windows in the plan.
    pub windows: u64,
    /// Windows found done by an earlier run (not asked again).
    pub windows_done_before: u64,
    /// Windows finished in this run.
    pub windows_done: u64,
    /// Windows cut in halves (the answer was cut short or too big).
    pub splits: u64,
    /// Queries submitted.
    pub queries: u64,
    /// Records the search returned (of every type it was asked for).
    pub events_seen: u64,
    /// Events written.
    pub events_written: u64,
    /// Events already in the sink (from the feed or an earlier backfill).
    pub events_already_there: u64,
    /// Windows that could not be finished, with why (a later run asks them again).
    pub unreached: Vec<Unreached>,
    /// The Graph version used.
    pub graph_version: String,
    /// Seconds the run took.
    pub seconds: f64,
}

/// A window this run could not finish.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unreached {
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
    /// Why.
    pub error: String,
}

/// Progress, as it goes.
#[derive(Debug, Default)]
pub struct Progress {
    /// Windows in the plan.
    pub windows: AtomicU64,
    /// Windows done (before and now).
    pub done: AtomicU64,
    /// Events written so far.
    pub written: AtomicU64,
}
