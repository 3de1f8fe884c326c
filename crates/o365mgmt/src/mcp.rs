//! `o365mgmt mcp`: the actions as MCP tools, over stdio or streamable HTTP.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use o365_actions::Runner;

use crate::cli::Global;
use crate::setup::{fleet, open_store};
use crate::{out, shutdown_signal, warn};

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
                crate::collect::status_json(&for_status, sink.as_deref())
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
    if let Some(c) = t.chars().find(|c| !c.is_ascii_graphic()) {
        anyhow::bail!(
            "--auth-token-file {}: the token holds {c:?}, which an HTTP header cannot carry (so it could never match): use printable ASCII only (e.g. `openssl rand -hex 32 > {}`)",
            p.display(),
            p.display()
        );
    }
    if t.len() < 16 {
        anyhow::bail!("--auth-token-file {}: the token must be at least 16 characters (e.g. `openssl rand -hex 32 > {}`)", p.display(), p.display());
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_an_http_header_cannot_carry_is_refused_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        for bad in ["tökenabcdefghijklmnop", "two words abcdefghijklmnop"] {
            std::fs::write(&p, bad).unwrap();
            let e = read_token(&p).unwrap_err().to_string();
            assert!(
                e.contains("printable ASCII") && e.contains("--auth-token-file"),
                "{e}"
            );
        }
        std::fs::write(&p, "0123456789abcdef0123\n").unwrap();
        assert_eq!(read_token(&p).unwrap(), "0123456789abcdef0123");
    }
}
