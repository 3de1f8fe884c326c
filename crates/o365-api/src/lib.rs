//! Client library for the Office 365 Management Activity API: clouds, secret and certificate
//! sign-in, a shared token cache, per-tenant pacing, retries that honour the service, `NextPageUri`
//! paging as a stream, blobs with each event's raw bytes, and typed errors.
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

pub mod auth;
pub mod client;
pub mod cloud;
pub mod error;
pub mod types;
pub mod window;

pub use auth::{AssertionAlgorithm, Certificate, Credentials, TokenVersion};
pub use client::{Client, ClientBuilder, ClientStats, RetryPolicy, TokenInfo};
pub use cloud::Cloud;
pub use error::Error;
pub use types::{
    ContentBlob, ContentType, DlpSensitiveType, Event, Notification, SharedEvent, StartOutcome,
    Subscription, Webhook,
};
