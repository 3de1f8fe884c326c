//! The client: builder, token cache, pacing, retries, and every operation.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use reqwest::header::HeaderMap;
use reqwest::Method;
use secrecy::ExposeSecret;
use url::Url;

use crate::auth::{decode_token_response, snippet, AccessToken, Credentials, TokenVersion};
use crate::cloud::{origin, parse_endpoint, trimmed, Cloud};
use crate::types::*;
use crate::window::{format_time, Window};
use crate::Error;

/// When and how often to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// First backoff.
    pub base_delay: Duration,
    /// Largest backoff between two attempts (a longer `Retry-After` still wins).
    pub max_delay: Duration,
    /// Give up once this much time has passed since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    tenant_id: String,
    client_id: String,
    credentials: Credentials,
    cloud: Cloud,
    api_root: Option<String>,
    login_endpoint: Option<String>,
    publisher_id: Option<String>,
    token_version: TokenVersion,
    verify_tls: bool,
    timeout: Duration,
    max_response_bytes: usize,
    retry: RetryPolicy,
    requests_per_minute: u32,
    burst: Option<u32>,
    refresh_margin: Duration,
}

impl ClientBuilder {
    /// Choose the cloud (sets API root and login endpoint together).
    pub fn cloud(mut self, c: Cloud) -> Self {
        self.cloud = c;
        self
    }
    /// Override the API root (also the OAuth resource), e.g. the emulator's.
    pub fn api_root(mut self, url: impl Into<String>) -> Self {
        self.api_root = Some(url.into());
        self
    }
    /// Override the login endpoint.
    pub fn login_endpoint(mut self, url: impl Into<String>) -> Self {
        self.login_endpoint = Some(url.into());
        self
    }
    /// `PublisherIdentifier` for every call (default: the tenant id).
    pub fn publisher_id(mut self, id: impl Into<String>) -> Self {
        self.publisher_id = Some(id.into());
        self
    }
    /// v2 (default) or v1 token endpoint.
    pub fn token_version(mut self, v: TokenVersion) -> Self {
        self.token_version = v;
        self
    }
    /// Verify TLS certificates (on by default).
    pub fn verify_tls(mut self, on: bool) -> Self {
        self.verify_tls = on;
        self
    }
    /// Timeout of one request.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Largest answer accepted, in bytes.
    pub fn max_response_bytes(mut self, n: usize) -> Self {
        self.max_response_bytes = n;
        self
    }
    /// Retry policy.
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.retry = r;
        self
    }
    /// Per-tenant request budget shared by every task using the client (0 = unpaced).
    pub fn requests_per_minute(mut self, n: u32) -> Self {
        self.requests_per_minute = n;
        self
    }
    /// Requests that may go out at once before pacing starts (default: 10 seconds' worth).
    pub fn burst(mut self, n: u32) -> Self {
        self.burst = Some(n);
        self
    }
    /// Refresh tokens this long before they expire (default 5 minutes).
    pub fn refresh_margin(mut self, d: Duration) -> Self {
        self.refresh_margin = d;
        self
    }

    /// Validate everything and build the client.
    pub fn build(self) -> Result<Client, Error> {
        if self.client_id.trim().is_empty() {
            return Err(Error::Config {
                field: "client_id",
                value: String::new(),
                problem: "required: the application (client) ID of the app registration".into(),
            });
        }
        let t = self.tenant_id.trim();
        let dns = t.contains('.')
            && t.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !is_guid(t) && !dns {
            return Err(Error::Config {
                field: "tenant_id",
                value: self.tenant_id.clone(),
                problem: "must be the tenant GUID or a verified domain like contoso.onmicrosoft.com (never add .onmicrosoft.com to a GUID)".into(),
            });
        }
        let api_root = parse_endpoint(
            "api_root",
            self.api_root.as_deref().unwrap_or(self.cloud.api_root()),
        )?;
        let login = parse_endpoint(
            "login_endpoint",
            self.login_endpoint
                .as_deref()
                .unwrap_or(self.cloud.login_endpoint()),
        )?;
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(10).min(self.timeout))
            .danger_accept_invalid_certs(!self.verify_tls)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("o365mgmt/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config {
                field: "http client",
                value: String::new(),
                problem: e.to_string(),
            })?;
        if !self.verify_tls {
            tracing::warn!("TLS certificate verification is OFF: answers could come from anyone");
        }
        let rpm = self.requests_per_minute;
        let burst = self.burst.unwrap_or((rpm / 6).max(1)).max(1) as f64;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                publisher: self.publisher_id.unwrap_or_else(|| t.to_string()),
                tenant: t.to_string(),
                client_id: self.client_id.trim().to_string(),
                creds: self.credentials,
                api_origin: origin(&api_root),
                resource: trimmed(&api_root),
                login: trimmed(&login),
                token_version: self.token_version,
                token: tokio::sync::Mutex::new(None),
                pacer: Pacer {
                    rate: rpm as f64 / 60.0,
                    cap: burst,
                    state: parking_lot::Mutex::new((burst, Instant::now())),
                },
                retry: self.retry,
                max_bytes: self.max_response_bytes,
                refresh_margin: self.refresh_margin,
                skew_ms: AtomicI64::new(0),
                retries: AtomicU64::new(0),
                throttled: AtomicU64::new(0),
                transport_errors: AtomicU64::new(0),
                by_status: parking_lot::Mutex::new(Default::default()),
                skew_warned: AtomicBool::new(false),
                requests: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
            }),
        })
    }
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

struct Pacer {
    rate: f64,
    cap: f64,
    state: parking_lot::Mutex<(f64, Instant)>,
}

impl Pacer {
    async fn acquire(&self) {
        if self.rate <= 0.0 {
            return;
        }
        loop {
            let wait = {
                let mut s = self.state.lock();
                let now = Instant::now();
                s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.cap);
                s.1 = now;
                if s.0 >= 1.0 {
                    s.0 -= 1.0;
                    None
                } else {
                    Some(Duration::from_secs_f64((1.0 - s.0) / self.rate))
                }
            };
            match wait {
                None => return,
                Some(w) => tokio::time::sleep(w).await,
            }
        }
    }
}

struct Inner {
    http: reqwest::Client,
    tenant: String,
    client_id: String,
    publisher: String,
    creds: Credentials,
    api_origin: String,
    resource: String,
    login: String,
    token_version: TokenVersion,
    token: tokio::sync::Mutex<Option<(AccessToken, String)>>,
    pacer: Pacer,
    retry: RetryPolicy,
    max_bytes: usize,
    refresh_margin: Duration,
    skew_ms: AtomicI64,
    skew_warned: AtomicBool,
    requests: AtomicU64,
    token_requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    transport_errors: AtomicU64,
    by_status: parking_lot::Mutex<std::collections::BTreeMap<u16, u64>>,
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
    /// API answers by HTTP status.
    pub by_status: std::collections::BTreeMap<u16, u64>,
}

/// A client for one tenant. Cheap to clone; clones share the token cache and the budget.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
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

/// A read answer.
struct Answer {
    headers: HeaderMap,
    body: Bytes,
}

/// Facts from a successful token request, for Ping.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// Roles in the token.
    pub roles: Vec<String>,
    /// Tenant GUID from the token.
    pub tenant_id: String,
    /// Lifetime the server announced.
    pub expires_in: Duration,
}

impl Client {
    /// Start building a client for a tenant and app.
    pub fn builder(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        credentials: Credentials,
    ) -> ClientBuilder {
        ClientBuilder {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            credentials,
            cloud: Cloud::Commercial,
            api_root: None,
            login_endpoint: None,
            publisher_id: None,
            token_version: TokenVersion::V2,
            verify_tls: true,
            timeout: Duration::from_secs(60),
            max_response_bytes: 256 * 1024 * 1024,
            retry: RetryPolicy::default(),
            requests_per_minute: 2000,
            burst: None,
            refresh_margin: Duration::from_secs(300),
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

    /// HTTP requests sent to the Activity API so far (retries included).
    pub fn requests_made(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Token requests sent so far.
    pub fn token_requests_made(&self) -> u64 {
        self.inner.token_requests.load(Ordering::Relaxed)
    }

    /// Counters of requests, retries, throttling and statuses.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            token_requests: self.inner.token_requests.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
            throttled: self.inner.throttled.load(Ordering::Relaxed),
            transport_errors: self.inner.transport_errors.load(Ordering::Relaxed),
            by_status: self.inner.by_status.lock().clone(),
        }
    }

    /// The server's clock as last measured (local clock plus the skew seen in `Date` headers).
    pub fn server_now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.inner.skew_ms.load(Ordering::Relaxed))
    }

    /// Clock skew measured from the server's `Date` header (server minus local).
    pub fn clock_skew(&self) -> chrono::Duration {
        chrono::Duration::milliseconds(self.inner.skew_ms.load(Ordering::Relaxed))
    }

    fn token_url(&self) -> String {
        match self.inner.token_version {
            TokenVersion::V2 => format!(
                "{}/{}/oauth2/v2.0/token",
                self.inner.login, self.inner.tenant
            ),
            TokenVersion::V1 => format!("{}/{}/oauth2/token", self.inner.login, self.inner.tenant),
        }
    }

    async fn fetch_token(&self) -> Result<AccessToken, Error> {
        let url = self.token_url();
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", self.inner.client_id.clone()),
            ("grant_type", "client_credentials".into()),
        ];
        match self.inner.token_version {
            TokenVersion::V2 => form.push(("scope", format!("{}/.default", self.inner.resource))),
            TokenVersion::V1 => form.push(("resource", self.inner.resource.clone())),
        }
        match &self.inner.creds {
            Credentials::Secret(s) => form.push(("client_secret", s.expose_secret().to_string())),
            Credentials::Certificate(c) => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push((
                    "client_assertion",
                    c.assertion(&self.inner.client_id, &url)?,
                ));
            }
        }
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.inner.token_requests.fetch_add(1, Ordering::Relaxed);
            let res = self.inner.http.post(&url).form(&form).send().await;
            let err = match res {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body =
                        read_limited(r, self.inner.max_bytes, "token endpoint", &url).await?;
                    match decode_token_response(status, &body, self.inner.refresh_margin) {
                        Ok(t) => return Ok(t),
                        Err(e) => e,
                    }
                }
                Err(e) => transport(&url, e),
            };
            if !err.is_retryable() || !self.may_retry(attempt, started) {
                return Err(err);
            }
            tokio::time::sleep(self.backoff(attempt, None)).await;
        }
    }

    /// Get a valid access token: cached until shortly before expiry, one refresh at a time.
    pub async fn token_info(&self) -> Result<TokenInfo, Error> {
        let (t, tid) = self.token(false).await?;
        Ok(TokenInfo {
            roles: t.roles,
            tenant_id: tid,
            expires_in: t.expires_in,
        })
    }

    async fn token(&self, force: bool) -> Result<(AccessToken, String), Error> {
        let mut g = self.inner.token.lock().await;
        if let Some((t, tid)) = g.as_ref() {
            if !force && Instant::now() < t.refresh_at {
                return Ok((t.clone(), tid.clone()));
            }
        }
        let t = self.fetch_token().await?;
        let tid = jwt_tid(t.secret.expose_secret()).unwrap_or_else(|| self.inner.tenant.clone());
        *g = Some((t.clone(), tid.clone()));
        Ok((t, tid))
    }

    fn may_retry(&self, attempt: u32, started: Instant) -> bool {
        attempt < self.inner.retry.max_attempts && started.elapsed() < self.inner.retry.max_elapsed
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let r = &self.inner.retry;
        let exp = r
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(r.max_delay);
        // Full jitter between half and all of the exponential delay.
        let jitter = (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0;
        let d = exp.mul_f64(0.5 + jitter / 2.0);
        match retry_after {
            Some(ra) => d.max(ra),
            None => d,
        }
    }

    fn feed_url(&self, tid: &str, op: &str) -> String {
        format!("{}/api/v1.0/{tid}/activity/feed/{op}", self.inner.resource)
    }

    /// Add `PublisherIdentifier` when the URL lacks it (any case).
    fn with_publisher(&self, url: &str) -> Result<String, Error> {
        let mut u = Url::parse(url).map_err(|e| Error::Decode {
            what: "URL from the service".into(),
            path: url.into(),
            message: e.to_string(),
        })?;
        if origin(&u) != self.inner.api_origin {
            return Err(Error::ForeignHost {
                url: url.into(),
                expected: self.inner.api_origin.clone(),
            });
        }
        let has = u
            .query_pairs()
            .any(|(k, _)| k.eq_ignore_ascii_case("PublisherIdentifier"));
        if !has {
            u.query_pairs_mut()
                .append_pair("PublisherIdentifier", &self.inner.publisher);
        }
        Ok(u.into())
    }

    /// Send one API request with pacing, token refresh on 401, and retries.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
        what: &str,
    ) -> Result<Answer, Error> {
        let url = self.with_publisher(url)?;
        let started = Instant::now();
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            self.inner.pacer.acquire().await;
            let (tok, _) = self.token(false).await?;
            let mut req = self
                .inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(tok.secret.expose_secret());
            req = match &body {
                Some(b) => req
                    .header("Content-Type", "application/json")
                    .body(b.clone()),
                None if method == Method::POST => req.header("Content-Length", "0"),
                None => req,
            };
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let res = req.send().await;
            let (err, retry_after) = match res {
                Err(e) => {
                    self.inner.transport_errors.fetch_add(1, Ordering::Relaxed);
                    (transport(&url, e), None)
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    *self.inner.by_status.lock().entry(status).or_default() += 1;
                    let headers = r.headers().clone();
                    self.observe_date(&headers);
                    match read_limited(r, self.inner.max_bytes, what, &url).await {
                        Err(e) => (e, None),
                        Ok(body) if (200..300).contains(&status) => {
                            return Ok(Answer { headers, body })
                        }
                        Ok(body) => {
                            let e = api_error(status, &body, what);
                            if matches!(e, Error::Unauthorized { .. }) && !refreshed {
                                // The token may have expired or been revoked: refresh once.
                                refreshed = true;
                                attempt -= 1;
                                self.token(true).await?;
                                continue;
                            }
                            (e, retry_after_of(&headers))
                        }
                    }
                }
            };
            if matches!(&err, Error::Api { code, .. } if code == "AF429")
                || matches!(&err, Error::Http { status: 429, .. })
            {
                self.inner.throttled.fetch_add(1, Ordering::Relaxed);
            }
            if !err.is_retryable() || !self.may_retry(attempt, started) {
                return Err(match err {
                    Error::Api {
                        status,
                        code,
                        message,
                    } if code == "AF429" => Error::Throttled {
                        status,
                        message,
                        retry_after,
                    },
                    other => other,
                });
            }
            let wait = self.backoff(attempt, retry_after);
            self.inner.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(what, attempt, ?wait, error = %err, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    fn observe_date(&self, h: &HeaderMap) {
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

    async fn tid(&self) -> Result<String, Error> {
        Ok(self.token(false).await?.1)
    }

    /// Start (or update) a subscription. AF20024 ("already enabled") is success.
    pub async fn start_subscription(
        &self,
        ct: ContentType,
        webhook: Option<&Webhook>,
    ) -> Result<StartOutcome, Error> {
        let tid = self.tid().await?;
        let url = format!(
            "{}?contentType={}",
            self.feed_url(&tid, "subscriptions/start"),
            ct.as_str()
        );
        let body = webhook.map(|w| serde_json::json!({ "webhook": w }).to_string());
        match self
            .send(Method::POST, &url, body, "subscriptions/start")
            .await
        {
            Ok(a) => {
                let s: Subscription =
                    serde_json::from_slice(&a.body).map_err(|e| Error::Decode {
                        what: "subscriptions/start".into(),
                        path: "$".into(),
                        message: e.to_string(),
                    })?;
                Ok(StartOutcome::Started(s))
            }
            Err(Error::Api { code, .. }) if code == "AF20024" => Ok(StartOutcome::AlreadyEnabled),
            Err(e) => Err(e),
        }
    }

    /// Stop a subscription (content of the stopped interval is lost for good).
    pub async fn stop_subscription(&self, ct: ContentType) -> Result<(), Error> {
        let tid = self.tid().await?;
        let url = format!(
            "{}?contentType={}",
            self.feed_url(&tid, "subscriptions/stop"),
            ct.as_str()
        );
        self.send(Method::POST, &url, None, "subscriptions/stop")
            .await
            .map(|_| ())
    }

    /// List subscriptions.
    pub async fn list_subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        let tid = self.tid().await?;
        let a = self
            .send(
                Method::GET,
                &self.feed_url(&tid, "subscriptions/list"),
                None,
                "subscriptions/list",
            )
            .await?;
        decode_array("subscriptions/list", &a.body)
    }

    /// List available content in a window (≤ 24 h) as a stream of pages, following `NextPageUri`.
    pub fn list_content(
        &self,
        ct: ContentType,
        window: Window,
    ) -> impl Stream<Item = Result<Vec<ContentBlob>, Error>> + Send + 'static {
        self.pages(ct, window, "subscriptions/content")
    }

    /// All content of a window, every page read.
    pub async fn list_content_all(
        &self,
        ct: ContentType,
        window: Window,
    ) -> Result<Vec<ContentBlob>, Error> {
        use futures::TryStreamExt as _;
        let pages: Vec<Vec<ContentBlob>> = self.list_content(ct, window).try_collect().await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// Webhook notification history of a window, as pages.
    pub fn list_notifications(
        &self,
        ct: ContentType,
        window: Window,
    ) -> impl Stream<Item = Result<Vec<Notification>, Error>> + Send + 'static {
        self.pages(ct, window, "subscriptions/notifications")
    }

    fn pages<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        ct: ContentType,
        window: Window,
        op: &'static str,
    ) -> impl Stream<Item = Result<Vec<T>, Error>> + Send + 'static {
        let this = self.clone();
        futures::stream::try_unfold(
            (this, None::<String>, true),
            move |(this, next, first)| async move {
                let url = match (next, first) {
                    (Some(u), _) => u,
                    (None, true) => {
                        let tid = this.tid().await?;
                        format!(
                            "{}?contentType={}&startTime={}&endTime={}",
                            this.feed_url(&tid, op),
                            ct.as_str(),
                            format_time(window.start),
                            format_time(window.end)
                        )
                    }
                    (None, false) => return Ok(None),
                };
                let a = this.send(Method::GET, &url, None, op).await?;
                let items: Vec<T> = decode_array(op, &a.body)?;
                let next = next_page(&a.headers);
                if let Some(n) = &next {
                    // Checked again (and PublisherIdentifier added) when it is sent.
                    this.with_publisher(n)?;
                }
                Ok(Some((items, (this, next, false))))
            },
        )
    }

    /// Fetch one blob; each event keeps its raw bytes.
    pub async fn fetch_blob(&self, content_uri: &str) -> Result<Vec<Event>, Error> {
        let a = self.fetch_blob_bytes(content_uri).await?;
        decode_blob(&a)
    }

    /// Fetch one blob's bytes, unparsed.
    pub async fn fetch_blob_bytes(&self, content_uri: &str) -> Result<Bytes, Error> {
        Ok(self
            .send(Method::GET, content_uri, None, "content blob")
            .await?
            .body)
    }

    /// DLP sensitive information types.
    pub async fn dlp_sensitive_types(&self) -> Result<Vec<DlpSensitiveType>, Error> {
        let tid = self.tid().await?;
        let a = self
            .send(
                Method::GET,
                &self.feed_url(&tid, "resources/dlpSensitiveTypes"),
                None,
                "resources/dlpSensitiveTypes",
            )
            .await?;
        decode_array("resources/dlpSensitiveTypes", &a.body)
    }
}

fn jwt_tid(jwt: &str) -> Option<String> {
    use base64::Engine as _;
    let p = jwt.split('.').nth(1)?;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&b).ok()?;
    v["tid"].as_str().map(String::from)
}

fn next_page(h: &HeaderMap) -> Option<String> {
    ["NextPageUri", "NextPageUrl"]
        .iter()
        .find_map(|n| h.get(*n))
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn retry_after_of(h: &HeaderMap) -> Option<Duration> {
    let v = h.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s.min(3600)));
    }
    let t = DateTime::parse_from_rfc2822(v).ok()?;
    (t.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

fn transport(url: &str, e: reqwest::Error) -> Error {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    Error::Transport {
        url: strip_query(url),
        message: msg,
        timeout: e.is_timeout(),
    }
}

fn strip_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

async fn read_limited(
    mut r: reqwest::Response,
    limit: usize,
    what: &str,
    url: &str,
) -> Result<Bytes, Error> {
    if r.content_length().is_some_and(|n| n as usize > limit) {
        return Err(Error::TooLarge {
            what: what.into(),
            limit,
        });
    }
    // Reserve what the server announced (bounded), so the body is copied once.
    let mut buf = bytes::BytesMut::with_capacity(
        r.content_length()
            .map(|n| n as usize)
            .unwrap_or(0)
            .min(limit)
            .min(64 << 20),
    );
    loop {
        match r.chunk().await {
            Ok(Some(c)) => {
                if buf.len() + c.len() > limit {
                    return Err(Error::TooLarge {
                        what: what.into(),
                        limit,
                    });
                }
                buf.extend_from_slice(&c);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(e) => return Err(transport(url, e)),
        }
    }
}

/// Classify a non-2xx Activity API answer.
pub fn api_error(status: u16, body: &[u8], what: &str) -> Error {
    #[derive(serde::Deserialize)]
    struct Env {
        error: Option<Inner>,
        #[serde(rename = "Message")]
        message: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<Env>(body) {
        Ok(Env {
            message: Some(m), ..
        }) if status == 401 => Error::Unauthorized { message: m },
        Ok(Env {
            error:
                Some(Inner {
                    code: Some(code),
                    message,
                }),
            ..
        }) => {
            let message = message.unwrap_or_default();
            if code.contains("[AppId")
                || message.contains("does not exist.") && message.contains("DataServiceException")
            {
                let tenant = message
                    .split("Tenant ")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap_or("?")
                    .to_string();
                return Error::AuditingOff { tenant };
            }
            Error::Api {
                status,
                code,
                message,
            }
        }
        _ if status == 401 => Error::Unauthorized {
            message: snippet(body),
        },
        _ => Error::Http {
            status,
            what: what.into(),
            body: snippet(body),
        },
    }
}
