//! From flags to what commands need: output format, settings, state, case context.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;

use o365_actions::config::{self, ConfigError, Settings, Source};
use o365_actions::input::{CaseContext, InputError, TargetEntity};
use o365_store::Store;

use crate::cli::{Global, Output};

/// Text on a terminal, JSON otherwise, unless `--output` says.
pub fn output_format(g: &Global) -> Output {
    g.output.unwrap_or(if std::io::stdout().is_terminal() {
        Output::Text
    } else {
        Output::Json
    })
}

/// The configuration: files and environment, then flags on top.
pub fn settings(g: &Global) -> Result<Settings, ConfigError> {
    loader(g)?.resolve()
}

/// Every configured tenant.
pub fn fleet(g: &Global) -> Result<config::Fleet, ConfigError> {
    loader(g)?.resolve_all()
}

/// Files, environment and flags, with the tenant asked for.
pub fn loader(g: &Global) -> Result<config::Loader, ConfigError> {
    let mut l = Settings::loader(g.config.as_deref(), g.soar_config.as_deref())?;
    // An exported connector configuration also holds the connectors' parameters: `alerts`
    // reads them; no command warns about them.
    l.claim_soar(o365_connectors::params::is_soar_name);
    for (k, v) in &g.settings.0 {
        l.set(k.name, v.clone(), Source::Flag(k.flag));
    }
    if let Some(t) = &g.tenant {
        l.select(t);
    }
    Ok(l)
}

/// The state file in use.
pub fn state_path(s: &Settings) -> PathBuf {
    s.state
        .as_ref()
        .map(|p| p.value.clone())
        .unwrap_or_else(config::default_state_path)
}

/// Open the state for reading and writing (created if missing).
pub fn open_store(s: &Settings) -> Result<Arc<Store>, o365_store::StoreError> {
    let p = state_path(s);
    if p.as_os_str() == ":memory:" {
        Store::in_memory().map(Arc::new)
    } else {
        Store::open(&p).map(Arc::new)
    }
}

/// Open the state for reading only; `None` when nothing was ever recorded.
pub fn read_store(s: &Settings) -> Result<Option<Store>, o365_store::StoreError> {
    let p = state_path(s);
    if p.as_os_str() == ":memory:" {
        return Ok(None);
    }
    Store::open_read_only(&p)
}

/// The case context from the flags (`case_id` defaults to `manual` on the CLI).
pub fn context(g: &Global) -> Result<CaseContext, InputError> {
    let mut c = CaseContext::manual();
    if let Some(id) = &g.case_id {
        c.case_id = id.clone();
    }
    c.alert_group_identifiers = g.alert_groups.clone();
    if let Some(s) = &g.scope {
        c.scope = s.clone();
    }
    for t in &g.target_entities {
        match t.rsplit_once(':') {
            Some((id, ty)) if !id.trim().is_empty() && !ty.trim().is_empty() => {
                c.target_entities.push(TargetEntity {
                    identifier: id.trim().into(),
                    entity_type: ty.trim().into(),
                })
            }
            _ => {
                return Err(InputError::new(
                    "--target-entity",
                    Some(format!("{t:?}")),
                    "expected IDENTIFIER:TYPE, e.g. bob@contoso.com:USERUNIQNAME",
                ))
            }
        }
    }
    c.check_sizes()?;
    Ok(c)
}
