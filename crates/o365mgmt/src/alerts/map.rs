//! Records to alerts, as the spool's line map: each record of `DLP.All` / `Audit.General` seen
//! for the first time becomes the alert its connector would create, or none when a filter drops
//! it; a record that cannot make one is reported and skipped.

use std::sync::atomic::{AtomicU64, Ordering};

use o365_api::ContentType;
use o365_collect::sinks::jsonl::LineMap;
use o365_collect::sinks::BlobOut;
use o365_connectors::{audit_general, dlp, AuditParams, DlpParams};

/// Records to alerts, counting what happened. Every alert names its tenant (`tenant_id`,
/// `tenant_name`); a record of another organisation is refused.
#[derive(Debug)]
pub struct AlertMap {
    /// The tenant's id, as configured (a GUID, or a verified domain).
    pub tenant_id: String,
    /// The tenant's name in the configuration.
    pub tenant_name: String,
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
    /// A map for `tenant` (id, name) with these parameters and no counts yet.
    pub fn new(
        tenant: (String, String),
        dlp: DlpParams,
        audit: AuditParams,
        to_stdout: bool,
    ) -> Self {
        Self {
            tenant_id: tenant.0,
            tenant_name: tenant.1,
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
            // A record of another organisation (the tenant configured as a GUID) is never an
            // alert of this one.
            let org = record.get("OrganizationId").and_then(|v| v.as_str());
            if let Some(org) = org.filter(|o| {
                o365_api::is_guid(&self.tenant_id) && !o.eq_ignore_ascii_case(&self.tenant_id)
            }) {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(content_id = %blob.content_id, organization = %org, tenant = %self.tenant_id, "record skipped: it is another organisation's");
                continue;
            }
            let made = match blob.content_type {
                ContentType::DlpAll => dlp::alert(&record, &self.dlp),
                ContentType::General => audit_general::alert(&record, &self.audit),
                _ => Ok(None),
            };
            match made {
                Ok(Some(a)) => match serde_json::to_vec(&a).and_then(|mut line| {
                    // The tenant last, the alert's own fields in their order.
                    line.pop(); // the object's closing brace
                    line.extend_from_slice(b",\"tenant_id\":");
                    serde_json::to_writer(&mut line, &self.tenant_id)?;
                    line.extend_from_slice(b",\"tenant_name\":");
                    serde_json::to_writer(&mut line, &self.tenant_name)?;
                    line.push(b'}');
                    Ok(line)
                }) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(ct: ContentType) -> BlobOut {
        BlobOut {
            tenant: "t".into(),
            content_type: ct,
            content_id: "c".into(),
            content_created: chrono::Utc::now(),
            events: vec![],
            lost: None,
        }
    }

    #[test]
    fn every_alert_names_its_tenant_and_another_organisations_record_is_refused() {
        let mine = "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80";
        let m = AlertMap::new(
            (mine.to_uppercase(), "contoso".into()),
            DlpParams::default(),
            AuditParams::default(),
            false,
        );
        let rec = |org: &str| {
            format!(
                r#"{{"Id":"e-{org}","CreationTime":"2026-12-01T10:00:00","Workload":"Exchange","Operation":"Send","OrganizationId":"{org}","UserId":"a@b"}}"#
            )
        };
        let (a, b) = (rec(mine), rec("11111111-2222-3333-4444-555555555555"));
        let lines = m
            .lines(&blob(ContentType::General), &[a.as_bytes(), b.as_bytes()])
            .unwrap();
        assert_eq!(
            lines.len(),
            1,
            "the other organisation's record makes no alert"
        );
        let v: serde_json::Value = serde_json::from_slice(&lines[0]).unwrap();
        assert_eq!(v["tenant_id"], mine.to_uppercase());
        assert_eq!(v["tenant_name"], "contoso");
        assert_eq!(v["ticket_id"], format!("e-{mine}"));
        assert_eq!(m.skipped.load(Ordering::Relaxed), 1);
    }
}
