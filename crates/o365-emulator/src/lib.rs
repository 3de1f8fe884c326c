//! A faithful local emulator of the Office 365 Management Activity API
//! (`manage.office.com/api/v1.0/{tenant}/activity/feed/…`) and of the Entra ID token endpoint
//! (`login.microsoftonline.com/{tenant}/oauth2/…`), with a control API for tests.
//!
//! Embed it in a test:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = o365_emulator::Emulator::start(o365_emulator::EmulatorConfig::default()).await?;
//! let info = emu.info();
//! println!("API root {} tenant {}", info.api_root, info.tenant_id);
//! emu.shutdown().await;
//! # Ok(()) }
//! ```

#![allow(clippy::result_large_err)] // handlers answer with a ready axum Response

pub mod api;
mod assertion;
pub mod cloud;
pub mod config;
pub mod content;
pub mod control;
mod feed_content;
mod feed_request;
mod feed_subscriptions;
pub mod graph;
mod padding;
mod records;
pub mod state;
pub mod tls;
pub mod token;
mod trim;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

pub use config::EmulatorConfig;
pub use content::ContentType;
pub use state::{Shared, State as EmulatorState};
pub use tls::TlsMaterial;

/// What a user or test needs to talk to a running emulator.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct StartInfo {
    /// API root (also the OAuth resource): `http://127.0.0.1:PORT`.
    pub api_root: String,
    /// Login endpoint: same listener, `/{tenant}/oauth2/...`.
    pub login_endpoint: String,
    /// Microsoft Graph's root here (also its OAuth resource): `http://127.0.0.1:PORT/graph`.
    #[serde(default)]
    pub graph_root: String,
    /// Control API root.
    pub control_root: String,
    /// Default tenant GUID.
    pub tenant_id: String,
    /// Default tenant domain.
    pub tenant_domain: String,
    /// Default app's client id.
    pub client_id: String,
    /// Default app's secret: a public test value.
    pub client_secret: String,
    /// Seed in use.
    pub seed: u64,
    /// Every tenant served: id and domain.
    #[serde(default)]
    pub tenants: Vec<TenantInfo>,
    /// Over HTTPS: the file holding the CA certificate to trust (written by the caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Over HTTPS: the proxy URL (`http://127.0.0.1:PORT`) through which a client configured
    /// for a real cloud reaches the emulator under the real host names (`HTTPS_PROXY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
}

/// A tenant the emulator serves.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct TenantInfo {
    /// Tenant GUID.
    pub id: String,
    /// Verified domain.
    pub domain: String,
    /// The cloud it lives in.
    #[serde(default)]
    pub cloud: cloud::Cloud,
}

impl StartInfo {
    /// Build from running state.
    pub fn from_state(st: &state::State) -> Self {
        let t = &st.cfg.tenants[0];
        let app = t.apps.first();
        Self {
            api_root: st.base_url.clone(),
            login_endpoint: st.base_url.clone(),
            graph_root: format!("{}/graph", st.base_url),
            control_root: format!("{}/_emulator", st.base_url),
            tenant_id: t.id.clone(),
            tenant_domain: t.domain.clone().unwrap_or_default(),
            client_id: app.map(|a| a.client_id.clone()).unwrap_or_default(),
            client_secret: app
                .and_then(|a| a.secrets.first())
                .map(|s| s.value.clone())
                .unwrap_or_default(),
            seed: st.cfg.seed,
            tenants: st
                .cfg
                .tenants
                .iter()
                .map(|t| TenantInfo {
                    id: t.id.clone(),
                    domain: t.domain.clone().unwrap_or_default(),
                    cloud: t.cloud,
                })
                .collect(),
            ca_file: None,
            proxy: None,
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The TLS certificate could not be made.
    #[error("{0}")]
    Tls(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running emulator.
pub struct Emulator {
    addr: SocketAddr,
    state: Shared,
    ca_pem: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    notifier: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Start on `127.0.0.1` with a free port.
    pub async fn start(cfg: EmulatorConfig) -> Result<Self, StartError> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), cfg).await
    }

    /// Start on a given address (port 0 picks a free port).
    pub async fn start_on(addr: SocketAddr, cfg: EmulatorConfig) -> Result<Self, StartError> {
        Self::start_with(addr, cfg, None).await
    }

    /// Start on a given address serving HTTPS, with a CA made for this run (see
    /// [`Emulator::ca_pem`]) and a certificate for loopback and the service's host names.
    pub async fn start_tls_on(addr: SocketAddr, cfg: EmulatorConfig) -> Result<Self, StartError> {
        let material = TlsMaterial::generate().map_err(StartError::Tls)?;
        Self::start_with(addr, cfg, Some(material)).await
    }

    async fn start_with(
        addr: SocketAddr,
        cfg: EmulatorConfig,
        tls: Option<TlsMaterial>,
    ) -> Result<Self, StartError> {
        cfg.validate()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let host = if bound.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else if bound.is_ipv6() {
            format!("[{}]", bound.ip())
        } else {
            bound.ip().to_string()
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{host}:{}", bound.port());
        let state = Arc::new(state::State::new(cfg, base).map_err(config::ConfigError)?);
        let app = router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stopped = async {
            let _ = rx.await;
        };
        let task = match &tls {
            None => tokio::spawn(async move {
                let r = axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "emulator server stopped");
                }
            }),
            Some(m) => {
                let listener = tls::TlsListener::new(listener, m)
                    .map_err(|source| StartError::Bind { addr, source })?;
                tokio::spawn(async move {
                    let r = axum::serve(listener, app)
                        .with_graceful_shutdown(stopped)
                        .await;
                    if let Err(e) = r {
                        tracing::error!(error = %e, "emulator server stopped");
                    }
                })
            }
        };
        let notifier = tokio::spawn(webhook::deliver(state.clone()));
        tracing::info!(addr = %bound, "emulator listening");
        Ok(Self {
            addr: bound,
            state,
            ca_pem: tls.map(|m| m.ca_pem().to_string()),
            stop: Some(tx),
            task,
            notifier,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The CA certificate (PEM) to trust when serving HTTPS; `None` over plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Connection facts for the default tenant.
    pub fn info(&self) -> StartInfo {
        let mut info = StartInfo::from_state(&self.state);
        if self.ca_pem.is_some() {
            let host = self.state.base_url.trim_start_matches("https://");
            info.proxy = Some(format!("http://{host}"));
        }
        info
    }

    /// The shared state (for in-process tests that want to look inside).
    pub fn state(&self) -> &Shared {
        &self.state
    }

    /// Stop serving and wait for the server task to end.
    pub async fn shutdown(mut self) {
        self.notifier.abort();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.notifier.abort();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The whole HTTP app: token endpoints, Activity API and control API.
pub fn router(st: Shared) -> Router {
    let feed = "/api/v1.0/{tenant}/activity/feed";
    let wire = Router::new()
        .route(&format!("{feed}/subscriptions/start"), post(api::start))
        .route(&format!("{feed}/subscriptions/stop"), post(api::stop))
        .route(&format!("{feed}/subscriptions/list"), get(api::list))
        .route(&format!("{feed}/subscriptions/content"), get(api::content))
        .route(
            &format!("{feed}/subscriptions/notifications"),
            get(api::notifications),
        )
        .route(&format!("{feed}/audit/{{content_id}}"), get(api::blob))
        .route(
            &format!("{feed}/resources/dlpSensitiveTypes"),
            get(api::dlp_types),
        )
        .route("/{tenant}/oauth2/token", post(token::token_v1))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token_v2))
        .layer(axum::middleware::from_fn_with_state(st.clone(), wire_layer));
    wire.merge(graph::router().layer(axum::middleware::from_fn_with_state(st.clone(), wire_layer)))
        .merge(control::router())
        .with_state(st)
}

/// Faults, counters and IIS-style headers around every wire request.
async fn wire_layer(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let route = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| req.uri().path().to_string())
    );
    let is_api = req.uri().path().starts_with("/api/");
    let faults = st.faults.read().clone();
    let mut resp = None;
    if is_api || faults.include_token_endpoint {
        if faults.latency_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
        }
        let scripted = st.script.lock().pop_front();
        let r = if scripted.is_some() {
            2.0
        } else {
            st.fault_draw()
        };
        let mut acc = faults.rate_429;
        if let Some(code) = scripted.filter(|c| *c != 0) {
            let mut r = match code {
                403 | 429 => api::af(
                    code,
                    "AF429",
                    "Too many requests. Method=Scripted, PublisherId=00000000-0000-0000-0000-000000000000",
                ),
                500 => api::af(500, "AF50000", "An internal error occurred. Retry the request."),
                other => StatusCode::from_u16(other)
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
                    .into_response(),
            };
            if code == 429 {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            resp = Some(r);
        } else if r < acc {
            resp = Some(api::af(
                429,
                "AF429",
                "Too many requests. Method=Injected, PublisherId=00000000-0000-0000-0000-000000000000",
            ));
        } else if r < {
            acc += faults.rate_500;
            acc
        } {
            resp = Some(api::af(
                500,
                "AF50000",
                "An internal error occurred. Retry the request.",
            ));
        } else if r < {
            acc += faults.rate_503;
            acc
        } {
            resp = Some(StatusCode::SERVICE_UNAVAILABLE.into_response());
        } else if scripted == Some(0) || r < acc + faults.rate_drop {
            st.counters.add(&route, 0);
            // Headers go out, then the body fails: the connection is cut mid-response.
            let stream = futures::stream::once(async {
                Err::<bytes::Bytes, _>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected connection drop",
                ))
            });
            return (StatusCode::OK, Body::from_stream(stream)).into_response();
        }
    }
    let mut resp = match resp {
        Some(r) => r,
        None => next.run(req).await,
    };
    st.counters.add(&route, resp.status().as_u16());
    // `Date` follows the emulated clock, as clients measure the service's time from it.
    if let Some(now) = chrono::DateTime::from_timestamp_millis(st.clock.now_ms()) {
        if let Ok(v) = HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
            resp.headers_mut().insert(header::DATE, v);
        }
    }
    if is_api {
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        h.insert(header::EXPIRES, HeaderValue::from_static("-1"));
        h.insert(
            header::SERVER,
            HeaderValue::from_static("Microsoft-IIS/10.0"),
        );
        h.insert("X-AspNet-Version", HeaderValue::from_static("4.0.30319"));
        h.insert("X-Powered-By", HeaderValue::from_static("ASP.NET"));
        if faults.close_connections {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    resp
}
