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
use serde_json::{json, Value};

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

fn obj(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}

fn context_properties() -> serde_json::Map<String, Value> {
    obj(json!({
        "case_id": {"type": "string", "description": "Id of the case this action runs for (required, non-empty); echoed in the result and written to the action journal."},
        "alert_group_identifiers": {"type": "array", "items": {"type": "string"}, "description": "Alert group identifiers of the case (may be empty)."},
        "target_entities": {
            "type": "array",
            "default": [],
            "description": "Entities of the case; when non-empty they are used and scope is ignored.",
            "items": {
                "type": "object",
                "properties": {"Identifier": {"type": "string"}, "EntityType": {"type": "string"}},
                "required": ["Identifier", "EntityType"]
            }
        },
        "scope": {"type": "string", "default": "All entities", "description": "Entity scope of the case, e.g. All entities, Suspicious entities."}
    }))
}

const TYPES_HELP: &str = "Content types: Audit.AzureActiveDirectory, Audit.Exchange, Audit.SharePoint, Audit.General, DLP.All (case-insensitive; a single comma-separated string is accepted too).";

fn schema(extra: Value, required_extra: &[&str]) -> JsonObject {
    let mut props = context_properties();
    props.extend(obj(extra));
    let mut required = vec!["case_id", "alert_group_identifiers"];
    required.extend_from_slice(required_extra);
    obj(json!({"type": "object", "properties": props, "required": required}))
}

/// The tool definitions.
pub fn tools() -> Vec<Tool> {
    let ann = |title: &str| ToolAnnotations::with_title(title).open_world(true);
    let mut v = Vec::new();
    let mut t = Tool::new(
        ActionKind::Ping.tool_name(),
        "Test connectivity to the Office 365 Management Activity API: gets a token AND lists subscriptions, so success means the other tools will work. On failure the result names the cause (wrong secret, secret ID pasted instead of the value, app not in tenant, unknown tenant, missing ActivityFeed.Read permission, auditing off, wrong cloud, unreachable host) and the fix.",
        schema(json!({}), &[]),
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
        schema(
            json!({"start_a_subscription_for": {"type": "array", "items": {"type": "string"}, "description": format!("Content types to start. {TYPES_HELP}")}}),
            &["start_a_subscription_for"],
        ),
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
        schema(
            json!({"stop_a_subscription_for": {"type": "array", "items": {"type": "string"}, "description": format!("Content types to stop. {TYPES_HELP}")}}),
            &["stop_a_subscription_for"],
        ),
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
        schema(json!({}), &[]),
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
        schema(
            json!({
                "content_type": {"type": "string", "description": "One content type, e.g. Audit.General."},
                "start_time": {"type": "string", "description": "Window start, UTC (RFC 3339 or YYYY-MM-DDTHH:MM:SS). Optional."},
                "end_time": {"type": "string", "description": "Window end (exclusive), UTC. Optional; default now."}
            }),
            &["content_type"],
        ),
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

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Check arguments against a tool's schema: required present, no unknown names, types right.
/// (Content-type lists may also be one comma-separated string.)
pub fn check_arguments(tool: &Tool, args: &JsonObject) -> Result<(), String> {
    let props = tool
        .input_schema
        .get("properties")
        .and_then(|p| p.as_object());
    let required = tool.input_schema.get("required").and_then(|r| r.as_array());
    let names: Vec<&str> = props
        .map(|p| p.keys().map(|k| k.as_str()).collect())
        .unwrap_or_default();
    for r in required.into_iter().flatten().filter_map(|r| r.as_str()) {
        if !args.contains_key(r) {
            return Err(format!(
                "missing required argument `{r}`; {} takes: {}",
                tool.name,
                names.join(", ")
            ));
        }
    }
    for (k, v) in args {
        let Some(spec) = props.and_then(|p| p.get(k)) else {
            return Err(format!(
                "unknown argument `{k}`; {} takes: {}",
                tool.name,
                names.join(", ")
            ));
        };
        let want = spec["type"].as_str().unwrap_or("");
        let lenient_list = k.ends_with("_subscription_for") && v.is_string();
        let ok = match (want, v) {
            (_, Value::Null) => !required.into_iter().flatten().any(|r| r == k),
            ("string", Value::String(_)) => true,
            ("array", Value::Array(items)) => {
                let item_type = spec["items"]["type"].as_str().unwrap_or("");
                items.iter().all(|i| type_name(i) == item_type)
            }
            _ => lenient_list,
        };
        if !ok {
            let expected = if want == "array" {
                format!(
                    "an array of {}s",
                    spec["items"]["type"].as_str().unwrap_or("value")
                )
            } else {
                format!("a {want}")
            };
            return Err(format!(
                "argument `{k}` must be {expected}, got {}: {v}",
                type_name(v)
            ));
        }
    }
    Ok(())
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
        check_arguments(tool, &args).map_err(|m| McpError::invalid_params(m, None))?;
        let kind =
            ActionKind::parse(name).map_err(|e| McpError::invalid_params(e.to_string(), None))?;
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
        let t = &tools()[1];
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
