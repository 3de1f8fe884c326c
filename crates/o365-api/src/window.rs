//! Time windows for `/subscriptions/content`: at most 24 hours each, never older than 7 days.

use chrono::{DateTime, Duration, Utc};

/// Longest window the service accepts.
pub const MAX_WINDOW: Duration = Duration::hours(24);

/// How far back the service lets a window start, with a safety margin (7 days less 5 minutes).
pub fn retention() -> Duration {
    Duration::hours(7 * 24) - Duration::minutes(5)
}

/// A half-open window `[start, end)` on `contentCreated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

/// The result of planning a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowPlan {
    /// Windows to list, in order, each ≤ 24 h, covering the reachable part exactly.
    pub windows: Vec<Window>,
    /// The part of the range older than the retention limit, which cannot be listed any more.
    pub out_of_reach: Option<Window>,
}

/// Split `[start, end)` into ≤ 24 h windows, clamped to what `now` still allows.
///
/// Nothing is dropped silently: the part before `now - retention()` is returned as `out_of_reach`.
pub fn plan(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> WindowPlan {
    let floor = now - retention();
    let mut out_of_reach = None;
    let mut s = start;
    if start < floor {
        out_of_reach = Some(Window {
            start,
            end: end.min(floor),
        });
        s = floor;
    }
    let mut windows = Vec::new();
    while s < end {
        let e = (s + MAX_WINDOW).min(end);
        windows.push(Window { start: s, end: e });
        s = e;
    }
    WindowPlan {
        windows,
        out_of_reach,
    }
}

/// `YYYY-MM-DDTHH:MM:SS` as the service expects (fractions kept when present).
pub fn format_time(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_millis() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
    }
}
