//! Read-only commands: `gaps`, `journal`, `config show`. They never write: the state is opened
//! read-only, and a missing state file means nothing was recorded yet.

use anyhow::Context as _;
use std::process::ExitCode;

use o365_actions::result::GapReport;

use crate::cli::{Global, Output};
use crate::render;
use crate::setup::{output_format, read_store, settings, state_path};
use crate::term::out;

/// `o365mgmt gaps`.
pub fn gaps(g: &Global, svg: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    if let Some(path) = svg {
        std::fs::write(path, crate::status::cmd::svg(g)?)
            .with_context(|| format!("--svg {}", path.display()))?;
    }
    let s = settings(g)?;
    let now = chrono::Utc::now();
    let gaps: Vec<GapReport> = match read_store(&s)? {
        Some(store) => {
            let tenant = o365_actions::ledger_key(&s, Some(&store));
            store
                .gaps(tenant.as_deref())?
                .iter()
                .map(|g| GapReport::from_gap(g, now))
                .collect()
        }
        None => vec![],
    };
    match output_format(g) {
        Output::Json => out(&format!("{}\n", serde_json::to_string_pretty(&gaps)?)),
        Output::Text => out(&render::gaps_text(&gaps)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `o365mgmt journal`.
pub fn journal(g: &Global, limit: usize) -> anyhow::Result<ExitCode> {
    let s = settings(g)?;
    // With --tenant, only that tenant's actions; otherwise every action recorded.
    let tenant = g
        .tenant
        .as_ref()
        .and(s.tenant_id.as_ref())
        .map(|t| t.value.clone());
    let rows = match read_store(&s)? {
        Some(store) => store.journal(tenant.as_deref(), limit)?,
        None => vec![],
    };
    match output_format(g) {
        Output::Json => out(&format!("{}\n", serde_json::to_string_pretty(&rows)?)),
        Output::Text => out(&render::journal_text(&rows)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `o365mgmt config show`.
pub fn config(g: &Global) -> anyhow::Result<ExitCode> {
    let s = settings(g)?;
    let rows = s.show();
    let state = state_path(&s);
    match output_format(g) {
        Output::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "settings": rows,
                "state_path": state,
                "warnings": s.warnings,
            }))?
        )),
        Output::Text => {
            let mut t = String::new();
            for r in &rows {
                t.push_str(&format!(
                    "{:<22} {:<48} {}\n",
                    r.key,
                    r.value.as_deref().unwrap_or("(unset)"),
                    r.source
                ));
            }
            t.push_str(&format!(
                "{:<22} {:<48} {}\n",
                "state (in use)",
                state.display(),
                "-"
            ));
            for w in &s.warnings {
                t.push_str(&format!("warning: {w}\n"));
            }
            out(&t);
        }
    }
    Ok(ExitCode::SUCCESS)
}
