//! Webhook notifications: the receiver (the validation handshake, `Webhook-AuthID`, content
//! items that wake the next pass) and the registration that keeps every subscription pointing at
//! it. A notification only wakes a pass: the pass lists from the cursor and fetches through the
//! effectively-once path, so a lost, repeated or forged notification can neither lose nor
//! duplicate an event.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use o365_api::{Client, ContentType, Webhook};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::metrics::Metrics;

/// Where the service sends notifications, and what it must say.
#[derive(Clone)]
pub struct WebhookSpec {
    /// The address registered with the service (HTTPS, or `http://` on loopback).
    pub url: String,
    /// Sent back by the service as `Webhook-AuthID`; requests without it are refused.
    pub auth_id: Option<String>,
}

impl std::fmt::Debug for WebhookSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The auth id is a shared secret.
        f.debug_struct("WebhookSpec")
            .field("url", &self.url)
            .field("auth_id", &self.auth_id.as_ref().map(|_| "[hidden]"))
            .finish()
    }
}

/// A tenant's wake-up and counters, by tenant GUID (lower case).
type Routes = std::sync::Mutex<HashMap<String, (Arc<Notify>, Arc<Metrics>)>>;

/// A receiver and what every tenant registers with the service.
#[derive(Clone, Debug)]
pub struct Webhooks {
    /// The address and auth id registered.
    pub spec: WebhookSpec,
    /// Where notifications arrive.
    pub receiver: Arc<Receiver>,
}

struct Shared {
    auth_id: Option<String>,
    /// Rejections, and items of no routed tenant.
    metrics: Arc<Metrics>,
    /// Woken by items of no routed tenant (a single collector routes none).
    wake: Arc<Notify>,
    tenants: Routes,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Receiver {
    /// Listen on `listen` (port 0 picks one); count into `metrics`.
    pub async fn bind(
        listen: SocketAddr,
        auth_id: Option<String>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Receiver> {
        let l = tokio::net::TcpListener::bind(listen).await?;
        let addr = l.local_addr()?;
        let shared = Arc::new(Shared {
            auth_id,
            metrics,
            wake: Arc::new(Notify::new()),
            tenants: Default::default(),
        });
        let app = axum::Router::new()
            .fallback(axum::routing::post(receive))
            .layer(axum::extract::DefaultBodyLimit::max(4 * 1024 * 1024))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            o365_http::serve(l, app, std::future::pending(), Default::default()).await;
        });
        tracing::info!(%addr, "webhook receiver listening");
        Ok(Receiver { addr, shared, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Wait for the next notification of no routed tenant (at once if one came since the last
    /// wait): a single collector's wake-up.
    pub async fn notified(&self) {
        self.shared.wake.notified().await;
    }

    /// Route the notifications of tenant `tenant_guid` to the returned wake-up, counting them in
    /// `metrics` (a fleet's tenant).
    pub fn route(&self, tenant_guid: &str, metrics: Arc<Metrics>) -> Arc<Notify> {
        let wake = Arc::new(Notify::new());
        if let Ok(mut t) = self.shared.tenants.lock() {
            t.insert(tenant_guid.to_ascii_lowercase(), (wake.clone(), metrics));
        }
        wake
    }

    /// Requests refused, and items of no routed tenant.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A notification starts a pass no sooner than this after the last pass began: a storm of
/// notifications (the service sends one per blob) makes a pass every few seconds, not one each.
pub const NOTIFIED_GAP: Duration = Duration::from_secs(5);
/// How long a pass a notification asks for waits for the rest of its burst.
pub const NOTIFIED_SETTLE: Duration = Duration::from_secs(1);

/// When the pass a notification (seen at `now`) asks for starts, the last pass having begun
/// at `last_start`: after the burst settles, and not sooner than [`NOTIFIED_GAP`] after it.
pub fn notified_pass_at(last_start: Instant, now: Instant) -> Instant {
    (now + NOTIFIED_SETTLE).max(last_start + NOTIFIED_GAP)
}

/// Wait for the next pass of a run that keeps going, the last one having begun at `started`:
/// the pause `interval`, or a notification (`notified`) and the rest of its burst, whichever
/// comes first. `false` when `stop` came first. `collect --follow` and every tenant of `serve`
/// wait this one way.
pub async fn until_next_pass(
    started: Instant,
    interval: std::time::Duration,
    notified: impl std::future::Future<Output = ()>,
    stop: &crate::Stop,
) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(interval) => true,
        _ = notified => {
            let at = notified_pass_at(started, Instant::now());
            tokio::select! {
                _ = tokio::time::sleep_until(at) => true,
                _ = stop.wait() => false,
            }
        }
        _ = stop.wait() => false,
    }
}

async fn receive(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let reject = |why: &str| {
        s.metrics
            .notifications_rejected
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(why, "webhook request refused");
    };
    if let Some(want) = &s.auth_id {
        let got = headers
            .get("webhook-authid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !o365_http::same_secret(got.as_bytes(), want.as_bytes()) {
            reject("wrong or missing Webhook-AuthID");
            return StatusCode::UNAUTHORIZED;
        }
    }
    if headers.contains_key("webhook-validationcode") {
        tracing::info!("webhook validated by the service");
        return StatusCode::OK;
    }
    let items: Vec<serde_json::Value> = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            reject("not a JSON array of content notifications");
            return StatusCode::BAD_REQUEST;
        }
    };
    // Items by tenant: each routed tenant is woken and counts its own; the rest wake the
    // single collector.
    let mut by_tenant: HashMap<String, u64> = HashMap::new();
    for i in &items {
        if i["contentType"]
            .as_str()
            .is_some_and(|c| c.parse::<ContentType>().is_ok())
        {
            let t = i["tenantId"].as_str().unwrap_or("").to_ascii_lowercase();
            *by_tenant.entry(t).or_default() += 1;
        }
    }
    tracing::debug!(items = items.len(), "webhook notification");
    let routes = s.tenants.lock().map(|t| t.clone()).unwrap_or_default();
    for (tenant, n) in by_tenant {
        match routes.get(&tenant) {
            Some((wake, m)) => {
                m.notifications_received.fetch_add(n, Ordering::Relaxed);
                wake.notify_one();
            }
            None => {
                s.metrics
                    .notifications_received
                    .fetch_add(n, Ordering::Relaxed);
                s.wake.notify_one();
            }
        }
    }
    StatusCode::OK
}

/// Make every enabled subscription of `types` carry `spec`'s webhook: register it where it is
/// missing or another, and again where the service disabled or expired it (subscriptions not
/// enabled are left to the pre-flight). Returns how many registrations were sent.
pub async fn register(
    client: &Client,
    types: &[ContentType],
    spec: &WebhookSpec,
    metrics: &Metrics,
) -> Result<usize, o365_api::Error> {
    let subs = client.list_subscriptions().await?;
    let hook = Webhook {
        address: spec.url.clone(),
        auth_id: spec.auth_id.clone(),
        expiration: None,
        status: None,
    };
    let mut sent = 0;
    for &ct in types {
        let current = subs
            .iter()
            .find(|s| s.content_type.parse::<ContentType>().ok() == Some(ct));
        let state = current.and_then(|s| s.webhook.as_ref()).map(|w| {
            (
                w.address == spec.url,
                w.status.as_deref().unwrap_or("enabled").to_string(),
            )
        });
        if current.map(|s| s.is_enabled()) != Some(true) {
            // Starting a subscription is the pre-flight's decision (and the ledger's record).
            tracing::debug!(
                content_type = ct.as_str(),
                "not enabled: no webhook registered"
            );
            continue;
        }
        match (current.map(|s| s.is_enabled()), state) {
            (Some(true), Some((true, status))) if status.eq_ignore_ascii_case("enabled") => {
                continue
            }
            (Some(true), Some((true, status))) => {
                tracing::warn!(content_type = ct.as_str(), %status, "the service no longer notifies this webhook: registering it again")
            }
            _ => {
                tracing::info!(content_type = ct.as_str(), url = %spec.url, "registering the webhook")
            }
        }
        client.start_subscription(ct, Some(&hook)).await?;
        metrics
            .webhook_registrations
            .fetch_add(1, Ordering::Relaxed);
        sent += 1;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notified_pass_waits_for_its_burst_and_keeps_its_distance() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // Long after the last pass: only the settle.
        assert_eq!(notified_pass_at(t0, t0 + s(60)), t0 + s(61));
        // Right after it: the gap.
        assert_eq!(notified_pass_at(t0, t0 + s(1)), t0 + NOTIFIED_GAP);
        // Never before the notification, never sooner than the gap after the last start.
        for ms in (0..20_000).step_by(37) {
            let now = t0 + Duration::from_millis(ms);
            let at = notified_pass_at(t0, now);
            assert!(at >= now + NOTIFIED_SETTLE && at >= t0 + NOTIFIED_GAP);
            assert!(at <= (now + NOTIFIED_SETTLE).max(t0 + NOTIFIED_GAP));
        }
    }
}
