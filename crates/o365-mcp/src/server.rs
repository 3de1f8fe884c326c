//! The server: one handler per session, calling the same runner as the CLI; tools, resources
//! (with subscriptions), prompts with completions, log messages, and a confirmation before a
//! stop when the client can ask its user.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use o365_actions::input::{self, ActionKind};
use o365_actions::result::Status;
use o365_actions::{Progress, Runner};
#[allow(deprecated)]
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    CompletionInfo, ContentBlock, GetPromptRequestParams, GetPromptResponse, Implementation,
    InitializeResult, JsonObject, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, LoggingLevel, LoggingMessageNotificationParam,
    PaginatedRequestParams, ProgressNotificationParam, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Reference, ResourceUpdatedNotificationParam,
    ServerCapabilities, ServerConfig, SetLevelRequestParams, SubscribeRequestParams, Tool,
    UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, Peer, RoleServer, ServerHandler};
use serde_json::Value;

use crate::alerts::AlertsReader;
use crate::resources::{self, CollectStatus};
use crate::tools::check_arguments;
use crate::{confirm, prompts};

/// One tenant the server acts for: its runner and, when known, its collection status.
#[derive(Clone)]
pub(crate) struct Tenant {
    pub(crate) runner: Arc<Runner>,
    pub(crate) status: Option<CollectStatus>,
}

/// The MCP server: tools over one integration instance per tenant (the first is the default).
#[derive(Clone)]
pub struct McpServer {
    tenants: Arc<Vec<Tenant>>,
    /// Where the connectors' alerts are read, when this server knows.
    alerts: Option<AlertsReader>,
    /// This session's subscribed resource URIs.
    subscribed: Arc<Mutex<BTreeSet<String>>>,
    /// This session's log level (`None`: no log messages until the client sets one).
    #[allow(deprecated)]
    level: Arc<Mutex<Option<LoggingLevel>>>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer").finish_non_exhaustive()
    }
}

impl McpServer {
    /// A server over one tenant's runner (shared with other sessions).
    pub fn new(runner: Arc<Runner>) -> Self {
        Self::with_tenants(vec![(runner, None)])
    }

    /// A server over several tenants, each with its collection status when known; the first is
    /// the default (tools take an optional `tenant` argument naming one).
    pub fn with_tenants(tenants: Vec<(Arc<Runner>, Option<CollectStatus>)>) -> Self {
        Self {
            tenants: Arc::new(
                tenants
                    .into_iter()
                    .map(|(runner, status)| Tenant { runner, status })
                    .collect(),
            ),
            alerts: None,
            subscribed: Default::default(),
            level: Default::default(),
        }
    }

    /// The same server, also listing the connectors' alerts read with `reader` (the tool
    /// `office365_management_api_list_alerts` and the resources `o365://{tenant}/alerts`).
    pub fn with_alerts(mut self, reader: AlertsReader) -> Self {
        self.alerts = Some(reader);
        self
    }

    /// The default tenant's runner.
    pub fn runner(&self) -> &Arc<Runner> {
        &self.tenants[0].runner
    }

    /// The same server for a new session: its own subscriptions and log level.
    pub fn session(&self) -> Self {
        Self {
            tenants: self.tenants.clone(),
            alerts: self.alerts.clone(),
            subscribed: Default::default(),
            level: Default::default(),
        }
    }

    /// The tenants' names, the default first.
    fn names(&self) -> Vec<String> {
        self.tenants
            .iter()
            .map(|t| resources::tenant_name(&t.runner))
            .collect()
    }

    /// The tenant an optional `tenant` argument names (default: the first).
    fn tenant(&self, name: Option<&str>) -> Result<&Tenant, McpError> {
        match name {
            None => Ok(&self.tenants[0]),
            Some(n) => self
                .tenants
                .iter()
                .find(|t| resources::tenant_name(&t.runner) == n)
                .ok_or_else(|| {
                    McpError::invalid_params(
                        format!(
                            "tenant {n:?} is not configured here; allowed: {}",
                            self.names().join(", ")
                        ),
                        None,
                    )
                }),
        }
    }

    /// Run one tool call: protocol errors for unknown tools and malformed arguments; a result
    /// (with `isError` when the action could not run) for everything else. With a `peer` that
    /// can ask its user, a stop is confirmed first.
    pub async fn call(
        &self,
        name: &str,
        mut args: JsonObject,
        peer: Option<&Peer<RoleServer>>,
        progress: Option<Progress>,
    ) -> Result<CallToolResult, McpError> {
        let tenant = match args.remove("tenant") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t),
            Some(other) => {
                return Err(McpError::invalid_params(
                    format!("argument `tenant` must be a string, got {other}"),
                    None,
                ))
            }
        };
        let runner = &self.tenant(tenant.as_deref())?.runner;
        if let (crate::alerts::TOOL, Some(reader)) = (name, &self.alerts) {
            return crate::alerts::call(reader, &resources::tenant_name(runner), &args);
        }
        let Some(kind) = crate::tools::action_of(name) else {
            let names = crate::tools::tool_names();
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool `{name}`; this server has: {}",
                    names.join(", ")
                ),
                None,
            ));
        };
        check_arguments(kind, &args).map_err(|m| McpError::invalid_params(m, None))?;
        let result = match input::parse_request(&Value::Object(args), Some(kind)) {
            Ok(req) => match (kind, peer) {
                (ActionKind::StopSubscription, Some(peer)) => {
                    match confirm::stop(peer, runner, &req).await {
                        Ok(()) => runner.run(req).await,
                        Err(declined) => declined,
                    }
                }
                _ => runner.run_with_progress(req, progress).await,
            },
            Err(rej) => runner.rejected(*rej),
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

    /// After a tool call: log it at the client's level, and tell subscribers what changed.
    #[allow(deprecated)]
    async fn after_call(
        &self,
        peer: &Peer<RoleServer>,
        tool: &str,
        tenant: Option<&str>,
        r: &CallToolResult,
    ) {
        let level = self.level.lock().ok().and_then(|l| *l);
        if let Some(min) = level {
            let (at, text) = match &r.structured_content {
                Some(v) => (
                    if r.is_error == Some(true) {
                        LoggingLevel::Error
                    } else {
                        LoggingLevel::Info
                    },
                    format!(
                        "{}: {}",
                        v["action"].as_str().unwrap_or(tool),
                        v["output_message"].as_str().unwrap_or("")
                    ),
                ),
                None => (LoggingLevel::Info, tool.to_string()),
            };
            if rank(&at) >= rank(&min) {
                let mut p = LoggingMessageNotificationParam::new(at, Value::String(text));
                p.logger = Some("o365mgmt".into());
                let _ = peer.notify_logging_message(p).await;
            }
        }
        let subscribed = self
            .subscribed
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let (Ok(t), Some(kind)) = (self.tenant(tenant), crate::tools::action_of(tool)) else {
            return;
        };
        for uri in resources::changed_by(&t.runner, kind) {
            if subscribed.contains(&uri) {
                let _ = peer
                    .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                    .await;
            }
        }
    }
}

/// Severity order of log levels (debug lowest).
#[allow(deprecated)]
fn rank(l: &LoggingLevel) -> u8 {
    match l {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

#[allow(deprecated)]
impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_prompts()
                .enable_completions()
                .enable_logging()
                .build(),
        )
        .with_server_info(Implementation::new("o365mgmt", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Office 365 Management Activity API for one Microsoft 365 tenant: ping to check the connection, start/stop/list audit-log content subscriptions, list available content. Every call needs case_id and alert_group_identifiers (may be empty). Results follow the SOAR integration's result object: status, result_value, output_message, json_result. Resources: o365://tenants and o365://{tenant}/subscriptions, /gaps, /journal, /collect/status, /alerts. office365_management_api_list_alerts (when listed) reads the SOAR alerts the connectors made. Stopping a subscription loses the content of the stopped time for good: the server asks the user first when the client supports it.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let mut tools = crate::tools::tools_for(&self.names());
        if self.alerts.is_some() {
            let mut t = crate::alerts::tool();
            crate::tools::add_tenant_argument(&mut t, &self.names());
            tools.push(t);
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        // `None` keeps rmcp from judging arguments itself: `call` gives clearer messages.
        let _ = name;
        None
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        let name = request.name.to_string();
        let tenant = args
            .get("tenant")
            .and_then(|t| t.as_str())
            .map(String::from);
        let token = request
            .meta
            .as_ref()
            .and_then(|m| m.get_progress_token())
            .or_else(|| context.meta.get_progress_token());
        // Progress goes out in order, and all of it before the result.
        let (progress, forwarding) = match token {
            None => (None, None),
            Some(tok) => {
                let (tx, mut rx) =
                    tokio::sync::mpsc::unbounded_channel::<(u64, Option<u64>, String)>();
                let peer = context.peer.clone();
                let task = tokio::spawn(async move {
                    while let Some((done, total, message)) = rx.recv().await {
                        let mut p = ProgressNotificationParam::new(tok.clone(), done as f64);
                        p.total = total.map(|t| t as f64);
                        p.message = Some(message);
                        let _ = peer.notify_progress(p).await;
                    }
                });
                let f: Progress = Arc::new(move |done, total, message| {
                    let _ = tx.send((done, total, message));
                });
                (Some(f), Some(task))
            }
        };
        let r = tokio::select! {
            r = self.call(&name, args, Some(&context.peer), progress) => r,
            _ = context.ct.cancelled() => Err(McpError::internal_error("cancelled by the client", None)),
        };
        if let Some(task) = forwarding {
            let _ = task.await;
        }
        let r = r?;
        self.after_call(&context.peer, &name, tenant.as_deref(), &r)
            .await;
        Ok(r.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(resources::list(
            &self.tenants,
        )))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let c = resources::read(&self.tenants, self.alerts.as_ref(), &request.uri).await?;
        Ok(ReadResourceResult::new(vec![c]).into())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let known = resources::list(&self.tenants)
            .iter()
            .any(|r| r.uri == request.uri);
        if !known {
            return Err(McpError::resource_not_found(
                format!("no resource {} to subscribe to", request.uri),
                None,
            ));
        }
        if let Ok(mut s) = self.subscribed.lock() {
            s.insert(request.uri);
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Ok(mut s) = self.subscribed.lock() {
            s.remove(&request.uri);
        }
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        Ok(prompts::get(&request.name, &request.arguments, &self.names())?.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let names = self.names();
        let values = match &request.r#ref {
            Reference::Prompt(_) | Reference::Resource(_) => {
                prompts::complete(&request.argument.name, &request.argument.value, &names)
            }
            #[allow(unreachable_patterns)]
            _ => vec![],
        };
        let info = CompletionInfo::with_all_values(values)
            .map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Ok(mut l) = self.level.lock() {
            *l = Some(request.level);
        }
        Ok(())
    }
}
