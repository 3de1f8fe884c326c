//! The status of every tenant's feeds over the service's 7-day retention: per content type the
//! subscription state, data gaps, the collected range, lag, hourly volumes and the last error.
//! Read-only: the ledger and the sink's checkpoint are opened for reading.

use chrono::{DateTime, Duration, Utc};
use o365_actions::config::Settings;
use o365_api::ContentType;
use o365_collect::status::HourCount;
use serde::Serialize;

use super::verdict::{self, Verdict};
use crate::setup::read_store;

/// Everything the page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// When this was made (the service's clock as last seen).
    pub now: DateTime<Utc>,
    /// When this was made by this machine's clock.
    pub updated_at: DateTime<Utc>,
    /// The worst of the tenants' verdicts.
    pub verdict: Verdict,
    /// Start of the time axis: 7 days before `now`.
    pub from: DateTime<Utc>,
    /// The tenants.
    pub tenants: Vec<TenantView>,
    /// This instance's share of a fleet (`serve` with a Kafka sink): the tenants above are the
    /// ones the group gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<serde_json::Value>,
}

/// One tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    /// Its configured name.
    pub name: String,
    /// Its tenant id.
    pub tenant_id: String,
    /// The sink whose progress is shown (`--sink`, else the one it was last collected into).
    pub sink: String,
    /// The service's view of it (`serve`: ok, failing, ...); `None` outside `serve`.
    pub state: Option<String>,
    /// Its last error, if its last pass failed.
    pub last_error: Option<String>,
    /// Since when it has been failing.
    pub last_error_at: Option<DateTime<Utc>>,
    /// When its last pass ended (`serve`).
    pub last_pass: Option<DateTime<Utc>>,
    /// When its next pass begins at the latest (`serve`; a notification may start it sooner).
    pub next_pass: Option<DateTime<Utc>>,
    /// How it is, in one word.
    pub verdict: Verdict,
    /// The worst lag of the content types it collects.
    pub worst_lag_seconds: Option<i64>,
    /// One lane per content type.
    pub types: Vec<Lane>,
}

/// A span of time; `to` is `None` while it goes on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// Start.
    pub from: DateTime<Utc>,
    /// End (exclusive), `None` for "until now".
    pub to: Option<DateTime<Utc>>,
    /// Why (gaps: `action`, `observed`, `retention`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A gap filled from Graph's audit search: the events it recovered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repaired: Option<u64>,
}

/// One content type of one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Lane {
    /// The content type.
    pub content_type: &'static str,
    /// `enabled`, `disabled`, or `unknown` (never seen), from the ledger.
    pub subscription: String,
    /// Whether the tenant collects it (its `content_types`).
    pub collects: bool,
    /// How it is, in one word; `None` when the tenant does not collect it.
    pub verdict: Option<Verdict>,
    /// Spans with no content (the subscription was off, or older than the retention).
    pub gaps: Vec<Span>,
    /// What collection has done: from the first blob done to the cursor.
    pub collected: Option<Span>,
    /// Everything created before this is collected.
    pub cursor: Option<DateTime<Utc>>,
    /// How far the cursor is behind the service's clock.
    pub lag_seconds: Option<i64>,
    /// Events written so far (of the blobs kept).
    pub events_written: u64,
    /// Blobs done (kept).
    pub blobs_done: u64,
    /// Blobs and events per hour, oldest first.
    pub hourly: Vec<HourCount>,
    /// The last error of this content type in the service's last pass.
    pub last_error: Option<String>,
    /// When that pass ended.
    pub last_error_at: Option<DateTime<Utc>>,
}

/// What the service knows of a tenant right now (from `serve`).
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// Its state.
    pub state: Option<String>,
    /// Its last error.
    pub last_error: Option<String>,
    /// Since when it has been failing.
    pub failing_since: Option<DateTime<Utc>>,
    /// When its last pass ended.
    pub last_pass: Option<DateTime<Utc>>,
    /// When its next pass begins at the latest.
    pub next_pass: Option<DateTime<Utc>>,
    /// Last error per content type (in the last pass).
    pub type_errors: Vec<(String, String)>,
}

/// Build the status of `tenants` (with what the service knows of each), reading `sink`'s
/// progress (default: the default SQLite sink).
pub fn build(tenants: &[(Settings, Live)], sink: Option<&str>) -> anyhow::Result<Status> {
    let mut views = vec![];
    let mut service_now: Option<DateTime<Utc>> = None;
    for (s, live) in tenants {
        let store = read_store(s)?;
        let spec = crate::pass::reading_sink(s, sink, store.as_ref())?;
        let tenant = crate::progress::reading_key(s, &spec, store.as_ref())?;
        let progress = spec.status(&tenant)?.unwrap_or_default();
        let history = o365_api::cloud::history_key(&tenant, &s.api_root.value);
        let gaps = match &store {
            Some(st) => st.gaps(Some(&history))?,
            None => vec![],
        };
        let mut lanes = vec![];
        for ct in ContentType::ALL {
            let p = progress.iter().find(|t| t.content_type == ct.as_str());
            if let Some((c, lag)) = p.and_then(|p| Some((p.cursor?, p.lag_seconds?))) {
                let now = c + Duration::seconds(lag);
                service_now = Some(service_now.map_or(now, |n| n.max(now)));
            }
            let subscription = match &store {
                Some(st) => st
                    .last_state(&history, ct)?
                    .map(|t| t.to_state.as_str().to_string())
                    .unwrap_or_else(|| "unknown".into()),
                None => "unknown".into(),
            };
            let mut spans: Vec<Span> = gaps
                .iter()
                .filter(|g| g.content_type == ct.as_str())
                .map(|g| Span {
                    from: g.stopped_at,
                    to: g.started_at,
                    source: Some(g.source.as_str().to_string()),
                    repaired: g
                        .repair
                        .as_ref()
                        .filter(|r| r.repaired)
                        .map(|r| r.events_written),
                })
                .collect();
            for (a, b, _) in p.map(|p| p.retention_gaps.clone()).unwrap_or_default() {
                if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                    spans.push(Span {
                        from: a,
                        to: Some(b),
                        source: Some("retention".into()),
                        repaired: None,
                    });
                }
            }
            spans.sort_by_key(|g| g.from);
            lanes.push(Lane {
                content_type: ct.as_str(),
                subscription,
                collects: s.content_types.value.contains(&ct),
                verdict: None,
                gaps: spans,
                collected: p.and_then(|p| {
                    Some(Span {
                        from: p.first_done?.min(p.cursor?),
                        to: p.cursor,
                        source: None,
                        repaired: None,
                    })
                }),
                cursor: p.and_then(|p| p.cursor),
                lag_seconds: p.and_then(|p| p.lag_seconds),
                events_written: p.map_or(0, |p| p.events_written),
                blobs_done: p.map_or(0, |p| p.blobs_done),
                hourly: p.map(|p| p.hourly.clone()).unwrap_or_default(),
                last_error: live
                    .type_errors
                    .iter()
                    .find(|(t, _)| t == ct.as_str())
                    .map(|(_, e)| e.clone()),
                last_error_at: live
                    .type_errors
                    .iter()
                    .any(|(t, _)| t == ct.as_str())
                    .then_some(live.last_pass)
                    .flatten(),
            });
        }
        for l in &mut lanes {
            l.verdict = verdict::lane(l);
        }
        let mut view = TenantView {
            name: s.name.clone(),
            tenant_id: tenant,
            sink: spec.name(),
            state: live.state.clone(),
            last_error: live.last_error.clone(),
            last_error_at: live.last_error.as_ref().and(live.failing_since),
            last_pass: live.last_pass,
            next_pass: live.next_pass,
            verdict: Verdict::Ok,
            worst_lag_seconds: None,
            types: lanes,
        };
        view.verdict = verdict::tenant(&view);
        view.worst_lag_seconds = verdict::worst_lag(&view);
        views.push(view);
    }
    let updated_at = Utc::now();
    let now = service_now.unwrap_or(updated_at).max(updated_at);
    Ok(Status {
        now,
        updated_at,
        verdict: views.iter().map(|t| t.verdict).max().unwrap_or(Verdict::Ok),
        from: now - Duration::days(7),
        tenants: views,
        fleet: None,
    })
}
