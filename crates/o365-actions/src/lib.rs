//! The Office 365 Management API integration contract: Ping, Start Subscription, Stop Subscription,
//! List Subscriptions (and List Content), each returning the SOAR result object, with every run
//! journaled and every subscription stop recorded in the data-gap ledger.
//!
//! ```no_run
//! use o365_actions::{config::Settings, input::CaseContext, Runner};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings::loader(None, None)?.resolve()?;
//! let runner = Runner::new(settings, None, "example");
//! let types = o365_actions::input::content_types("types", &["Audit.Exchange,DLP.All"])?;
//! let result = runner.start(CaseContext::manual(), types).await;
//! println!("{}", serde_json::to_string_pretty(&result)?);
//! # Ok(()) }
//! ```
#![allow(clippy::result_large_err)]

// What callers give: configuration and requests.
pub mod config;
pub mod input;
pub mod suggest;

// What actions give back.
mod details;
mod diagnose;
pub mod result;

// The runner and its actions, one file each.
mod change;
mod content;
mod list;
mod observe;
mod ping;
mod runner;

use chrono::{DateTime, SecondsFormat, Utc};

pub use details::Details;
pub use input::ActionKind;
pub use observe::{observe_subscriptions, state_in};
pub use runner::{ledger_key, Progress, Runner};

/// Warning carried by every stop.
pub const STOP_WARNING: &str = "Content produced while a subscription is stopped is never made available: it is lost for good, and no later start or collection can recover it.";

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `3h 12m`, `45s`.
pub fn human_seconds(s: i64) -> String {
    let (d, h, m, sec) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h {m}m"),
    }
}
