//! Client library for the Office 365 Management Activity API: clouds, secret and certificate
//! sign-in, a shared token cache, per-tenant pacing, retries that honour the service within a
//! budget, `NextPageUri` paging as a stream, blobs with each event's raw bytes, and typed errors.
//!
//! ```no_run
//! use futures::TryStreamExt as _;
//! use o365_api::{Client, ContentType, Credentials, window};
//!
//! # async fn run() -> Result<(), o365_api::Error> {
//! let client = Client::builder(
//!     "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80",
//!     "0b8e6d2c-5a4f-4e3b-9c1d-2f7a8b9c0d1e",
//!     Credentials::secret("the secret's value"),
//! )
//! .build()?;
//! client.start_subscription(ContentType::General, None).await?; // "already enabled" is Ok too
//! let now = client.server_now();
//! let plan = window::plan(now - chrono::Duration::hours(48), now, now);
//! for w in plan.windows {
//!     let mut pages = std::pin::pin!(client.list_content(ContentType::General, w));
//!     while let Some(page) = pages.try_next().await? {
//!         for blob in page {
//!             for event in client.fetch_blob(&blob.content_uri).await? {
//!                 println!("{} {}", event.id, event.raw.get());
//!             }
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```
#![allow(clippy::result_large_err)]

// Values and the wire.
pub mod cloud;
pub mod error;
pub mod event;
pub mod ids;
pub mod limits;
pub mod proxy;
pub mod seconds;
pub mod types;
pub mod window;

// Signing in.
pub mod audit_search;
pub mod auth;
mod token;

// The client and its parts.
mod builder;
mod client;
mod pacer;
pub mod retry;
mod transport;
pub mod trust;

// Operations, one file per API area.
mod content;
mod subscriptions;

pub use auth::{AssertionAlgorithm, Certificate, Credentials, TokenVersion};
pub use builder::{ClientBuilder, DEFAULT_REQUESTS_PER_MINUTE, DEFAULT_TIMEOUT_SECS};
pub use client::{Client, ClientStats};
pub use cloud::Cloud;
pub use error::Error;
pub use event::{Event, SharedEvent};
pub use ids::is_guid;
pub use proxy::ProxyInUse;
pub use retry::RetryPolicy;
pub use token::TokenInfo;
pub use trust::Trust;
pub use types::{
    ContentBlob, ContentType, DlpSensitiveType, Notification, StartOutcome, Subscription, Webhook,
};
