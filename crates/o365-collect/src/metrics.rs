//! Counters of a collector, and a Prometheus text endpoint.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use o365_api::{Client, ContentType};

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
    /// Cursor per content type, in Unix seconds.
    cursors: std::sync::Mutex<BTreeMap<&'static str, i64>>,
}

impl Metrics {
    /// Note a content type's cursor.
    pub fn set_cursor(&self, ct: ContentType, t: DateTime<Utc>) {
        if let Ok(mut m) = self.cursors.lock() {
            m.insert(ct.as_str(), t.timestamp());
        }
    }

    fn cursors(&self) -> BTreeMap<&'static str, i64> {
        self.cursors.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The Prometheus text exposition.
    pub fn render(&self, client: &Client) -> String {
        let mut s = String::new();
        let c = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        c(
            &mut s,
            "o365_collect_events_total",
            "Events written to the sink.",
            g(&self.events_written),
        );
        c(
            &mut s,
            "o365_collect_duplicates_total",
            "Events dropped as duplicates.",
            g(&self.duplicates),
        );
        c(
            &mut s,
            "o365_collect_blobs_total",
            "Blobs made durable.",
            g(&self.blobs_done),
        );
        c(
            &mut s,
            "o365_collect_blobs_lost_total",
            "Blobs that could no longer be fetched.",
            g(&self.blobs_lost),
        );
        c(
            &mut s,
            "o365_collect_blob_failures_total",
            "Blob fetches that failed (retried later).",
            g(&self.blobs_failed),
        );
        c(
            &mut s,
            "o365_collect_bytes_total",
            "Blob bytes fetched.",
            g(&self.bytes),
        );
        let st = client.stats();
        c(
            &mut s,
            "o365_collect_retries_total",
            "Requests repeated after a retryable failure.",
            st.retries,
        );
        c(
            &mut s,
            "o365_collect_throttled_total",
            "Throttled answers (AF429, HTTP 429).",
            st.throttled,
        );
        c(
            &mut s,
            "o365_collect_token_requests_total",
            "Token requests.",
            st.token_requests,
        );
        let _ = writeln!(s, "# HELP o365_collect_retry_wait_seconds_total Time spent waiting before retries (backoff and Retry-After).\n# TYPE o365_collect_retry_wait_seconds_total counter\no365_collect_retry_wait_seconds_total {:.3}", st.retry_wait_ms as f64 / 1000.0);
        c(
            &mut s,
            "o365_collect_gave_up_on_budget_total",
            "Requests given up because the wait the service asked for did not fit in the retry budget.",
            st.gave_up_on_budget,
        );
        let _ = writeln!(s, "# HELP o365_collect_requests_total Activity API answers by HTTP status (0: no answer).\n# TYPE o365_collect_requests_total counter");
        let _ = writeln!(
            s,
            "o365_collect_requests_total{{status=\"0\"}} {}",
            st.transport_errors
        );
        for (status, n) in &st.by_status {
            let _ = writeln!(s, "o365_collect_requests_total{{status=\"{status}\"}} {n}");
        }
        let now = client.server_now().timestamp();
        let cursors = self.cursors();
        let _ = writeln!(s, "# HELP o365_collect_lag_seconds Service time minus the cursor, per content type.\n# TYPE o365_collect_lag_seconds gauge");
        for (ct, t) in &cursors {
            let _ = writeln!(
                s,
                "o365_collect_lag_seconds{{content_type=\"{ct}\"}} {}",
                now - t
            );
        }
        let oldest = cursors.values().min().map(|t| now - t).unwrap_or(0);
        let _ = writeln!(s, "# HELP o365_collect_oldest_pending_window_seconds Age of the oldest window not yet done.\n# TYPE o365_collect_oldest_pending_window_seconds gauge\no365_collect_oldest_pending_window_seconds {oldest}");
        s
    }
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
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok(bound)
}
