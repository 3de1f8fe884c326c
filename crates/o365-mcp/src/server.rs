//! The server: one handler for every session, calling the same runner as the CLI.

use std::sync::Arc;

use o365_actions::input::{self, ActionKind};
use o365_actions::result::Status;
use o365_actions::Runner;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;

use crate::tools::{check_arguments, tools};

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
