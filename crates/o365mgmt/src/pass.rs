//! What `collect` and `serve` share: pass options, the sink, resource figures.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use chrono::{Duration, Utc};
use o365_actions::config::Settings;
use o365_actions::input;
use o365_collect::{Options, SinkSpec, SpecContext};

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

/// A duration flag within its range, or exit 2 naming the flag, the value and the range.
pub fn duration(flag: &str, v: &str, min: Duration, max: Duration) -> anyhow::Result<Duration> {
    input::parse_duration(flag, v, min, max).map_err(|e| anyhow!("{e}"))
}

/// Where a content type starts the first time: `--since` as a duration back or a UTC time.
fn since(opts: &mut Options, v: &str) -> anyhow::Result<()> {
    match input::parse_time(v) {
        Ok(t) if v.contains('-') => {
            if t > Utc::now() + Duration::minutes(5) {
                bail!("--since {v:?}: that is in the future; give a past UTC time or a duration such as 24h");
            }
            opts.since_time = Some(t);
        }
        _ => opts.since = duration("--since", v, Duration::minutes(1), input::MAX_DURATION)?,
    }
    Ok(())
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
pub fn options(p: &PassArgs) -> anyhow::Result<(Options, std::time::Duration)> {
    let mut opts = Options::new(o365_api::ContentType::ALL.to_vec());
    if let Some(v) = &p.since {
        since(&mut opts, v)?;
    }
    if let Some(o) = &p.overlap {
        opts.overlap = duration("--overlap", o, Duration::zero(), Duration::days(7))?;
    }
    if let Some(c) = p.concurrency {
        opts.concurrency = c as usize;
    }
    let interval = match &p.interval {
        Some(i) => duration("--interval", i, Duration::seconds(1), Duration::days(1))?
            .to_std()
            .map_err(|e| anyhow!("--interval: {e}"))?,
        None => std::time::Duration::from_secs(60),
    };
    Ok((opts, interval))
}
