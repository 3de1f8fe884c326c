//! When to try a request again, as a pure function of what happened and the time left.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// When and how often to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// First backoff.
    pub base_delay: Duration,
    /// Largest backoff between two attempts (a longer `Retry-After` still wins, within the budget).
    pub max_delay: Duration,
    /// The budget: no attempt starts, and no wait ends, later than this after the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// For long-running work (the collector): six attempts within five minutes.
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// For a person or playbook waiting on an answer: a few quick attempts within 30 seconds.
    pub fn interactive() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(30),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Stop now and report the error.
    GiveUp(GiveUp),
}

/// Why no further attempt is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Repeating the request cannot help.
    NotRetryable,
    /// Every attempt has been used.
    Attempts,
    /// The wait needed (the server's `Retry-After` or our backoff) does not fit in the time left.
    Budget {
        /// The wait that was needed.
        wanted: Duration,
        /// What was left of the budget.
        left: Duration,
    },
}

/// The decision after attempt number `attempt` (1-based) failed.
///
/// `jitter` in `[0, 1)` spreads the backoff between half and all of its exponential value;
/// `elapsed` is the time since the first attempt, read from the caller's clock. The wait is the
/// larger of the backoff and the server's `Retry-After`, and never longer than the budget left.
pub fn decide(
    policy: &RetryPolicy,
    attempt: u32,
    retryable: bool,
    retry_after: Option<Duration>,
    elapsed: Duration,
    jitter: f64,
) -> Decision {
    if !retryable {
        return Decision::GiveUp(GiveUp::NotRetryable);
    }
    if attempt >= policy.max_attempts {
        return Decision::GiveUp(GiveUp::Attempts);
    }
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(policy.max_delay);
    let backoff = exp.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0);
    let wanted = retry_after.map_or(backoff, |ra| ra.max(backoff));
    let left = policy.max_elapsed.saturating_sub(elapsed);
    if wanted > left {
        return Decision::GiveUp(GiveUp::Budget { wanted, left });
    }
    Decision::Retry(wanted)
}

/// A `Retry-After` value: delay-seconds or an HTTP date (measured against `now`). A date in the
/// past means no wait; anything else unreadable is ignored.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let t = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((t - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(30),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        let d = |a| decide(&p, a, true, None, Duration::ZERO, 1.0);
        assert_eq!(d(1), Decision::Retry(Duration::from_millis(100)));
        assert_eq!(d(2), Decision::Retry(Duration::from_millis(200)));
        assert_eq!(d(4), Decision::Retry(Duration::from_millis(800)));
        assert_eq!(d(5), Decision::GiveUp(GiveUp::Attempts));
        let p = RetryPolicy {
            max_attempts: 40,
            ..policy()
        };
        assert_eq!(
            decide(&p, 30, true, None, Duration::ZERO, 1.0),
            Decision::Retry(Duration::from_secs(2))
        );
    }

    #[test]
    fn retry_after_wins_within_the_budget_and_ends_it_beyond() {
        let p = policy();
        let ra = |s| Some(Duration::from_secs(s));
        assert_eq!(
            decide(&p, 1, true, ra(7), Duration::from_secs(3), 0.0),
            Decision::Retry(Duration::from_secs(7))
        );
        // A day asked for with 30 s of budget: give up at once, never sleep it out.
        assert_eq!(
            decide(&p, 1, true, ra(86_400), Duration::ZERO, 0.0),
            Decision::GiveUp(GiveUp::Budget {
                wanted: Duration::from_secs(86_400),
                left: Duration::from_secs(30)
            })
        );
        // The same wait fits early in the budget but not late.
        assert!(matches!(
            decide(&p, 1, true, ra(20), Duration::from_secs(5), 0.0),
            Decision::Retry(_)
        ));
        assert!(matches!(
            decide(&p, 1, true, ra(20), Duration::from_secs(15), 0.0),
            Decision::GiveUp(GiveUp::Budget { .. })
        ));
        assert_eq!(
            decide(&p, 1, false, None, Duration::ZERO, 0.0),
            Decision::GiveUp(GiveUp::NotRetryable)
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("86400", now),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            parse_retry_after("Sun, 29 Nov 2026 10:00:00 GMT", now),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 10:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    proptest! {
        /// Whatever the inputs, a retry never waits past the end of the budget.
        #[test]
        fn no_wait_outlives_the_budget(
            attempt in 1u32..50,
            ra in proptest::option::of(0u64..200_000),
            elapsed_ms in 0u64..400_000,
            jitter in 0.0f64..1.0,
        ) {
            let p = RetryPolicy::default();
            let elapsed = Duration::from_millis(elapsed_ms);
            let ra = ra.map(Duration::from_secs);
            if let Decision::Retry(w) = decide(&p, attempt, true, ra, elapsed, jitter) {
                prop_assert!(elapsed + w <= p.max_elapsed);
                prop_assert!(attempt < p.max_attempts);
                if let Some(ra) = ra { prop_assert!(w >= ra); }
            }
        }
    }
}
