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

/// Where alerts are POSTed as well as written.
pub struct Delivery {
    url: String,
    http: reqwest::Client,
    /// The process's runtime: the sink's writer thread waits on it for each POST.
    rt: tokio::runtime::Handle,
    attempts: u32,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").field("url", &self.url).finish()
    }
}

impl Delivery {
    /// POST one alert, retried with doubling pauses; `Idempotency-Key` is its ticket id, so a
    /// receiver can drop the repeat a crash between delivery and commit may cause.
    fn post(&self, key: &str, body: &[u8]) -> Result<(), String> {
        let mut pause = std::time::Duration::from_millis(200);
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let r = self.rt.block_on(async {
                self.http
                    .post(&self.url)
                    .header("Content-Type", "application/json")
                    .header("Idempotency-Key", key)
                    .body(body.to_vec())
                    .send()
                    .await
            });
            match r {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
                Err(e) => last = e.to_string(),
            }
            tracing::warn!(attempt, error = %last, url = %self.url, "alert not delivered: retrying");
            if attempt < self.attempts {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
        }
        Err(format!(
            "--post {}: {last} after {} attempts; nothing of this group is recorded, its alerts are sent again on the next run",
            self.url, self.attempts
        ))
    }
}

/// Records to alerts, counting what happened.
#[derive(Debug)]
pub struct AlertMap {
    dlp: DlpParams,
    audit: AuditParams,
    /// Also POST each alert here.
    post: Option<Delivery>,
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

    fn lines(&self, blob: &BlobOut, events: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
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
                        if let Some(d) = &self.post {
                            d.post(&a.ticket_id, &line)?;
                        }
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
        Ok(out)
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
    let post = match &a.post {
        None => None,
        Some(url) => {
            let u = url.trim();
            let lower = u.to_ascii_lowercase();
            let loopback = ["http://127.", "http://localhost", "http://[::1]"]
                .iter()
                .any(|p| lower.starts_with(p));
            if !lower.starts_with("https://") && !loopback {
                anyhow::bail!("--post {u:?}: alerts go only to https:// addresses (http:// is allowed on loopback)");
            }
            Some(Delivery {
                url: u.to_string(),
                http: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(30))
                    .build()?,
                rt: tokio::runtime::Handle::current(),
                attempts: 5,
            })
        }
    };
    Ok(AlertMap {
        post,
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
