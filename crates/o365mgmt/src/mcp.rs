//! `o365mgmt mcp`: the actions as MCP tools, over stdio or streamable HTTP.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use o365_actions::Runner;

use crate::cli::Global;
use crate::setup::{fleet, open_store};
use crate::term::{out, shutdown_signal, warn};

/// Serve until the client closes stdio, or until SIGINT/SIGTERM over HTTP.
pub async fn run(
    g: &Global,
    http: Option<SocketAddr>,
    token_file: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let server = server(g, None)?;
    let runner = server.runner();
    for w in &runner.settings().warnings {
        warn(w);
    }
    if let Err(e) = runner.client() {
        warn(&format!(
            "every tool call will fail until the configuration is fixed: {e}"
        ));
    }
    let Some(addr) = http else {
        o365_mcp::serve_stdio(server).await?;
        return Ok(ExitCode::SUCCESS);
    };
    let token = match token_file {
        Some(p) => Some(crate::token_file::read_token(p)?),
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

/// The MCP server over every configured tenant (the one chosen with `--tenant` first: the
/// default), each with its collection status read from `sink` (default: the default SQLite sink).
pub fn server(g: &Global, sink: Option<String>) -> anyhow::Result<o365_mcp::McpServer> {
    let mut tenants = fleet(g)?.tenants;
    if let Some(pos) = g
        .tenant
        .as_ref()
        .and_then(|t| tenants.iter().position(|s| &s.name == t))
    {
        tenants.swap(0, pos);
    }
    let first = tenants.first().context("no tenant is configured")?;
    let store = open_store(first)?;
    let alerts = crate::alerts::reader(&tenants);
    let tenants = tenants
        .into_iter()
        .map(|s| {
            let for_status = s.clone();
            let sink = sink.clone();
            let status: o365_mcp::CollectStatus = Arc::new(move || {
                crate::progress::status_json(&for_status, sink.as_deref())
                    .map_err(|e| format!("{e:#}"))
            });
            (
                Arc::new(Runner::new(s, Some(store.clone()), "mcp")),
                Some(status),
            )
        })
        .collect();
    Ok(o365_mcp::McpServer::with_tenants(tenants).with_alerts(alerts))
}
