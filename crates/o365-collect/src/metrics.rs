//! Counters of a collector, and their Prometheus text: unlabelled for one tenant, labelled by
//! tenant for a fleet.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use o365_api::{Client, ClientStats, ContentType};

/// Counters shared by every task of a collector.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Events written.
    pub events_written: AtomicU64,
    /// Events dropped as duplicates.
    pub duplicates: AtomicU64,
    /// Blobs made durable.
    pub blobs_done: AtomicU64,
    /// Blobs that could not be fetched any more.
    pub blobs_lost: AtomicU64,
    /// Blob fetches that failed (retried on the next run).
    pub blobs_failed: AtomicU64,
    /// Blob bytes fetched.
    pub bytes: AtomicU64,
    /// Webhook notifications accepted (content items).
    pub notifications_received: AtomicU64,
    /// Webhook requests refused (wrong `Webhook-AuthID`, not JSON, another tenant).
    pub notifications_rejected: AtomicU64,
    /// Webhook registrations sent (the first, and again after the service disabled or expired it).
    pub webhook_registrations: AtomicU64,
    /// Service time minus `contentCreated` of the last blob committed, in milliseconds.
    commit_lag_ms: AtomicI64,
    /// Service clock minus this machine's, in milliseconds (for the commit lag).
    skew_ms: AtomicI64,
    /// Cursor per content type, in Unix seconds.
    cursors: std::sync::Mutex<BTreeMap<&'static str, i64>>,
}

/// One tenant's numbers, as rendered.
pub struct Sample<'a> {
    /// The `tenant` label (none for a single collector).
    pub tenant: Option<&'a str>,
    /// Its collector's counters.
    pub metrics: &'a Metrics,
    /// Its client, if one was built.
    pub client: Option<&'a Client>,
}

type Get = fn(&Metrics, &ClientStats) -> f64;

/// Every plain series: name, help, type, value.
const SERIES: [(&str, &str, &str, Get); 16] = [
    (
        "o365_collect_events_total",
        "Events written to the sink.",
        "counter",
        |m, _| load(&m.events_written),
    ),
    (
        "o365_collect_duplicates_total",
        "Events dropped as duplicates.",
        "counter",
        |m, _| load(&m.duplicates),
    ),
    (
        "o365_collect_blobs_total",
        "Blobs made durable.",
        "counter",
        |m, _| load(&m.blobs_done),
    ),
    (
        "o365_collect_blobs_lost_total",
        "Blobs that could no longer be fetched.",
        "counter",
        |m, _| load(&m.blobs_lost),
    ),
    (
        "o365_collect_blob_failures_total",
        "Blob fetches that failed (retried later).",
        "counter",
        |m, _| load(&m.blobs_failed),
    ),
    (
        "o365_collect_bytes_total",
        "Blob bytes fetched.",
        "counter",
        |m, _| load(&m.bytes),
    ),
    (
        "o365_collect_notifications_total",
        "Webhook notifications accepted (content items).",
        "counter",
        |m, _| load(&m.notifications_received),
    ),
    (
        "o365_collect_notifications_rejected_total",
        "Webhook requests refused: wrong Webhook-AuthID, not a notification, another tenant.",
        "counter",
        |m, _| load(&m.notifications_rejected),
    ),
    (
        "o365_collect_webhook_registrations_total",
        "Webhook registrations sent: the first, and again after the service disabled or expired it.",
        "counter",
        |m, _| load(&m.webhook_registrations),
    ),
    (
        "o365_collect_commit_lag_seconds",
        "Service time minus contentCreated of the last blob committed.",
        "gauge",
        |m, _| m.commit_lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
    ),
    (
        "o365_collect_retries_total",
        "Requests repeated after a retryable failure.",
        "counter",
        |_, s| s.retries as f64,
    ),
    (
        "o365_collect_throttled_total",
        "Throttled answers (AF429, HTTP 429).",
        "counter",
        |_, s| s.throttled as f64,
    ),
    (
        "o365_collect_token_requests_total",
        "Token requests.",
        "counter",
        |_, s| s.token_requests as f64,
    ),
    (
        "o365_collect_retry_wait_seconds_total",
        "Time spent waiting before retries (backoff and Retry-After).",
        "counter",
        |_, s| s.retry_wait_ms as f64 / 1000.0,
    ),
    (
        "o365_collect_gave_up_on_budget_total",
        "Requests given up because the wait the service asked for did not fit in the retry budget.",
        "counter",
        |_, s| s.gave_up_on_budget as f64,
    ),
    (
        "o365_collect_api_requests_total",
        "Requests sent to the Activity API (retries included).",
        "counter",
        |_, s| s.requests as f64,
    ),
];

fn load(a: &AtomicU64) -> f64 {
    a.load(Ordering::Relaxed) as f64
}

/// `{tenant="x",k="v"}`, `{k="v"}` or nothing. Label values are escaped.
fn labels(tenant: Option<&str>, extra: &[(&str, &str)]) -> String {
    let esc = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut parts: Vec<String> = tenant
        .map(|t| format!("tenant=\"{}\"", esc(t)))
        .into_iter()
        .collect();
    parts.extend(extra.iter().map(|(k, v)| format!("{k}=\"{}\"", esc(v))));
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

impl Metrics {
    /// Note a content type's cursor.
    pub fn set_cursor(&self, ct: ContentType, t: DateTime<Utc>) {
        if let Ok(mut m) = self.cursors.lock() {
            m.insert(ct.as_str(), t.timestamp());
        }
    }

    /// Note the service's clock (from which commit lags are measured).
    pub fn set_service_now(&self, service_now: DateTime<Utc>) {
        self.skew_ms.store(
            (service_now - Utc::now()).num_milliseconds(),
            Ordering::Relaxed,
        );
    }

    /// Note a blob committed now that the service created at `created`.
    pub fn note_commit(&self, created: DateTime<Utc>) {
        let now = Utc::now().timestamp_millis() + self.skew_ms.load(Ordering::Relaxed);
        self.commit_lag_ms
            .store(now - created.timestamp_millis(), Ordering::Relaxed);
    }

    fn cursors(&self) -> BTreeMap<&'static str, i64> {
        self.cursors.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The Prometheus text of one collector (no tenant label).
    pub fn render(&self, client: &Client) -> String {
        render(&[Sample {
            tenant: None,
            metrics: self,
            client: Some(client),
        }])
    }
}

/// The Prometheus text of several collectors.
pub fn render(samples: &[Sample<'_>]) -> String {
    let mut s = String::new();
    let stats: Vec<ClientStats> = samples
        .iter()
        .map(|x| x.client.map(|c| c.stats()).unwrap_or_default())
        .collect();
    for (name, help, kind, get) in SERIES {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (x, st) in samples.iter().zip(&stats) {
            let _ = writeln!(s, "{name}{} {}", labels(x.tenant, &[]), get(x.metrics, st));
        }
    }
    let _ = writeln!(s, "# HELP o365_collect_requests_total Activity API answers by HTTP status (0: no answer).\n# TYPE o365_collect_requests_total counter");
    for (x, st) in samples.iter().zip(&stats) {
        let _ = writeln!(
            s,
            "o365_collect_requests_total{} {}",
            labels(x.tenant, &[("status", "0")]),
            st.transport_errors
        );
        for (status, n) in &st.by_status {
            let _ = writeln!(
                s,
                "o365_collect_requests_total{} {n}",
                labels(x.tenant, &[("status", &status.to_string())])
            );
        }
    }
    let _ = writeln!(s, "# HELP o365_collect_lag_seconds Service time minus the cursor, per content type.\n# TYPE o365_collect_lag_seconds gauge");
    let mut oldest = Vec::new();
    for x in samples {
        let now = x
            .client
            .map(|c| c.server_now())
            .unwrap_or_else(Utc::now)
            .timestamp();
        let cursors = x.metrics.cursors();
        for (ct, t) in &cursors {
            let _ = writeln!(
                s,
                "o365_collect_lag_seconds{} {}",
                labels(x.tenant, &[("content_type", ct)]),
                now - t
            );
        }
        oldest.push((
            x.tenant,
            cursors.values().min().map(|t| now - t).unwrap_or(0),
        ));
    }
    let _ = writeln!(s, "# HELP o365_collect_oldest_pending_window_seconds Age of the oldest window not yet done.\n# TYPE o365_collect_oldest_pending_window_seconds gauge");
    for (tenant, v) in oldest {
        let _ = writeln!(
            s,
            "o365_collect_oldest_pending_window_seconds{} {v}",
            labels(tenant, &[])
        );
    }
    s
}

/// Serve `/metrics` until the process ends. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    client: Client,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (m, c) = (metrics.clone(), client.clone());
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    m.render(&c),
                )
            }
        }),
    );
    tokio::spawn(async move {
        o365_http::serve(listener, app, std::future::pending(), Default::default()).await;
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_collector_unlabelled_a_fleet_labelled_and_escaped() {
        let a = Metrics::default();
        a.events_written.store(7, Ordering::Relaxed);
        let one = render(&[Sample {
            tenant: None,
            metrics: &a,
            client: None,
        }]);
        assert!(one.contains("\no365_collect_events_total 7\n"), "{one}");
        let b = Metrics::default();
        let many = render(&[
            Sample {
                tenant: Some("contoso"),
                metrics: &a,
                client: None,
            },
            Sample {
                tenant: Some("we\"ird"),
                metrics: &b,
                client: None,
            },
        ]);
        assert!(
            many.contains("o365_collect_events_total{tenant=\"contoso\"} 7"),
            "{many}"
        );
        assert!(
            many.contains("o365_collect_events_total{tenant=\"we\\\"ird\"} 0"),
            "{many}"
        );
        assert_eq!(many.matches("# TYPE o365_collect_events_total").count(), 1);
    }
}
