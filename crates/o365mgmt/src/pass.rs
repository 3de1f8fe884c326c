//! What `collect` and `serve` share: pass options, the sink, resource figures.

use std::path::PathBuf;

use chrono::Utc;
use o365_actions::config::Settings;
use o365_collect::{Options, SinkSpec, SpecContext};

use crate::arg::{When, DEFAULT_INTERVAL};
use crate::cli::PassArgs;
use crate::setup::state_path;

pub fn data_dir(s: &Settings) -> PathBuf {
    let p = state_path(s);
    if p.as_os_str() == ":memory:" {
        return PathBuf::from(".");
    }
    p.parent()
        .map(|d| d.to_path_buf())
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn sink_spec(s: &Settings, given: Option<&str>) -> anyhow::Result<SinkSpec> {
    let dir = data_dir(s);
    match given {
        Some(g) => Ok(SinkSpec::parse(
            g,
            &SpecContext {
                stdout_checkpoint: dir.join("stdout-checkpoint.sqlite"),
            },
        )?),
        None => Ok(SinkSpec::sqlite(dir.join("events.sqlite"))),
    }
}

/// The tenant as the state names it per tenant: its GUID (a domain's, from its last sign-in).
pub fn state_tenant(key_or_configured: &str, store: Option<&o365_store::Store>) -> String {
    o365_api::ids::normal_guid(key_or_configured)
        .or_else(|| store.and_then(|st| st.tenant_of(key_or_configured).ok().flatten()))
        .unwrap_or_else(|| key_or_configured.trim().to_ascii_lowercase())
}

/// Remember where a tenant (its key) is collected, for the reading commands (local sinks).
pub fn remember_sink(store: &o365_store::Store, tenant: &str, spec: &SinkSpec) {
    if let Some(name) = spec.remembered() {
        if let Err(e) = store.remember_sink(&state_tenant(tenant, Some(store)), &name, Utc::now()) {
            tracing::warn!(error = %e, "could not remember the sink");
        }
    }
}

/// Where a reading command looks: `--sink` when given, else the sink the tenant was last
/// collected into (a local one), else the default SQLite sink.
pub fn reading_sink(
    s: &Settings,
    given: Option<&str>,
    store: Option<&o365_store::Store>,
) -> anyhow::Result<SinkSpec> {
    if given.is_some() {
        return sink_spec(s, given);
    }
    let last = match (store, s.tenant()) {
        (Some(st), Ok(t)) => st.last_sink(&state_tenant(t, Some(st))).ok().flatten(),
        _ => None,
    };
    sink_spec(s, last.as_deref())
}

/// This process's CPU seconds and peak resident memory (Linux `/proc`).
pub fn self_usage() -> (Option<f64>, Option<u64>) {
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.get(s.rfind(')')? + 2..)?.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        });
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        });
    (cpu, rss)
}

/// Collection options and the pause between passes, from the flags.
pub fn options(p: &PassArgs) -> (Options, std::time::Duration) {
    let mut opts = Options::new(o365_api::ContentType::ALL.to_vec());
    match p.since {
        Some(When::At(t)) => opts.since_time = Some(t),
        Some(When::Back(d)) => opts.since = d,
        None => {}
    }
    if let Some(o) = p.overlap {
        opts.overlap = o;
    }
    if let Some(c) = p.concurrency {
        opts.concurrency = c as usize;
    }
    (opts, p.interval.unwrap_or(DEFAULT_INTERVAL))
}
