//! Effectively-once audit-log collection.
//!
//! Per (tenant, content type) a cursor on `contentCreated` says everything before it is done;
//! where collection begins is fixed the first time it is decided. A run lists
//! `[cursor - overlap, now)` in windows of at most 24 hours (late blobs are caught by the
//! overlap; blobs already done are skipped), fetches the new blobs with bounded concurrency
//! through the client's pacing and retries, and hands them to one writer thread. A blob is done
//! when the sink has durably taken its events; the cursor moves only over windows whose blobs
//! are all done. Events are de-duplicated on (tenant, `Id`) across blobs and runs. What can no
//! longer be listed (older than 7 days) becomes a recorded gap.
//!
//! ```no_run
//! # async fn run(client: o365_api::Client) -> Result<(), o365_collect::CollectError> {
//! use o365_collect::{Collector, Options, SinkSpec};
//! let opts = Options::new(o365_api::ContentType::ALL.to_vec());
//! let c = Collector::new(client, "tenant-guid".into(), SinkSpec::null(), opts);
//! let summary = c.run_once(&Default::default()).await?;
//! println!("{} events", summary.events_written);
//! # Ok(()) }
//! ```
#![allow(clippy::result_large_err)]

// What callers set and get.
mod options;
mod summary;

// The pipeline: a collector runs each content type; fetches hand blobs to the writer;
// acknowledgements settle windows; cursors move over settled windows.
mod ack;
mod collector;
mod fetch;
mod type_run;
mod writer;

// Where events and progress go.
pub mod blob;
pub mod checkpoint;
pub mod forward;
pub mod key;
mod local;
pub mod sinks;
pub mod status;
pub mod tx;

// Beyond the feed's 7 days: Graph's audit search.
pub mod backfill;

// Around a run.
pub mod identity;
pub mod metrics;
pub mod preflight;
pub mod webhook;

// A tenant's loop; many tenants: a fleet of such loops, sharded between instances.
pub mod fleet;
pub mod passes;
pub mod shard;
pub mod tenant;

pub use collector::{CollectError, Collector};

/// A future of this crate's, boxed where it is made. Async work is compiled in the crate that
/// awaits it; the entry points the command line awaits (a pass, a backfill, a repair) hand it
/// their work boxed, so that it is compiled here, optimised as this crate is, however the
/// crate that awaits it is built.
pub type Boxed<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
pub use fleet::{Applied, Fleet};
pub use metrics::Metrics;
pub use options::{Options, Stop, DEFAULT_CONCURRENCY, DEFAULT_OVERLAP, DEFAULT_SINCE};
pub use passes::{Next, PassHook, PassLoop, Turn};
pub use shard::Shard;
pub use sinks::{SinkError, SinkSpec, SinkSpecError, SpecContext, TypeStatus};
pub use summary::{RunError, Summary, TypeSummary};
pub use tenant::{TenantOptions, TenantShared, TenantState, TenantStatus};
pub use writer::{SinkStats, Writer, WriterHandle};
