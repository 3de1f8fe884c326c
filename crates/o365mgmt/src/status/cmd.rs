//! `o365mgmt status [--serve ADDR]` and the SVG of `gaps --svg`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};

use super::model::{build, Live};
use super::routes::{self, Source};
use crate::cli::{Global, StatusArgs};
use crate::setup::fleet;
use crate::term::{out, shutdown_signal};

/// The tenants to show: the one chosen with `--tenant`, else every configured one.
fn tenants(g: &Global) -> anyhow::Result<Vec<(o365_actions::config::Settings, Live)>> {
    let mut all = fleet(g)?.tenants;
    if let Some(t) = &g.tenant {
        all.retain(|s| &s.name == t);
    }
    if all.is_empty() {
        bail!("no tenant is configured: set tenant_id (or [[tenants]] in the config file)");
    }
    Ok(all.into_iter().map(|s| (s, Live::default())).collect())
}

/// Print the status, or serve the page.
pub async fn run(g: &Global, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let ts = tenants(g)?;
    let sink = args.sink.clone();
    let Some(addr) = args.serve else {
        let st = build(&ts, sink.as_deref())?;
        match crate::setup::output_format(g) {
            crate::cli::Output::Json => out(&format!("{}\n", serde_json::to_string_pretty(&st)?)),
            crate::cli::Output::Text => out(&text(&st)),
        }
        return Ok(ExitCode::SUCCESS);
    };
    let token = match &args.auth_token_file {
        Some(p) => Some(crate::token_file::read_token(p)?),
        None if !addr.ip().is_loopback() => bail!(
            "refusing to serve the status page on {addr} without authentication: give --auth-token-file FILE (a browser signs in at /login), or listen on 127.0.0.1"
        ),
        None => None,
    };
    let ts = Arc::new(ts);
    let src: Source = Arc::new(move || {
        let (ts, sink) = (ts.clone(), sink.clone());
        Box::pin(async move { build(&ts, sink.as_deref()) })
    });
    let mut app = routes::router(src);
    if let Some(t) = &token {
        app = super::auth::require_token(app, t);
    }
    let app = super::auth::hardened(app);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--serve {addr}"))?;
    let bound = listener.local_addr()?;
    out(&format!(
        "{}\n",
        serde_json::json!({"url": format!("http://{bound}/")})
    ));
    if token.is_none() {
        crate::term::note(&format!("status page at http://{bound}/ (loopback only)"));
    }
    o365_http::serve(listener, app, shutdown_signal(), Default::default()).await;
    Ok(ExitCode::SUCCESS)
}

/// The selected tenant's timeline, for `gaps --svg`.
pub fn svg(g: &Global) -> anyhow::Result<String> {
    let ts = tenants(g)?;
    let st = build(&ts[..1], None)?;
    Ok(super::timeline::svg(
        &super::timeline::Range::week(&st),
        &st.tenants[0],
        true,
    ))
}

/// The status as text: per tenant, a line per content type.
fn text(st: &super::model::Status) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} {} ({} tenant{}, updated at {})",
        st.verdict.sign(),
        st.verdict.word(),
        st.tenants.len(),
        if st.tenants.len() == 1 { "" } else { "s" },
        st.updated_at.format("%Y-%m-%d %H:%M UTC")
    );
    for v in &st.tenants {
        let _ = writeln!(
            t,
            "{} ({}): {} {}{}",
            v.name,
            v.tenant_id,
            v.verdict.sign(),
            v.verdict.word(),
            v.state
                .as_deref()
                .map(|s| format!(" (service: {s})"))
                .unwrap_or_default()
        );
        let _ = writeln!(t, "  collected into {}", v.sink);
        let _ = writeln!(
            t,
            "  {:<28} {:<15} {:<12} {:>10} {:>10}  gaps",
            "content type", "verdict", "subscribed", "events", "lag"
        );
        for l in &v.types {
            let lag = l
                .lag_seconds
                .map(o365_actions::human_seconds)
                .unwrap_or_else(|| "-".into());
            let gaps = l.gaps.iter().filter(|g| g.repaired.is_none()).count();
            let verdict = l.verdict.map_or("not collected", |v| v.word());
            let _ = writeln!(
                t,
                "  {:<28} {:<15} {:<12} {:>10} {:>10}  {}",
                l.content_type, verdict, l.subscription, l.events_written, lag, gaps
            );
        }
        if let Some(e) = &v.last_error {
            let _ = writeln!(t, "  last error: {e}");
        }
    }
    t
}
