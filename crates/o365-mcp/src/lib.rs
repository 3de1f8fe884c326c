//! MCP server for the integration: the existing integration's tools
//! (`office365_management_api_ping`, `..._start_subscription`, `..._stop_subscription`) with the
//! same names and arguments, plus `..._list_subscriptions` and `..._list_content`, over stdio or
//! streamable HTTP. Every tool calls the same [`o365_actions::Runner`] as the CLI.
//!
//! ```no_run
//! # async fn run(runner: o365_actions::Runner) -> Result<(), o365_mcp::ServeError> {
//! o365_mcp::serve_stdio(o365_mcp::McpServer::new(std::sync::Arc::new(runner))).await
//! # }
//! ```

use std::net::SocketAddr;

pub mod alerts;
mod confirm;
mod http;
mod output;
mod prompts;
mod resources;
mod server;
mod stdio;
mod tools;

pub use alerts::{AlertQuery, AlertsReader};
pub use http::{require_token, router, HttpServer, MAX_BODY, MAX_SESSIONS};
pub use resources::CollectStatus;
pub use server::McpServer;
pub use stdio::{serve_guarded, serve_stdio, MAX_LINE};
pub use tools::{check_arguments, tools, tools_for};

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
