//! The client: what it holds, what it counts, and the clock it keeps. Its operations live in
//! `subscriptions.rs` and `content.rs`; sending, retries and sign-in in `transport.rs` and
//! `token.rs`; building in `builder.rs`.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::auth::{AccessToken, Credentials, TokenVersion};
use crate::builder::ClientBuilder;
use crate::pacer::Pacer;
use crate::retry::RetryPolicy;

/// What every clone of a client shares.
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) tenant: String,
    pub(crate) client_id: String,
    /// Configured `PublisherIdentifier`; `None` sends the tenant GUID from the token.
    pub(crate) publisher: Option<String>,
    pub(crate) creds: Credentials,
    pub(crate) api_origin: String,
    pub(crate) resource: String,
    /// Microsoft Graph's root (also its resource), where the cloud has the audit search.
    pub(crate) graph_root: Option<String>,
    /// The configured cloud's name (for messages).
    pub(crate) cloud_name: &'static str,
    pub(crate) login: String,
    pub(crate) token_version: TokenVersion,
    pub(crate) token: tokio::sync::Mutex<Option<(AccessToken, String)>>,
    pub(crate) pacer: Pacer,
    pub(crate) proxy: Option<crate::ProxyInUse>,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_bytes: usize,
    pub(crate) refresh_margin: Duration,
    pub(crate) skew_ms: AtomicI64,
    pub(crate) skew_warned: AtomicBool,
    pub(crate) counters: Counters,
}

/// Running totals behind [`ClientStats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) token_requests: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) transport_errors: AtomicU64,
    pub(crate) retry_wait_ms: AtomicU64,
    pub(crate) gave_up_on_budget: AtomicU64,
    pub(crate) by_status: parking_lot::Mutex<std::collections::BTreeMap<u16, u64>>,
}

/// What a client has sent and seen so far (for metrics and summaries).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// API requests sent (retries included).
    pub requests: u64,
    /// Token requests sent.
    pub token_requests: u64,
    /// Requests repeated after a retryable failure.
    pub retries: u64,
    /// Throttled answers (AF429, HTTP 429).
    pub throttled: u64,
    /// Requests that got no answer (connection refused, reset, timeout).
    pub transport_errors: u64,
    /// Time spent waiting before retries (backoff and `Retry-After`), in milliseconds.
    pub retry_wait_ms: u64,
    /// Requests given up because the wait asked for did not fit in the retry budget.
    pub gave_up_on_budget: u64,
    /// API answers by HTTP status.
    pub by_status: std::collections::BTreeMap<u16, u64>,
}

/// A client for one tenant. Cheap to clone; clones share the token cache and the budget.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("tenant", &self.inner.tenant)
            .field("client_id", &self.inner.client_id)
            .field("credentials", &self.inner.creds)
            .field("api_root", &self.inner.resource)
            .field("login_endpoint", &self.inner.login)
            .finish()
    }
}

impl Client {
    /// Start building a client for a tenant and app.
    pub fn builder(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        credentials: Credentials,
    ) -> ClientBuilder {
        ClientBuilder::new(tenant_id.into(), client_id.into(), credentials)
    }

    /// A client for another API of the same tenant at `root` (also its OAuth resource, e.g.
    /// Microsoft Graph): the same credentials, trust, proxy, retries and rate, its own token,
    /// pacing and counts.
    pub(crate) fn sibling(&self, root: &str) -> Client {
        let i = &self.inner;
        let root = root.trim_end_matches('/').to_string();
        let api_origin = url::Url::parse(&root)
            .map(|u| crate::cloud::origin(&u))
            .unwrap_or_else(|_| root.clone());
        Client {
            inner: Arc::new(Inner {
                http: i.http.clone(),
                tenant: i.tenant.clone(),
                client_id: i.client_id.clone(),
                publisher: None,
                creds: i.creds.clone(),
                api_origin,
                resource: root,
                graph_root: None,
                cloud_name: i.cloud_name,
                login: i.login.clone(),
                token_version: i.token_version,
                token: tokio::sync::Mutex::new(None),
                pacer: i.pacer.fresh(),
                proxy: i.proxy.clone(),
                retry: i.retry.clone(),
                max_bytes: i.max_bytes,
                refresh_margin: i.refresh_margin,
                skew_ms: Default::default(),
                skew_warned: Default::default(),
                counters: Counters::default(),
            }),
        }
    }

    /// The API root (and OAuth resource) in use.
    pub fn api_root(&self) -> &str {
        &self.inner.resource
    }

    /// The login endpoint in use.
    pub fn login_endpoint(&self) -> &str {
        &self.inner.login
    }

    /// The proxy requests to the API go through, if any (its password hidden).
    pub fn proxy(&self) -> Option<&crate::ProxyInUse> {
        self.inner.proxy.as_ref()
    }

    /// HTTP requests sent to the Activity API so far (retries included).
    pub fn requests_made(&self) -> u64 {
        self.inner.counters.requests.load(Ordering::Relaxed)
    }

    /// Token requests sent so far.
    pub fn token_requests_made(&self) -> u64 {
        self.inner.counters.token_requests.load(Ordering::Relaxed)
    }

    /// Counters of requests, retries, throttling and statuses.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientStats {
            requests: g(&c.requests),
            token_requests: g(&c.token_requests),
            retries: g(&c.retries),
            throttled: g(&c.throttled),
            transport_errors: g(&c.transport_errors),
            retry_wait_ms: g(&c.retry_wait_ms),
            gave_up_on_budget: g(&c.gave_up_on_budget),
            by_status: c.by_status.lock().clone(),
        }
    }

    /// The server's clock as last measured (local clock plus the skew seen in `Date` headers).
    pub fn server_now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_skew()
    }

    /// Clock skew measured from the server's `Date` header (server minus local).
    pub fn clock_skew(&self) -> chrono::Duration {
        chrono::Duration::milliseconds(self.inner.skew_ms.load(Ordering::Relaxed))
    }

    /// Note the server's `Date`: the skew corrects windows and `server_now`.
    pub(crate) fn observe_date(&self, h: &reqwest::header::HeaderMap) {
        let Some(d) = h.get("date").and_then(|v| v.to_str().ok()) else {
            return;
        };
        let Ok(server) = DateTime::parse_from_rfc2822(d) else {
            return;
        };
        let skew = server.with_timezone(&Utc) - Utc::now();
        // The Date header has whole seconds: ignore differences under two seconds.
        let ms = if skew.num_milliseconds().abs() < 2000 {
            0
        } else {
            skew.num_milliseconds()
        };
        self.inner.skew_ms.store(ms, Ordering::Relaxed);
        if ms.abs() > 300_000 && !self.inner.skew_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(skew_seconds = ms / 1000, "this machine's clock differs from the service's by more than 5 minutes; windows are corrected by the measured skew");
        }
    }
}
