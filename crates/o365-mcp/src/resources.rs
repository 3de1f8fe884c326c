//! Resources: what an agent reads without acting, as JSON — the tenants, and per tenant its
//! subscriptions (asked of the service), data gaps and journal (from the local ledger) and the
//! collection's status (from the sink). Reading journals nothing.

use std::sync::Arc;

use o365_actions::input::ActionKind;
use o365_actions::Runner;
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};
use rmcp::ErrorData as McpError;
use serde_json::{json, Value};

use crate::alerts::{AlertQuery, AlertsReader};
use crate::server::Tenant;

/// The collection status of the tenant (cursors, lag, blobs, events, gaps per content type), as
/// the CLI's `collect status` gives it; supplied by whoever knows the sink.
pub type CollectStatus = Arc<dyn Fn() -> Result<Value, String> + Send + Sync>;

/// The list of tenants.
pub const TENANTS: &str = "o365://tenants";

/// A resource of each tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerTenant {
    /// The content subscriptions, as the service lists them now.
    Subscriptions,
    /// The data gaps of the local ledger.
    Gaps,
    /// The action journal.
    Journal,
    /// The collection status.
    CollectStatus,
    /// The SOAR alerts made.
    Alerts,
}

/// Per-tenant resources: which, path after `o365://{tenant}/`, title, description.
pub const PER_TENANT: [(PerTenant, &str, &str, &str); 5] = [
    (
        PerTenant::Subscriptions,
        "subscriptions",
        "Subscriptions",
        "The tenant's content subscriptions as the service lists them now: content type, status, webhook.",
    ),
    (
        PerTenant::Gaps,
        "gaps",
        "Data gaps",
        "Spans in which a content type was not subscribed, so no content exists for them (from the local ledger).",
    ),
    (
        PerTenant::Journal,
        "journal",
        "Action journal",
        "The last 50 actions run against the tenant (start, stop, ping...), newest first.",
    ),
    (
        PerTenant::CollectStatus,
        "collect/status",
        "Collection status",
        "Per content type: the collector's cursor, lag, blobs and events done, and gaps.",
    ),
    (
        PerTenant::Alerts,
        "alerts",
        "Alerts",
        "The last 50 SOAR alerts the connectors made (DLP and Audit.General), newest first.",
    ),
];

impl PerTenant {
    /// Its path after `o365://{tenant}/`.
    pub fn path(self) -> &'static str {
        PER_TENANT.iter().find(|r| r.0 == self).map_or("", |r| r.1)
    }

    /// The resource of this path.
    fn at(path: &str) -> Option<Self> {
        PER_TENANT.iter().find(|r| r.1 == path).map(|r| r.0)
    }

    /// Its URI for tenant `t`.
    pub fn uri(self, t: &str) -> String {
        format!("o365://{t}/{}", self.path())
    }
}

/// The tenant's name in URIs.
pub fn tenant_name(runner: &Runner) -> String {
    runner.settings().name.clone()
}

/// Every concrete resource.
pub fn list(tenants: &[Tenant]) -> Vec<Resource> {
    let mut v = vec![Resource::new(TENANTS, "tenants")
        .with_title("Tenants")
        .with_description("The tenants this server acts for: name, tenant id, cloud.")
        .with_mime_type("application/json")];
    for t in tenants {
        let t = tenant_name(&t.runner);
        for (which, path, title, description) in PER_TENANT {
            v.push(
                Resource::new(which.uri(&t), format!("{t}/{path}"))
                    .with_title(format!("{title} ({t})"))
                    .with_description(description)
                    .with_mime_type("application/json"),
            );
        }
    }
    v
}

/// The per-tenant templates.
pub fn templates() -> Vec<ResourceTemplate> {
    PER_TENANT
        .iter()
        .map(|(_, path, title, description)| {
            let mut r = ResourceTemplate::new(format!("o365://{{tenant}}/{path}"), *path);
            r.title = Some(title.to_string());
            r.description = Some(description.to_string());
            r.mime_type = Some("application/json".into());
            r
        })
        .collect()
}

/// Read one resource.
pub async fn read(
    tenants: &[Tenant],
    alerts: Option<&AlertsReader>,
    uri: &str,
) -> Result<ResourceContents, McpError> {
    let names: Vec<String> = tenants.iter().map(|t| tenant_name(&t.runner)).collect();
    let not_found = || {
        McpError::resource_not_found(
            format!(
                "no resource {uri}: this server has {TENANTS} and o365://{{tenant}}/{{{}}} for the tenants {}",
                PER_TENANT.map(|p| p.1).join(","),
                names.iter().map(|n| format!("o365://{n}/")).collect::<Vec<_>>().join(", ")
            ),
            None,
        )
    };
    let v = if uri == TENANTS {
        Value::Array(
            tenants
                .iter()
                .map(|t| {
                    let s = t.runner.settings();
                    json!({
                        "name": s.name,
                        "tenant_id": s.tenant_id.as_ref().map(|t| t.value.clone()),
                        "cloud": s.cloud.value.name(),
                    })
                })
                .collect(),
        )
    } else {
        let (tenant, rest) = uri
            .strip_prefix("o365://")
            .and_then(|r| r.split_once('/'))
            .ok_or_else(not_found)?;
        let t = tenants
            .iter()
            .find(|t| tenant_name(&t.runner) == tenant)
            .ok_or_else(not_found)?;
        let runner = &t.runner;
        let failed = |e: String| McpError::internal_error(format!("{uri}: {e}"), None);
        match PerTenant::at(rest).ok_or_else(not_found)? {
            PerTenant::Subscriptions => {
                let client = runner.client().map_err(|e| failed(e.to_string()))?;
                let subs = client
                    .list_subscriptions()
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                serde_json::to_value(subs).map_err(|e| failed(e.to_string()))?
            }
            PerTenant::Gaps => {
                let gaps = runner.gaps().map_err(|e| failed(e.to_string()))?;
                serde_json::to_value(gaps).map_err(|e| failed(e.to_string()))?
            }
            PerTenant::Journal => match runner.store() {
                None => json!([]),
                Some(store) => {
                    let tenant = runner.settings().tenant().ok();
                    let rows = store
                        .journal(tenant, 50)
                        .map_err(|e| failed(e.to_string()))?;
                    serde_json::to_value(rows).map_err(|e| failed(e.to_string()))?
                }
            },
            PerTenant::CollectStatus => match &t.status {
                Some(f) => f().map_err(failed)?,
                None => json!({"note": "collection status is not available from this server"}),
            },
            PerTenant::Alerts => match alerts {
                Some(reader) => {
                    let q = AlertQuery {
                        limit: 50,
                        ..AlertQuery::default()
                    };
                    Value::Array(reader(tenant, &q).map_err(failed)?)
                }
                None => json!({"note": "alerts are not available from this server"}),
            },
        }
    };
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    Ok(ResourceContents::text(text, uri).with_mime_type("application/json"))
}

/// The resources an action of `kind` may have changed (for update notifications).
pub fn changed_by(runner: &Runner, kind: ActionKind) -> Vec<String> {
    let t = tenant_name(runner);
    let changed: &[PerTenant] = match kind {
        ActionKind::StartSubscription | ActionKind::StopSubscription => &[
            PerTenant::Journal,
            PerTenant::Subscriptions,
            PerTenant::Gaps,
            PerTenant::CollectStatus,
        ],
        _ => &[PerTenant::Journal],
    };
    changed.iter().map(|r| r.uri(&t)).collect()
}
