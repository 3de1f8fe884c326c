//! Flag values read at the flag: each flag's clap value parser gives the command a typed value,
//! and a bad one is refused by clap, naming the flag, the value and what is allowed, before
//! anything runs. Each range and default is declared once, here or in the library that applies
//! it; the help states the defaults from the same constants ([`value_defaults`]).

use chrono::{DateTime, Duration, Utc};
use o365_actions::input;

/// A point in time as typed: a duration back from now (`24h`, `90d`) or a UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// This long before now.
    Back(Duration),
    /// This time.
    At(DateTime<Utc>),
}

impl When {
    /// The time it names, now being `now`.
    pub fn at(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            When::Back(d) => now - d,
            When::At(t) => t,
        }
    }

    /// `v` as typed: a UTC time (it has a date), else a duration back of at least a minute; a
    /// time more than five minutes ahead is refused.
    pub fn parse(v: &str) -> Result<When, String> {
        match input::parse_time(v) {
            Ok(t) if v.contains('-') => {
                if t > Utc::now() + Duration::minutes(5) {
                    return Err(
                        "that is in the future; give a past UTC time or a duration back such as 24h"
                            .into(),
                    );
                }
                Ok(When::At(t))
            }
            _ => Span::new(Duration::minutes(1), input::MAX_DURATION)
                .read(v)
                .map(When::Back),
        }
    }
}

/// A duration flag's range.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// Shortest allowed.
    pub min: Duration,
    /// Longest allowed.
    pub max: Duration,
}

impl Span {
    /// From `min` to `max`.
    pub const fn new(min: Duration, max: Duration) -> Self {
        Span { min, max }
    }

    /// `v` (`30s`, `15m`, `12h`, `3d`) within the range, or what is allowed.
    pub fn read(self, v: &str) -> Result<Duration, String> {
        input::parse_duration("", v, self.min, self.max).map_err(|e| e.problem)
    }

    /// `v` within the range, as a standard duration (the range starts at zero or later).
    pub fn read_std(self, v: &str) -> Result<std::time::Duration, String> {
        self.read(v)?.to_std().map_err(|e| e.to_string())
    }
}

/// `--interval`: the pause between passes.
pub const INTERVAL: Span = Span::new(Duration::seconds(1), Duration::days(1));
/// The pause between passes when `--interval` is not given (and no webhook is).
pub const DEFAULT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);
/// `--overlap`: recent time listed again on every pass.
pub const OVERLAP: Span = Span::new(Duration::zero(), Duration::days(7));
/// `--ready-after`: how long a tenant may fail before `/readyz` says 503.
pub const READY_AFTER: Span = Span::new(Duration::seconds(1), Duration::days(7));
/// `--ready-after` when not given.
pub const DEFAULT_READY_AFTER: Duration = Duration::minutes(10);
/// `--poll`: the first wait before asking how an audit search goes.
pub const POLL: Span = Span::new(Duration::seconds(1), Duration::minutes(10));
/// `backfill --window`: one query per window of this length.
pub const WINDOW: Span = Span::new(Duration::minutes(10), Duration::days(7));
/// `serve --max-in-flight` (and `collect --all-tenants`) when not given: blobs in flight across
/// all tenants.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 64;

/// A value parser for a `DURATION|TIME` flag.
pub fn when(v: &str) -> Result<When, String> {
    When::parse(v)
}

/// The value parser of `--interval`.
pub fn interval(v: &str) -> Result<std::time::Duration, String> {
    INTERVAL.read_std(v)
}

/// The value parser of `--overlap`.
pub fn overlap(v: &str) -> Result<Duration, String> {
    OVERLAP.read(v)
}

/// The value parser of `--ready-after`.
pub fn ready_after(v: &str) -> Result<Duration, String> {
    READY_AFTER.read(v)
}

/// The value parser of `--poll`.
pub fn poll(v: &str) -> Result<std::time::Duration, String> {
    POLL.read_std(v)
}

/// The value parser of `backfill --window`.
pub fn window(v: &str) -> Result<Duration, String> {
    WINDOW.read(v)
}

/// A duration as the help and the parsers write it, in the largest unit that leaves at least
/// two of it: `60s`, `10m`, `24h`, `7d`.
pub fn written(d: Duration) -> String {
    let s = d.num_seconds();
    let unit = [(86_400, "d"), (3600, "h"), (60, "m")]
        .into_iter()
        .find(|(n, _)| s >= 2 * n && s % n == 0);
    match unit {
        Some((n, u)) => format!("{}{u}", s / n),
        None => format!("{s}s"),
    }
}

/// The defaults of the flags that take a value, as the help states them: read from the
/// constants that are applied, so the help cannot say another value.
pub fn value_defaults() -> Vec<(&'static str, String)> {
    use o365_collect::backfill as b;
    let std = |d: std::time::Duration| {
        chrono::Duration::from_std(d).map_or_else(|_| format!("{d:?}"), written)
    };
    vec![
        ("since", written(o365_collect::DEFAULT_SINCE)),
        ("interval", std(DEFAULT_INTERVAL)),
        ("overlap", written(o365_collect::DEFAULT_OVERLAP)),
        ("concurrency", o365_collect::DEFAULT_CONCURRENCY.to_string()),
        ("max_in_flight", DEFAULT_MAX_IN_FLIGHT.to_string()),
        ("ready_after", written(DEFAULT_READY_AFTER)),
        ("window", written(b::DEFAULT_WINDOW)),
        ("queries", b::DEFAULT_QUERIES.to_string()),
        ("poll", std(b::DEFAULT_POLL)),
        (
            "max_window_records",
            b::DEFAULT_MAX_WINDOW_RECORDS.to_string(),
        ),
    ]
}

/// A command whose optional value flags state their defaults ([`value_defaults`]).
pub fn with_value_defaults(mut cmd: clap::Command) -> clap::Command {
    for (id, default) in value_defaults() {
        let present = cmd
            .get_arguments()
            .any(|a| a.get_id() == id && !a.is_required_set());
        if present {
            cmd = cmd.mut_arg(id, |a| {
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                a.help(format!("{help} [default: {default}]"))
            });
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_time_or_a_duration_back() {
        let now = Utc::now();
        assert_eq!(When::parse("24h"), Ok(When::Back(Duration::hours(24))));
        assert_eq!(
            When::parse("90d").map(|w| w.at(now)),
            Ok(now - Duration::days(90))
        );
        assert!(matches!(
            When::parse("2026-11-27T10:00:00Z"),
            Ok(When::At(_))
        ));
        assert!(When::parse("2999-01-01T00:00:00Z")
            .unwrap_err()
            .contains("future"));
        assert!(When::parse("30s").unwrap_err().contains("allowed"));
        assert!(When::parse("99999999999999d").is_err());
    }

    #[test]
    fn every_range_refuses_what_is_outside_it() {
        assert!(interval("0s").is_err() && interval("2d").is_err());
        assert_eq!(interval("1s"), Ok(std::time::Duration::from_secs(1)));
        assert_eq!(overlap("0s"), Ok(Duration::zero()));
        assert!(overlap("8d").is_err() && window("5m").is_err() && poll("11m").is_err());
        assert!(ready_after("x").unwrap_err().contains("unit"));
    }

    proptest! {
        #[test]
        fn a_written_duration_reads_back_as_itself(s in 0i64..(3650 * 86_400)) {
            let d = Duration::seconds(s);
            let all = Span::new(Duration::zero(), input::MAX_DURATION);
            prop_assert_eq!(all.read(&written(d)), Ok(d));
        }
    }
}
