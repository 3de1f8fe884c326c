//! Streamable HTTP at `/mcp`: loopback without a token, anything else with one; browser
//! origins checked; a bounded number of sessions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use crate::server::McpServer;
use crate::ServeError;

/// Origins trusted by a loopback server.
const LOOPBACK_ORIGINS: [&str; 3] = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"];
/// Most sessions open at once; a new one beyond is refused (503) until one ends.
pub const MAX_SESSIONS: usize = 64;
/// A session without a request for this long is closed.
const SESSION_IDLE: Duration = Duration::from_secs(120);
/// Largest request body accepted (4 MiB): a tool call's arguments are a few kilobytes.
pub const MAX_BODY: usize = 4 << 20;

/// A JSON-RPC error answer (`id` null: the request's cannot be known).
fn jsonrpc_error(status: axum::http::StatusCode, code: i64, message: &str) -> Response {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    r
}

/// Posted bodies are read up to [`MAX_BODY`] and must be JSON-RPC: anything else is answered
/// with a JSON-RPC error (parse error, invalid request) instead of a bare HTTP status.
async fn jsonrpc_only(req: Request, next: Next) -> Response {
    if req.method() != axum::http::Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let mut r = jsonrpc_error(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                &format!("Invalid request: the body is larger than {MAX_BODY} bytes"),
            );
            // The rest of the body is not read: the connection cannot carry another request,
            // and a client that tried would find it closed without an answer.
            r.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            return r;
        }
    };
    let v: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return jsonrpc_error(
                axum::http::StatusCode::BAD_REQUEST,
                -32700,
                &format!("Parse error: {e}"),
            )
        }
    };
    let one = |m: &serde_json::Value| m.get("jsonrpc").and_then(|j| j.as_str()) == Some("2.0");
    let ok = match &v {
        serde_json::Value::Object(_) => one(&v),
        serde_json::Value::Array(a) => !a.is_empty() && a.iter().all(one),
        _ => false,
    };
    if !ok {
        return jsonrpc_error(
            axum::http::StatusCode::BAD_REQUEST,
            -32600,
            "Invalid request: expected a JSON-RPC 2.0 message (an object with \"jsonrpc\": \"2.0\")",
        );
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Refuse a request that would open a session beyond [`MAX_SESSIONS`].
async fn bounded_sessions(
    sessions: Arc<LocalSessionManager>,
    req: Request,
    next: Next,
) -> Response {
    let opens =
        req.method() == axum::http::Method::POST && !req.headers().contains_key("mcp-session-id");
    if opens && sessions.sessions.read().await.len() >= MAX_SESSIONS {
        tracing::warn!(
            max = MAX_SESSIONS,
            "refusing a new MCP session: too many open"
        );
        let mut r = (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("too many open sessions (at most {MAX_SESSIONS}): close one, or retry when an idle one expires\n"),
        )
            .into_response();
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("30"),
        );
        return r;
    }
    next.run(req).await
}

/// A bound streamable-HTTP server, not yet serving.
pub struct HttpServer {
    listener: tokio::net::TcpListener,
    app: axum::Router,
    addr: SocketAddr,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// The MCP service at `/mcp`: browser origins checked (loopback origins only when `loopback`,
/// none otherwise) and sessions bounded. Add [`require_token`] beyond loopback.
pub fn router(server: McpServer, loopback: bool) -> axum::Router {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let config = if loopback {
        // A browser page may only reach a loopback server from a loopback origin (no DNS
        // rebinding); clients that send no Origin are not browsers and pass.
        StreamableHttpServerConfig::default().with_allowed_origins(LOOPBACK_ORIGINS)
    } else {
        // The bearer token guards the server; Host checks would only refuse real names. No
        // browser origin is trusted with it.
        StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .enforce_origin_validation()
    };
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(SESSION_IDLE);
    let sessions = Arc::new(sessions);
    let service =
        StreamableHttpService::new(move || Ok(server.session()), sessions.clone(), config);
    axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(jsonrpc_only))
        .layer(axum::middleware::from_fn(move |req, next| {
            bounded_sessions(sessions.clone(), req, next)
        }))
}

/// Require `Authorization: Bearer TOKEN` on every route of `app` (compared in constant time).
pub fn require_token(app: axum::Router, token: &str) -> axum::Router {
    let expected: Arc<str> = format!("Bearer {token}").into();
    app.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let expected = expected.clone();
            async move {
                let ok = req
                    .headers()
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| o365_http::same_secret(v.as_bytes(), expected.as_bytes()));
                if ok {
                    next.run(req).await
                } else {
                    let mut r = axum::response::IntoResponse::into_response((
                        axum::http::StatusCode::UNAUTHORIZED,
                        "missing or wrong bearer token\n",
                    ));
                    r.headers_mut().insert(
                        axum::http::header::WWW_AUTHENTICATE,
                        axum::http::HeaderValue::from_static("Bearer"),
                    );
                    r
                }
            }
        },
    ))
}

impl HttpServer {
    /// Bind: loopback without a token is allowed; anything else needs one.
    pub async fn bind(
        server: McpServer,
        addr: SocketAddr,
        token: Option<String>,
    ) -> Result<Self, ServeError> {
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(ServeError::NeedsToken(addr));
        }
        let mut app = router(server, addr.ip().is_loopback());
        if let Some(t) = &token {
            app = require_token(app, t);
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Self {
            listener,
            app,
            addr,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The MCP endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Serve until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        o365_http::serve(self.listener, self.app, shutdown, Default::default()).await;
        Ok(())
    }
}
