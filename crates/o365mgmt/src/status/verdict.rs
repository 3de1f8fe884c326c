//! How things are, in one word: per content type, per tenant and overall — `ok`, `lagging`,
//! `gap` or `failing`, the worst of what it covers. Pure: the page, the JSON and `status -o
//! text` say the same.

use serde::Serialize;

use super::model::{Lane, TenantView};

/// A verdict, from best to worst (so the worst of several is their maximum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Collected, recent, nothing missing.
    Ok,
    /// The newest collected content is more than [`LAGGING_AFTER_SECS`] behind the service.
    Lagging,
    /// Content is missing in the last 7 days (a data gap not repaired).
    Gap,
    /// The last pass failed.
    Failing,
}

/// Lag beyond which a content type is `lagging`: an hour (the service itself makes most content
/// available within minutes; a healthy pass every minute or so keeps the lag well under this).
pub const LAGGING_AFTER_SECS: i64 = 3600;

impl Verdict {
    /// Its word.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Lagging => "lagging",
            Verdict::Gap => "gap",
            Verdict::Failing => "failing",
        }
    }

    /// A sign that does not rely on colour.
    pub fn sign(self) -> &'static str {
        match self {
            Verdict::Ok => "✔",
            Verdict::Lagging => "◔",
            Verdict::Gap => "▲",
            Verdict::Failing => "✖",
        }
    }
}

/// A content type's verdict; `None` when the tenant does not collect it.
pub fn lane(l: &Lane) -> Option<Verdict> {
    if !l.collects {
        return None;
    }
    Some(if l.last_error.is_some() {
        Verdict::Failing
    } else if l.gaps.iter().any(|g| g.repaired.is_none()) {
        Verdict::Gap
    } else if l.lag_seconds.is_some_and(|s| s > LAGGING_AFTER_SECS) {
        Verdict::Lagging
    } else {
        Verdict::Ok
    })
}

/// A tenant's verdict: failing when the service says so, else the worst of its content types.
pub fn tenant(t: &TenantView) -> Verdict {
    let worst = t.types.iter().filter_map(lane).max().unwrap_or(Verdict::Ok);
    if t.state.as_deref() == Some("failing") || t.last_error.is_some() {
        Verdict::Failing
    } else {
        worst
    }
}

/// The worst lag of the content types a tenant collects.
pub fn worst_lag(t: &TenantView) -> Option<i64> {
    t.types
        .iter()
        .filter(|l| l.collects)
        .filter_map(|l| l.lag_seconds)
        .max()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use proptest::prelude::*;

    use super::*;
    use crate::status::model::Span;

    fn a_lane(collects: bool, error: bool, gap: Option<bool>, lag: Option<i64>) -> Lane {
        let now = Utc::now();
        Lane {
            content_type: "Audit.General",
            subscription: "enabled".into(),
            collects,
            verdict: None,
            gaps: gap
                .map(|repaired| Span {
                    from: now - chrono::Duration::hours(3),
                    to: Some(now - chrono::Duration::hours(2)),
                    source: Some("action".into()),
                    repaired: repaired.then_some(10),
                })
                .into_iter()
                .collect(),
            collected: None,
            cursor: None,
            lag_seconds: lag,
            events_written: 0,
            blobs_done: 0,
            hourly: vec![],
            last_error: error.then(|| "AF20023".into()),
            last_error_at: None,
        }
    }

    fn lanes() -> impl Strategy<Value = Vec<Lane>> {
        proptest::collection::vec(
            (
                any::<bool>(),
                any::<bool>(),
                proptest::option::of(any::<bool>()),
                proptest::option::of(0i64..20_000),
            )
                .prop_map(|(c, e, g, l)| a_lane(c, e, g, l)),
            0..6,
        )
    }

    fn tenant_of(types: Vec<Lane>, state: Option<&str>) -> TenantView {
        TenantView {
            name: "t".into(),
            tenant_id: "g".into(),
            sink: "null".into(),
            state: state.map(String::from),
            last_error: None,
            last_error_at: None,
            last_pass: None,
            next_pass: None,
            verdict: Verdict::Ok,
            worst_lag_seconds: None,
            types,
        }
    }

    #[test]
    fn each_rule_on_its_own() {
        assert_eq!(lane(&a_lane(false, true, Some(false), Some(9_999))), None);
        assert_eq!(
            lane(&a_lane(true, false, None, Some(60))),
            Some(Verdict::Ok)
        );
        assert_eq!(
            lane(&a_lane(true, false, None, Some(LAGGING_AFTER_SECS + 1))),
            Some(Verdict::Lagging)
        );
        // A repaired gap is no longer a gap.
        assert_eq!(
            lane(&a_lane(true, false, Some(true), None)),
            Some(Verdict::Ok)
        );
        assert_eq!(
            lane(&a_lane(true, false, Some(false), None)),
            Some(Verdict::Gap)
        );
        assert_eq!(
            lane(&a_lane(true, true, None, None)),
            Some(Verdict::Failing)
        );
        let t = tenant_of(vec![a_lane(true, false, None, Some(1))], Some("failing"));
        assert_eq!(tenant(&t), Verdict::Failing);
    }

    proptest! {
        /// A tenant is the worst of the types it collects (types it does not collect never
        /// count), and never better than the service's own word.
        #[test]
        fn a_tenant_is_the_worst_of_what_it_collects(types in lanes(), failing in any::<bool>()) {
            let expected = types
                .iter()
                .filter(|l| l.collects)
                .filter_map(lane)
                .max()
                .unwrap_or(Verdict::Ok);
            let t = tenant_of(types, failing.then_some("failing"));
            let v = tenant(&t);
            if failing {
                prop_assert_eq!(v, Verdict::Failing);
            } else {
                prop_assert_eq!(v, expected);
            }
            prop_assert!(t.types.iter().filter_map(lane).all(|l| l <= v));
            prop_assert_eq!(
                worst_lag(&t),
                t.types.iter().filter(|l| l.collects).filter_map(|l| l.lag_seconds).max()
            );
        }
    }
}
