//! MCP server for the integration: the existing integration's tools
//! (`office365_management_api_ping`, `..._start_subscription`, `..._stop_subscription`) with the
//! same names and arguments, plus `..._list_subscriptions` and `..._list_content`, over stdio or
//! streamable HTTP. Every tool calls the same [`o365_actions::Runner`] as the CLI.
//!
//! ```no_run
//! # async fn run(runner: o365_actions::Runner) -> Result<(), o365_mcp::ServeError> {
//! o365_mcp::serve_stdio(std::sync::Arc::new(runner)).await
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use o365_actions::input::args::{self, TYPES_HELP};
use o365_actions::input::{self, ActionKind};
use o365_actions::result::Status;
use o365_actions::{Runner, STOP_WARNING};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt as _};
use serde_json::Value;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The MCP session failed.
    #[error("MCP server: {0}")]
    Mcp(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Refused: a non-loopback address without a bearer token.
    #[error("refusing to serve MCP on {0} without authentication: binding beyond loopback requires --auth-token-file FILE (a file holding the bearer token clients must send), or bind to 127.0.0.1")]
    NeedsToken(SocketAddr),
}

/// The MCP server: tools over one integration instance.
#[derive(Clone)]
pub struct McpServer {
    runner: Arc<Runner>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer").finish_non_exhaustive()
    }
}

/// The tool definitions.
pub fn tools() -> Vec<Tool> {
    let ann = |title: &str| ToolAnnotations::with_title(title).open_world(true);
    let mut v = Vec::new();
    let mut t = Tool::new(
        ActionKind::Ping.tool_name(),
        "Test connectivity to the Office 365 Management Activity API: gets a token AND lists subscriptions, so success means the other tools will work. On failure the result names the cause (wrong secret, secret ID pasted instead of the value, app not in tenant, unknown tenant, missing ActivityFeed.Read permission, auditing off, wrong cloud, unreachable host) and the fix.",
        args::input_schema(ActionKind::Ping),
    );
    t.annotations = Some(
        ann("Ping")
            .read_only(true)
            .destructive(false)
            .idempotent(true),
    );
    v.push(t);
    let mut t = Tool::new(
        ActionKind::StartSubscription.tool_name(),
        format!("Start Office 365 Management API content subscriptions so the tenant's audit log of those types becomes available for collection. Already-enabled subscriptions count as success (outcome already_enabled). If this tool stopped a type earlier, the result reports the data gap [stopped_at, started_at). {TYPES_HELP}"),
        args::input_schema(ActionKind::StartSubscription),
    );
    t.annotations = Some(
        ann("Start Subscription")
            .read_only(false)
            .destructive(false)
            .idempotent(true),
    );
    v.push(t);
    let mut t = Tool::new(
        ActionKind::StopSubscription.tool_name(),
        format!("Stop Office 365 Management API content subscriptions. WARNING: {STOP_WARNING} The stop is recorded in the data-gap ledger. {TYPES_HELP}"),
        args::input_schema(ActionKind::StopSubscription),
    );
    t.annotations = Some(
        ann("Stop Subscription")
            .read_only(false)
            .destructive(true)
            .idempotent(true),
    );
    v.push(t);
    let mut t = Tool::new(
        ActionKind::ListSubscriptions.tool_name(),
        "List the tenant's Office 365 Management API subscriptions (content type, status, webhook), the types not enabled, and open data gaps.",
        args::input_schema(ActionKind::ListSubscriptions),
    );
    t.annotations = Some(
        ann("List Subscriptions")
            .read_only(true)
            .destructive(false)
            .idempotent(true),
    );
    v.push(t);
    let mut t = Tool::new(
        ActionKind::ListContent.tool_name(),
        "List the content blobs available for one content type in a time window (default: the last 24 hours; at most 7 days back; longer ranges are split into 24-hour windows). Each blob has contentId, contentUri, contentCreated and contentExpiration.",
        args::input_schema(ActionKind::ListContent),
    );
    t.annotations = Some(
        ann("List Content")
            .read_only(true)
            .destructive(false)
            .idempotent(true),
    );
    v.push(t);
    v
}

/// Check arguments against an action's argument table: required present, no unknown names,
/// types right (content-type lists may also be one comma-separated string).
pub fn check_arguments(kind: ActionKind, args: &JsonObject) -> Result<(), String> {
    args::check_shapes(kind, args)
}

impl McpServer {
    /// A server over a runner (shared with other sessions).
    pub fn new(runner: Arc<Runner>) -> Self {
        Self { runner }
    }

    /// Run one tool call: protocol errors for unknown tools and malformed arguments; a result
    /// (with `isError` when the action could not run) for everything else.
    pub async fn call(&self, name: &str, args: JsonObject) -> Result<CallToolResult, McpError> {
        let tools = tools();
        let Some(tool) = tools.iter().find(|t| t.name == name) else {
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool `{name}`; this server has: {}",
                    names.join(", ")
                ),
                None,
            ));
        };
        let kind = ActionKind::parse(&tool.name)
            .map_err(|e| McpError::invalid_params(e.to_string(), None))?;
        check_arguments(kind, &args).map_err(|m| McpError::invalid_params(m, None))?;
        let result = match input::parse_request(&Value::Object(args), Some(kind)) {
            Ok(req) => self.runner.run(req).await,
            Err(rej) => self.runner.rejected(*rej),
        };
        let value = serde_json::to_value(&result).map_err(|e| {
            McpError::internal_error(format!("cannot encode the result: {e}"), None)
        })?;
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        let mut r = if result.status == Status::Failed {
            CallToolResult::error(vec![ContentBlock::text(text)])
        } else {
            CallToolResult::success(vec![ContentBlock::text(text)])
        };
        r.structured_content = Some(value);
        Ok(r)
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("o365mgmt", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Office 365 Management Activity API for one Microsoft 365 tenant: ping to check the connection, start/stop/list audit-log content subscriptions, list available content. Every call needs case_id and alert_group_identifiers (may be empty). Results follow the SOAR integration's result object: status, result_value, output_message, json_result.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        // `None` keeps rmcp from judging arguments itself: `call` gives clearer messages.
        let _ = name;
        None
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        self.call(&request.name, args).await.map(Into::into)
    }
}

/// Serve over stdin/stdout until the client closes the stream.
pub async fn serve_stdio(runner: Arc<Runner>) -> Result<(), ServeError> {
    let service = McpServer::new(runner)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| ServeError::Mcp(e.to_string()))?;
    service
        .waiting()
        .await
        .map_err(|e| ServeError::Mcp(e.to_string()))?;
    Ok(())
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

impl HttpServer {
    /// Bind: loopback without a token is allowed; anything else needs one.
    pub async fn bind(
        runner: Arc<Runner>,
        addr: SocketAddr,
        token: Option<String>,
    ) -> Result<Self, ServeError> {
        use rmcp::transport::streamable_http_server::{
            session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
        };
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(ServeError::NeedsToken(addr));
        }
        let mut config = StreamableHttpServerConfig::default();
        if !addr.ip().is_loopback() {
            // The bearer token guards the server; Host checks would only refuse real names.
            config = config.disable_allowed_hosts();
        }
        let service = StreamableHttpService::new(
            move || Ok(McpServer::new(runner.clone())),
            LocalSessionManager::default().into(),
            config,
        );
        let mut app = axum::Router::new().nest_service("/mcp", service);
        if let Some(t) = token {
            let expected: Arc<str> = format!("Bearer {t}").into();
            app = app.layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let expected = expected.clone();
                    async move {
                        let ok = req
                            .headers()
                            .get(axum::http::header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .is_some_and(|v| constant_time_eq(v.as_bytes(), expected.as_bytes()));
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
            ));
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
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| ServeError::Mcp(e.to_string()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => m,
            _ => JsonObject::new(),
        }
    }

    #[test]
    fn tools_keep_the_integration_names_and_arguments() {
        let t = tools();
        let names: Vec<&str> = t.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "office365_management_api_ping",
                "office365_management_api_start_subscription",
                "office365_management_api_stop_subscription",
                "office365_management_api_list_subscriptions",
                "office365_management_api_list_content"
            ]
        );
        let start = &t[1];
        assert_eq!(
            start.input_schema["required"],
            json!([
                "case_id",
                "alert_group_identifiers",
                "start_a_subscription_for"
            ])
        );
        assert_eq!(
            start.input_schema["properties"]["scope"]["default"],
            "All entities"
        );
        assert!(t[2].annotations.as_ref().unwrap().is_destructive());
        assert!(t[2].description.as_ref().unwrap().contains("lost for good"));
    }

    #[test]
    fn argument_checks() {
        let t = ActionKind::StartSubscription;
        let args = |v: Value| obj(v);
        assert!(check_arguments(t, &args(json!({"case_id": "1", "alert_group_identifiers": [], "start_a_subscription_for": ["DLP.All"]}))).is_ok());
        assert!(check_arguments(t, &args(json!({"case_id": "1", "alert_group_identifiers": [], "start_a_subscription_for": "DLP.All,Audit.General"}))).is_ok());
        let e = check_arguments(
            t,
            &args(json!({"case_id": "1", "alert_group_identifiers": []})),
        )
        .unwrap_err();
        assert!(
            e.contains("missing required argument `start_a_subscription_for`"),
            "{e}"
        );
        let e = check_arguments(t, &args(json!({"case_id": 1, "alert_group_identifiers": [], "start_a_subscription_for": []}))).unwrap_err();
        assert!(e.contains("`case_id` must be a string, got number"), "{e}");
        let e = check_arguments(t, &args(json!({"case_id": "1", "alert_group_identifiers": [3], "start_a_subscription_for": []}))).unwrap_err();
        assert!(e.contains("an array of strings"), "{e}");
        let e = check_arguments(t, &args(json!({"case_id": "1", "alert_group_identifiers": [], "start_a_subscription_for": [], "extra": 1}))).unwrap_err();
        assert!(e.contains("unknown argument `extra`"), "{e}");
    }
}
