//! `o365mgmt alerts`: the connectors' alerts from the effectively-once collector. Each record
//! of `DLP.All` / `Audit.General` seen for the first time becomes the alert its connector would
//! create (or none, when a filter drops it; a record that cannot make one is reported and
//! skipped), written as one JSON line to a file whose checkpoint makes every alert appear once.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::anyhow;
use o365_api::ContentType;
use o365_collect::sinks::jsonl::{JsonlSink, LineMap};
use o365_collect::sinks::BlobOut;
use o365_collect::SinkSpec;
use o365_connectors::filters::list;
use o365_connectors::{audit_general, dlp, AuditParams, DlpParams, EnvironmentRule};

use crate::cli::{AlertsArgs, CollectArgs, Global, Output};

/// Records to alerts, counting what happened.
#[derive(Debug)]
pub struct AlertMap {
    dlp: DlpParams,
    audit: AuditParams,
    /// Alerts written.
    pub alerts: AtomicU64,
    /// Records a filter dropped.
    pub filtered: AtomicU64,
    /// Records that could make no alert.
    pub skipped: AtomicU64,
}

impl LineMap for AlertMap {
    fn scheme(&self) -> &'static str {
        "alerts"
    }

    fn lines(&self, blob: &BlobOut, events: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut out = vec![];
        for raw in events {
            let record: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(
                raw,
            ) {
                Ok(r) => r,
                Err(e) => {
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(content_id = %blob.content_id, error = %e, "record skipped: not a JSON object");
                    continue;
                }
            };
            let made = match blob.content_type {
                ContentType::DlpAll => dlp::alert(&record, &self.dlp),
                ContentType::General => audit_general::alert(&record, &self.audit),
                _ => Ok(None),
            };
            match made {
                Ok(Some(a)) => match serde_json::to_vec(&a) {
                    Ok(line) => {
                        self.alerts.fetch_add(1, Ordering::Relaxed);
                        out.push(line);
                    }
                    Err(e) => tracing::warn!(error = %e, "alert not encoded"),
                },
                Ok(None) => {
                    self.filtered.fetch_add(1, Ordering::Relaxed);
                }
                Err(skip) => {
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(content_id = %blob.content_id, %skip, "record skipped: it makes no alert");
                }
            }
        }
        out
    }
}

/// The connectors' parameters from the flags; a bad pattern is named (exit 2).
fn map(a: &AlertsArgs) -> anyhow::Result<AlertMap> {
    let environment = EnvironmentRule::new(
        &a.environment_field,
        &a.environment_regex,
        &a.default_environment,
    )
    .map_err(|e| anyhow!("--environment-regex: {e}"))?;
    Ok(AlertMap {
        dlp: DlpParams {
            operation_filter: list(&a.dlp_operation_filter),
            policy_filter: list(&a.dlp_policy_filter),
            mask: a.mask_findings,
            platform_list: vec![],
            list_as_blacklist: false,
            environment: environment.clone(),
        },
        audit: AuditParams {
            operation_filter: list(&a.audit_operation_filter),
            status_filter: list(&a.audit_status_filter),
            whitelist: a.audit_filters_as_whitelist,
            entity_keys: list(&a.entity_keys),
            event_class_id: a.event_class_id.trim().to_string(),
            platform_list: vec![],
            list_as_blacklist: false,
            environment,
        },
        alerts: AtomicU64::new(0),
        filtered: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
    })
}

/// Run `alerts`: collect the connectors' content types into the alerts file.
pub async fn run(g: &Global, a: &AlertsArgs, fmt: Output) -> anyhow::Result<ExitCode> {
    let m = Arc::new(map(a)?);
    let s = crate::setup::settings(g)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| crate::pass::data_dir(&s).join("alerts.jsonl"));
    let types: Vec<String> = match a.connector.as_deref() {
        Some("dlp") => vec!["DLP.All".into()],
        Some("audit-general") => vec!["Audit.General".into()],
        _ => vec!["DLP.All".into(), "Audit.General".into()],
    };
    let args = CollectArgs {
        command: None,
        types,
        all: false,
        all_tenants: false,
        once: a.once,
        follow: a.follow,
        pass: a.pass.clone(),
        sink: None,
        auto_start: a.auto_start,
        metrics_addr: None,
        webhook: Default::default(),
    };
    let spec = SinkSpec::new(JsonlSink::mapped(PathBuf::from(&out), m.clone()));
    let code = crate::collect::run_into(g, &args, fmt, Some(spec)).await?;
    crate::warn(&format!(
        "alerts: {} written to {}, {} records filtered out, {} skipped (they make no alert)",
        m.alerts.load(Ordering::Relaxed),
        out.display(),
        m.filtered.load(Ordering::Relaxed),
        m.skipped.load(Ordering::Relaxed)
    ));
    Ok(code)
}
