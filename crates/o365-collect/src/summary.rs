//! What a run did, per content type and in all, and why it could not finish.

use chrono::{DateTime, Utc};
use o365_api::ContentType;

/// Why part of a run could not finish (retried on the next run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The content type is not subscribed: what it would have produced does not exist.
    #[error("{content_type} is not subscribed ({error}); start it (`o365mgmt start-subscription {content_type}` or --auto-start)")]
    NotSubscribed {
        /// The content type.
        content_type: ContentType,
        /// The service's answer.
        error: String,
    },
    /// A listing failed.
    #[error("listing {content_type}: {error}")]
    Listing {
        /// The content type.
        content_type: ContentType,
        /// The client's error.
        error: String,
    },
    /// A blob could not be fetched or decoded.
    #[error("blob {content_id}: {error}")]
    Blob {
        /// The blob.
        content_id: String,
        /// The client's error.
        error: String,
    },
    /// The sink could not make something durable.
    #[error("{0}")]
    Sink(String),
    /// The sink writer is gone.
    #[error("the sink writer stopped")]
    WriterGone,
    /// Listing ended before the last window, for no other reported reason.
    #[error("listing stopped early")]
    Halted,
    /// A collector task ended abnormally.
    #[error("collector task failed: {0}")]
    Task(String),
}

impl serde::Serialize for RunError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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
    pub errors: Vec<RunError>,
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
