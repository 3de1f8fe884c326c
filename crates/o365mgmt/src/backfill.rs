//! `o365mgmt backfill`: the audit log beyond the feed's 7 days, through Microsoft Graph's audit
//! search, into the sinks `collect` writes.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{anyhow, bail};
use chrono::{Duration, Utc};
use o365_actions::input;
use o365_api::ContentType;
use o365_collect::backfill::{Backfill, BackfillError, BackfillOptions, BackfillSummary};
use o365_collect::Stop;

use crate::arg::{self, When};
use crate::cli::{Global, Output};
use crate::pass::{self_usage, sink_spec};
use crate::setup::settings;
use crate::term::{out, warn};

/// `backfill` arguments.
#[derive(clap::Args, Debug)]
pub struct BackfillArgs {
    /// Content types (each may be a comma-separated list) [default: the configured content_types].
    #[arg(value_name = "TYPE")]
    pub types: Vec<String>,
    /// All five content types.
    #[arg(long, conflicts_with = "types")]
    pub all: bool,
    /// From: a duration back (90d, 36h) or a UTC time (RFC 3339).
    #[arg(long, value_name = "DURATION|TIME", value_parser = arg::when)]
    pub since: When,
    /// Until (not included): a duration back or a UTC time [default: now].
    #[arg(long, value_name = "DURATION|TIME", value_parser = arg::when)]
    pub until: Option<When>,
    /// Where events go; the kinds listed in its help come from the sink table
    /// (`fit::sink_help`).
    #[arg(long, value_name = "SINK")]
    pub sink: Option<String>,
    /// One query per window of this length.
    #[arg(long, value_name = "DURATION", value_parser = arg::window)]
    pub window: Option<Duration>,
    /// Queries submitted and not finished at once.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=50))]
    pub queries: Option<u16>,
    /// First wait before asking how a query goes, doubling up to a minute.
    #[arg(long, value_name = "DURATION", value_parser = arg::poll)]
    pub poll: Option<std::time::Duration>,
    /// A window whose answer holds more records is cut in halves.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub max_window_records: Option<u64>,
}

/// Run `backfill`.
pub async fn run(g: &Global, a: &BackfillArgs, fmt: Output) -> anyhow::Result<ExitCode> {
    let s = settings(g)?;
    for w in &s.warnings {
        warn(w);
    }
    let now = Utc::now();
    let since = a.since.at(now);
    let until = a.until.map_or(now, |u| u.at(now).min(now));
    if since >= until {
        bail!(
            "--since {} is not before --until {}: give a range that ends after it begins",
            since.to_rfc3339(),
            until.to_rfc3339()
        );
    }
    let types = if a.all {
        ContentType::ALL.to_vec()
    } else if a.types.is_empty() {
        s.content_types.value.clone()
    } else {
        input::content_types("TYPE", &a.types).map_err(|e| anyhow!("{e}"))?
    };
    let mut opts = BackfillOptions::new(since, until, types);
    if let Some(w) = a.window {
        opts.window = w;
    }
    if let Some(p) = a.poll {
        opts.poll = p;
    }
    if let Some(n) = a.queries {
        opts.concurrent = n as usize;
    }
    if let Some(n) = a.max_window_records {
        opts.max_window_records = n;
    }
    // Everything that can be judged here is judged before any request (exit 2).
    let spec = sink_spec(&s, a.sink.as_deref())?;
    spec.check()?;
    let store = crate::setup::open_store(&s)?;
    let client = s.client().map_err(|e| anyhow!("{e}"))?;
    let search = client.audit_search().map_err(|e| anyhow!("{e}"))?;
    let Some(tenant) = crate::progress::tenant_key(&s, &client, &spec, &store, "backfill").await?
    else {
        return Ok(ExitCode::from(3));
    };
    let backfill = Backfill::new(search, tenant, spec.clone(), opts);
    let stop = Stop::default();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            crate::term::shutdown_signal().await;
            stop.stop();
        });
    }
    let bar = progress_bar(&backfill);
    let result = backfill.run(&stop).await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    match result {
        Ok(sum) => {
            report(&sum, &spec.name(), fmt);
            for u in &sum.unreached {
                warn(&format!(
                    "not reached: {} to {}: {} (a later run asks it again)",
                    u.start.to_rfc3339(),
                    u.end.to_rfc3339(),
                    u.error
                ));
            }
            Ok(if sum.unreached.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(BackfillError::Refused { message, forbidden }) => {
            warn(&format!("cannot backfill: {message}"));
            warn(if forbidden {
                "fix: grant the app the Microsoft Graph application permission AuditLogsQuery.Read.All (or a workload's AuditLogsQuery-Exchange.Read.All, -SharePoint, -OneDrive, -Entra, …) and admin consent (Entra admin center > App registrations > API permissions); nothing was written"
            } else {
                "fix: check the app's credentials and that it may sign in to Microsoft Graph; nothing was written"
            });
            Ok(ExitCode::from(3))
        }
        Err(e) => Err(e.into()),
    }
}

fn progress_bar(b: &Backfill) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let p = b.progress();
    let pb = indicatif::ProgressBar::new(0);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{elapsed} [{bar:30}] {pos}/{len} windows  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let pb2 = pb.clone();
    tokio::spawn(async move {
        while !pb2.is_finished() {
            pb2.set_length(p.windows.load(Ordering::Relaxed));
            pb2.set_position(p.done.load(Ordering::Relaxed));
            pb2.set_message(format!("events {}", p.written.load(Ordering::Relaxed)));
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    Some(pb)
}

fn report(s: &BackfillSummary, sink: &str, fmt: Output) {
    let (cpu, rss) = self_usage();
    match fmt {
        Output::Json => {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["sink"] = serde_json::json!(sink);
            v["cpu_seconds"] = serde_json::json!(cpu);
            v["peak_rss_bytes"] = serde_json::json!(rss);
            out(&format!("{v}\n"));
        }
        Output::Text => out(&format!(
            "Backfilled {} events into {sink} ({} already there) from {} of {} windows ({} done before, {} not reached; {} queries, {} splits, Graph {}) in {:.1} s\n",
            s.events_written,
            s.events_already_there,
            s.windows_done,
            s.windows,
            s.windows_done_before,
            s.unreached.len(),
            s.queries,
            s.splits,
            s.graph_version,
            s.seconds
        )),
    }
}
