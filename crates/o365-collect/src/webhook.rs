//! Webhook notifications: the receiver (the validation handshake, `Webhook-AuthID`, content
//! items that wake the next pass) and the registration that keeps every subscription pointing at
//! it. A notification only wakes a pass: the pass lists from the cursor and fetches through the
//! effectively-once path, so a lost, repeated or forged notification can neither lose nor
//! duplicate an event.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use o365_api::{Client, ContentType, Webhook};
use tokio::sync::Notify;

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

struct Shared {
    auth_id: Option<String>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
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
        let wake = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            auth_id,
            metrics,
            wake: wake.clone(),
        });
        let app = axum::Router::new()
            .fallback(axum::routing::post(receive))
            .layer(axum::extract::DefaultBodyLimit::max(4 * 1024 * 1024))
            .with_state(shared);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                tracing::error!(error = %e, "webhook receiver stopped");
            }
        });
        tracing::info!(%addr, "webhook receiver listening");
        Ok(Receiver { addr, wake, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Wait for the next notification (at once if one came since the last wait).
    pub async fn notified(&self) {
        self.wake.notified().await;
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
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
        if got != want {
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
    let known = items
        .iter()
        .filter(|i| {
            i["contentType"]
                .as_str()
                .is_some_and(|c| c.parse::<ContentType>().is_ok())
        })
        .count();
    s.metrics
        .notifications_received
        .fetch_add(known as u64, Ordering::Relaxed);
    tracing::debug!(items = items.len(), "webhook notification");
    if known > 0 {
        s.wake.notify_one();
    }
    StatusCode::OK
}

/// Make every type's subscription carry `spec`'s webhook: register it where it is missing or
/// another, and again where the service disabled or expired it. Returns how many were sent.
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
