//! `o365mgmt mcp`: the actions as MCP tools, over stdio or streamable HTTP.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use o365_actions::Runner;

use crate::cli::Global;
use crate::setup::{open_store, settings};
use crate::{out, shutdown_signal, warn};

/// Serve until the client closes stdio, or until SIGINT/SIGTERM over HTTP.
pub async fn run(
    g: &Global,
    http: Option<SocketAddr>,
    token_file: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let s = settings(g)?;
    for w in &s.warnings {
        warn(w);
    }
    let store = open_store(&s)?;
    let server = server(s, store, None);
    if let Err(e) = server.runner().client() {
        warn(&format!(
            "every tool call will fail until the configuration is fixed: {e}"
        ));
    }
    let Some(addr) = http else {
        o365_mcp::serve_stdio(server).await?;
        return Ok(ExitCode::SUCCESS);
    };
    let token = match token_file {
        Some(p) => Some(read_token(p)?),
        None => None,
    };
    let server = o365_mcp::HttpServer::bind(server, addr, token).await?;
    out(&format!(
        "{}\n",
        serde_json::json!({"mcp_url": server.url()})
    ));
    server.serve(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// The MCP server over one tenant's settings, its collection status read from `sink` (default:
/// the default SQLite sink).
pub fn server(
    s: o365_actions::config::Settings,
    store: Arc<o365_store::Store>,
    sink: Option<String>,
) -> o365_mcp::McpServer {
    let for_status = s.clone();
    let runner = Arc::new(Runner::new(s, Some(store), "mcp"));
    o365_mcp::McpServer::new(runner).with_collect_status(Arc::new(move || {
        crate::collect::status_json(&for_status, sink.as_deref()).map_err(|e| format!("{e:#}"))
    }))
}

/// A bearer token from a file: at least 16 characters; a warning when others can read it.
pub fn read_token(p: &std::path::Path) -> anyhow::Result<String> {
    let t = o365_api::limits::read_file_capped(p)
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .with_context(|| format!("cannot read --auth-token-file {}", p.display()))?;
    if let Some(mode) = o365_store::files::readable_by_others(p) {
        warn(&format!(
            "{} holds the bearer token and other users can read it (mode {mode:04o}): run `chmod 600 {}`",
            p.display(),
            p.display()
        ));
    }
    if t.len() < 16 {
        anyhow::bail!("--auth-token-file {}: the token must be at least 16 characters (e.g. `openssl rand -hex 32 > {}`)", p.display(), p.display());
    }
    Ok(t)
}
