//! Building a [`Client`]: every setting validated once, here.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{Credentials, TokenVersion};
use crate::client::{Client, Counters, Inner};
use crate::cloud::{origin, parse_endpoint, trimmed, Cloud};
use crate::ids::{is_domain, is_guid};
use crate::pacer::Pacer;
use crate::retry::RetryPolicy;
use crate::Error;

/// Requests per minute a client allows itself per tenant unless told otherwise: the service's
/// documented budget per tenant.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 2000;

/// How long a request may take unless told otherwise, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    tenant_id: String,
    client_id: String,
    credentials: Credentials,
    cloud: Cloud,
    api_root: Option<String>,
    login_endpoint: Option<String>,
    graph_root: Option<String>,
    publisher_id: Option<String>,
    token_version: TokenVersion,
    verify_tls: bool,
    ca_pem: Option<Vec<u8>>,
    proxy: Option<String>,
    timeout: Duration,
    max_response_bytes: usize,
    retry: RetryPolicy,
    requests_per_minute: u32,
    burst: Option<u32>,
    refresh_margin: Duration,
}

impl ClientBuilder {
    pub(crate) fn new(tenant_id: String, client_id: String, credentials: Credentials) -> Self {
        Self {
            tenant_id,
            client_id,
            credentials,
            cloud: Cloud::Commercial,
            api_root: None,
            login_endpoint: None,
            graph_root: None,
            publisher_id: None,
            token_version: TokenVersion::V2,
            verify_tls: true,
            ca_pem: None,
            proxy: None,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            max_response_bytes: 256 * 1024 * 1024,
            retry: RetryPolicy::default(),
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            burst: None,
            refresh_margin: Duration::from_secs(300),
        }
    }

    /// Choose the cloud (sets API root and login endpoint together).
    pub fn cloud(mut self, c: Cloud) -> Self {
        self.cloud = c;
        self
    }
    /// Override Microsoft Graph's root (also its OAuth resource), e.g. the emulator's: the
    /// audit search goes there.
    pub fn graph_root(mut self, url: impl Into<String>) -> Self {
        self.graph_root = Some(url.into());
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
    /// `PublisherIdentifier` for every call, a GUID (default: the tenant GUID from the token).
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
    /// Also trust these CA certificates (PEM, one or more), besides the built-in roots and the
    /// operating system's store: a private CA, or a TLS-inspecting proxy's.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }
    /// Send every request through this proxy (`http://[user:password@]host:port`) instead of
    /// the environment's (`HTTPS_PROXY`, ...); `NO_PROXY` still applies.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
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
        if let Some(p) = &self.publisher_id {
            if !is_guid(p) {
                return Err(Error::Config {
                    field: "publisher_id",
                    value: p.clone(),
                    problem: "must be a GUID (the publishing tenant's GUID, never a domain name); leave it unset to send the tenant GUID from the access token".into(),
                });
            }
        }
        if !is_guid(t) && !is_domain(t) {
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
        // Where the cloud has no audit search, a graph_root given does not make one.
        let graph_root = match (self.cloud.graph_root(), &self.graph_root) {
            (None, _) => None,
            (Some(_), Some(g)) => Some(trimmed(&crate::cloud::parse_root("graph_root", g)?)),
            (Some(d), None) => Some(d.to_string()),
        };
        if let Some(problem) = crate::cloud::half_cloud(api_root.as_str(), login.as_str()) {
            return Err(Error::Config {
                field: "login_endpoint",
                value: trimmed(&login),
                problem,
            });
        }
        let http = crate::trust::Trust {
            ca_pem: self.ca_pem.clone(),
            proxy: self.proxy.clone(),
            insecure: !self.verify_tls,
        }
        .builder()?;
        let proxy = crate::proxy::in_use(self.proxy.as_deref(), api_root.as_str(), |n| {
            std::env::var(n).ok()
        });
        let http = http
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(10).min(self.timeout))
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
                publisher: self.publisher_id.map(|p| p.trim().to_string()),
                tenant: t.to_string(),
                client_id: self.client_id.trim().to_string(),
                creds: self.credentials,
                api_origin: origin(&api_root),
                resource: trimmed(&api_root),
                graph_root,
                cloud_name: self.cloud.name(),
                login: trimmed(&login),
                token_version: self.token_version,
                token: tokio::sync::Mutex::new(None),
                pacer: Pacer::new(rpm, burst),
                proxy,
                retry: self.retry,
                max_bytes: self.max_response_bytes,
                refresh_margin: self.refresh_margin,
                skew_ms: Default::default(),
                skew_warned: Default::default(),
                counters: Counters::default(),
            }),
        })
    }
}
