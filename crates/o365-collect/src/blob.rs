//! The vocabulary between the pipeline, the writer and every sink: a blob ready for a sink, a
//! cursor move, a retention gap, where a type stands, what a commit made durable, and what can
//! go wrong. A leaf: it imports nothing of the crate, so the checkpoint and the sinks can both
//! use it without importing each other.

use std::path::Path;

use chrono::{DateTime, Utc};
use o365_api::ContentType;

/// A sink problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// SQLite failed.
    #[error("{path}: {source}")]
    Sql {
        /// The database.
        path: String,
        /// Why.
        source: rusqlite::Error,
    },
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The event bus refused or failed.
    #[error("{0}")]
    Bus(String),
    /// The event bus could not be reached at all (no broker answered).
    #[error("{0}")]
    Unreachable(String),
    /// Another instance took over this tenant: this one must stop writing for it.
    #[error("tenant {tenant}: another instance now collects it (this producer was fenced); stopped collecting it here")]
    Fenced {
        /// The tenant.
        tenant: String,
    },
    /// The fleet's group gave this tenant to another instance: this one no longer writes it.
    #[error(
        "tenant {tenant}: the fleet's group gave it to another instance, which collects it now"
    )]
    Moved {
        /// The tenant.
        tenant: String,
    },
}

impl SinkError {
    /// Whether the sink could not be reached at all (a connectivity problem, not a refusal).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SinkError::Unreachable(_))
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        SinkError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// A fetched blob (or one that can never be fetched), ready for the sink.
#[derive(Debug)]
pub struct BlobOut {
    /// Tenant.
    pub tenant: String,
    /// Content type.
    pub content_type: ContentType,
    /// Content id.
    pub content_id: String,
    /// `contentCreated`.
    pub content_created: DateTime<Utc>,
    /// Its events.
    pub events: Vec<o365_api::SharedEvent>,
    /// Why it can never be fetched (expired, gone), if so.
    pub lost: Option<String>,
}

/// A cursor move: everything of `content_type` before `cursor` is done.
#[derive(Debug, Clone)]
pub struct CursorMove {
    /// Tenant.
    pub tenant: String,
    /// Content type.
    pub content_type: ContentType,
    /// The new cursor.
    pub cursor: DateTime<Utc>,
    /// The service's clock when it moved (lag is measured on the service's clock).
    pub service_now: DateTime<Utc>,
    /// Where collection of this type began (fixed the first time it is decided).
    pub origin: DateTime<Utc>,
}

/// A range that can no longer be listed (older than the retention): content lost for good.
#[derive(Debug, Clone)]
pub struct RetentionGap {
    /// Tenant.
    pub tenant: String,
    /// Content type.
    pub content_type: ContentType,
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
}

/// Where collection of one content type stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// Everything before this is done (or was never wanted, or is a recorded gap).
    pub cursor: DateTime<Utc>,
    /// Where collection began.
    pub origin: DateTime<Utc>,
}

/// What a commit made durable.
#[derive(Debug, Default)]
pub struct Committed {
    /// Events written per blob (the rest were duplicates).
    pub written: Vec<u64>,
    /// Tenants whose blobs and cursor moves in this group are not durable, and why.
    pub failed: Vec<(String, SinkError)>,
}

impl Committed {
    /// Everything durable, with these counts.
    pub fn all(written: Vec<u64>) -> Self {
        Self {
            written,
            failed: vec![],
        }
    }

    /// Whether `tenant`'s part failed.
    pub fn failed_for(&self, tenant: &str) -> Option<&SinkError> {
        self.failed
            .iter()
            .find(|(t, _)| t == tenant)
            .map(|(_, e)| e)
    }
}
