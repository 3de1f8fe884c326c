//! `collect upgrade`: a SQLite sink made by an earlier version rewritten in the current layout.

use std::process::ExitCode;

use anyhow::bail;
use o365_actions::config::Settings;
use o365_collect::sinks::sqlite::Upgrade;

use crate::cli::Output;
use crate::setup::read_store;
use crate::term::out;

/// Upgrade `sink` (default: the sink `collect` would use), and say what was done.
pub fn run(s: &Settings, sink: Option<&str>, fmt: Output) -> anyhow::Result<ExitCode> {
    let store = read_store(s)?;
    let spec = crate::pass::reading_sink(s, sink, store.as_ref())?;
    let name = spec.name();
    let started = std::time::Instant::now();
    let (result, events, blobs) = match spec.upgrade()? {
        Upgrade::NotApplicable => bail!(
            "collect upgrade: {name} has no layout to upgrade: only a SQLite sink has one (--sink sqlite:PATH)"
        ),
        Upgrade::NoFile => bail!(
            "collect upgrade: {name}: no such file; give the SQLite sink to upgrade with --sink sqlite:PATH"
        ),
        Upgrade::Current => ("current", 0, 0),
        Upgrade::Rewritten { events, blobs } => ("rewritten", events, blobs),
    };
    let seconds = started.elapsed().as_secs_f64();
    match fmt {
        Output::Json => out(&format!(
            "{}\n",
            serde_json::json!({
                "sink": name,
                "result": result,
                "events": events,
                "blobs": blobs,
                "seconds": seconds,
            })
        )),
        Output::Text if result == "current" => {
            out(&format!("{name}: already in the current layout; nothing to do\n"));
        }
        Output::Text => out(&format!(
            "{name}: {events} events from {blobs} blobs rewritten in the current layout in {seconds:.1} s\n"
        )),
    }
    Ok(ExitCode::SUCCESS)
}
