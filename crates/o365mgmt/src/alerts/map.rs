//! Records to alerts, as the spool's line map: each record of `DLP.All` / `Audit.General` seen
//! for the first time becomes the alert its connector would create, or none when a filter drops
//! it; a record that cannot make one is reported and skipped.

use std::sync::atomic::{AtomicU64, Ordering};

use o365_api::ContentType;
use o365_collect::sinks::jsonl::LineMap;
use o365_collect::sinks::BlobOut;
use o365_connectors::{audit_general, dlp, AuditParams, DlpParams};

/// Records to alerts, counting what happened.
#[derive(Debug)]
pub struct AlertMap {
    /// The DLP connector's parameters.
    pub dlp: DlpParams,
    /// The Audit.General connector's parameters.
    pub audit: AuditParams,
    /// Whether alerts are delivered to standard output (then reports go to standard error).
    pub to_stdout: bool,
    /// Alerts made.
    pub alerts: AtomicU64,
    /// Records a filter dropped.
    pub filtered: AtomicU64,
    /// Records that could make no alert.
    pub skipped: AtomicU64,
}

impl AlertMap {
    /// A map with these parameters and no counts yet.
    pub fn new(dlp: DlpParams, audit: AuditParams, to_stdout: bool) -> Self {
        Self {
            dlp,
            audit,
            to_stdout,
            alerts: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }
}

impl LineMap for AlertMap {
    fn scheme(&self) -> &'static str {
        "alerts"
    }

    fn output_on_stdout(&self) -> bool {
        self.to_stdout
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
