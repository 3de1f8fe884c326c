//! The connectors' parameters from every layer: an exported connector configuration
//! (`--soar-config`), the config file's `[alerts]` table, then the flags.

use anyhow::anyhow;
use o365_actions::config::Loader;
use o365_connectors::params::{self, Resolved, Values, Which};

use crate::cli::{AlertsArgs, Connector};

/// Everything `alerts` takes from the configuration besides the connection.
#[derive(Debug)]
pub struct AlertSettings {
    /// Both connectors' parameters and the cap.
    pub params: Resolved,
    /// Where alerts are delivered.
    pub sink: String,
    /// First-run look-back from the export (`Fetch Max Hours Backwards`), unless `--since`.
    pub since: Option<chrono::Duration>,
}

/// Which connectors `--connector` asks for.
pub fn which(a: &AlertsArgs) -> Which {
    match a.connector {
        Some(Connector::Dlp) => Which::Dlp,
        Some(Connector::AuditGeneral) => Which::Audit,
        None => Which::Both,
    }
}

/// The layers, resolved; a bad value is named with where it came from (exit 2).
pub fn resolve(l: &mut Loader, a: &AlertsArgs) -> anyhow::Result<AlertSettings> {
    let mut v = Values::default();
    let soar = l.claim_soar(params::is_soar_name);
    if !soar.is_empty() {
        v.soar(&soar, which(a), "--soar-config")?;
    }
    for n in &v.notes {
        tracing::info!("{n}");
    }
    let mut sink = None;
    if let Some((table, path)) = l.section("alerts") {
        let origin = format!("[alerts] in {}", path.display());
        let mut t = table.clone();
        if let Some(s) = t.remove("sink") {
            match s.as_str() {
                Some(s) => sink = Some(s.to_string()),
                None => return Err(anyhow!("{origin}: sink = {s}: give text such as \"jsonl:/var/lib/o365mgmt/alerts-out.jsonl\"")),
            }
        }
        v.toml(&t, &origin)?;
    }
    let flags = [
        (
            "max_events_to_fetch",
            &a.max_events_to_fetch,
            "--max-events-to-fetch",
        ),
        ("mask_findings", &a.mask_findings, "--mask-findings"),
        (
            "dlp_operation_filter",
            &a.dlp_operation_filter,
            "--dlp-operation-filter",
        ),
        (
            "dlp_policy_filter",
            &a.dlp_policy_filter,
            "--dlp-policy-filter",
        ),
        (
            "audit_operation_filter",
            &a.audit_operation_filter,
            "--audit-operation-filter",
        ),
        (
            "audit_status_filter",
            &a.audit_status_filter,
            "--audit-status-filter",
        ),
        (
            "audit_filters_as_whitelist",
            &a.audit_filters_as_whitelist,
            "--audit-filters-as-whitelist",
        ),
        ("entity_keys", &a.entity_keys, "--entity-keys"),
        ("event_class_id", &a.event_class_id, "--event-class-id"),
        (
            "environment_field",
            &a.environment_field,
            "--environment-field",
        ),
        (
            "environment_regex",
            &a.environment_regex,
            "--environment-regex",
        ),
        (
            "default_environment",
            &a.default_environment,
            "--default-environment",
        ),
    ];
    for (key, value, flag) in flags {
        if let Some(value) = value {
            v.set(key, value, flag)?;
        }
    }
    Ok(AlertSettings {
        params: v.resolve()?,
        sink: a.sink.clone().or(sink).unwrap_or_else(|| "stdout".into()),
        since: v.since,
    })
}
