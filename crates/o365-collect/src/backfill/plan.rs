//! A backfill's plan: the range cut into windows on a fixed grid (so two runs over
//! overlapping ranges share the windows they have in common), a window cut in halves when
//! the search's answer would be too big, and the name under which a finished window is
//! recorded in the sink's checkpoint.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use o365_api::ContentType;

/// The prefix of a finished window's record in a sink's checkpoint (never pruned).
pub const PREFIX: &str = "backfill:";

/// `[since, until)` in windows of `len` whose inner boundaries lie on multiples of `len` since
/// the epoch (a day: UTC midnights), in order.
pub fn windows(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    len: Duration,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let step = len.num_milliseconds().max(1000);
    let (mut at, end) = (since.timestamp_millis(), until.timestamp_millis());
    let mut out = vec![];
    while at < end {
        let next = ((at.div_euclid(step) + 1) * step).min(end);
        out.push((ms(at), ms(next)));
        at = next;
    }
    out
}

fn ms(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or_default()
}

/// The two halves of `[start, end)` (on whole seconds), or `None` when it is one second or
/// less (it cannot be cut further).
pub fn halves(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<[(DateTime<Utc>, DateTime<Utc>); 2]> {
    let secs = (end - start).num_seconds();
    if secs <= 1 {
        return None;
    }
    let mid = start + Duration::seconds(secs / 2);
    Some([(start, mid), (mid, end)])
}

/// The record of a window finished for a content type in a sink's checkpoint (one per type:
/// a checkpoint keys its records by tenant and id).
pub fn window_id(ct: ContentType, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let f = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    format!("{PREFIX}{ct}:{}/{}", f(start), f(end))
}

/// Whether a content id names a backfill window (kept for good, unlike the feed's blobs).
pub fn is_window_id(id: &str) -> bool {
    id.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    #[test]
    fn days_end_at_midnight_and_the_ends_are_the_range() {
        let w = windows(t(3_600), t(3 * 86_400 + 60), Duration::days(1));
        assert_eq!(
            w,
            vec![
                (t(3_600), t(86_400)),
                (t(86_400), t(2 * 86_400)),
                (t(2 * 86_400), t(3 * 86_400)),
                (t(3 * 86_400), t(3 * 86_400 + 60)),
            ]
        );
        assert!(windows(t(10), t(10), Duration::days(1)).is_empty());
        assert_eq!(
            window_id(ContentType::DlpAll, t(0), t(86_400)),
            "backfill:DLP.All:1970-01-01T00:00:00Z/1970-01-02T00:00:00Z"
        );
        assert!(is_window_id(&window_id(ContentType::General, t(0), t(1))));
        assert_eq!(halves(t(0), t(1)), None);
        assert_eq!(halves(t(0), t(3)), Some([(t(0), t(1)), (t(1), t(3))]));
    }

    proptest! {
        /// The windows tile the range: in order, touching, none longer than asked, none empty.
        #[test]
        fn windows_tile_the_range(a in 0i64..10_000_000, span in 0i64..5_000_000, len in 1i64..500_000) {
            let (since, until) = (t(a), t(a + span));
            let w = windows(since, until, Duration::seconds(len));
            if span == 0 {
                prop_assert!(w.is_empty());
            } else {
                prop_assert_eq!(w[0].0, since);
                prop_assert_eq!(w[w.len() - 1].1, until);
            }
            for x in &w {
                prop_assert!(x.0 < x.1);
                prop_assert!((x.1 - x.0) <= Duration::seconds(len.max(1)));
            }
            for p in w.windows(2) {
                prop_assert_eq!(p[0].1, p[1].0);
                prop_assert_eq!(p[0].1.timestamp() % len.max(1), 0, "inner boundaries on the grid");
            }
        }

        /// Halves tile their window.
        #[test]
        fn halves_tile_their_window(a in 0i64..10_000_000, span in 0i64..100_000) {
            match halves(t(a), t(a + span)) {
                None => prop_assert!(span <= 1),
                Some([x, y]) => {
                    prop_assert_eq!(x.0, t(a));
                    prop_assert_eq!(x.1, y.0);
                    prop_assert_eq!(y.1, t(a + span));
                    prop_assert!(x.0 < x.1 && y.0 < y.1);
                }
            }
        }
    }
}
