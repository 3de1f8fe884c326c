//! Resources: what an agent reads without acting, as JSON — the tenants, and per tenant its
//! subscriptions (asked of the service), data gaps and journal (from the local ledger) and the
//! collection's status (from the sink). Reading journals nothing.

use std::sync::Arc;

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

/// Per-tenant resources: path after `o365://{tenant}/`, title, description.
pub const PER_TENANT: [(&str, &str, &str); 5] = [
    (
        "subscriptions",
        "Subscriptions",
        "The tenant's content subscriptions as the service lists them now: content type, status, webhook.",
    ),
    (
        "gaps",
        "Data gaps",
        "Spans in which a content type was not subscribed, so no content exists for them (from the local ledger).",
    ),
    (
        "journal",
        "Action journal",
        "The last 50 actions run against the tenant (start, stop, ping...), newest first.",
    ),
    (
        "collect/status",
        "Collection status",
        "Per content type: the collector's cursor, lag, blobs and events done, and gaps.",
    ),
    (
        "alerts",
        "Alerts",
        "The last 50 SOAR alerts the connectors made (DLP and Audit.General), newest first.",
    ),
];

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
        for (path, title, description) in PER_TENANT {
            v.push(
                Resource::new(format!("o365://{t}/{path}"), format!("{t}/{path}"))
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
        .map(|(path, title, description)| {
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
                PER_TENANT.map(|p| p.0).join(","),
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
        match rest {
            "subscriptions" => {
                let client = runner.client().map_err(|e| failed(e.to_string()))?;
                let subs = client
                    .list_subscriptions()
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                serde_json::to_value(subs).map_err(|e| failed(e.to_string()))?
            }
            "gaps" => {
                let gaps = runner.gaps().map_err(|e| failed(e.to_string()))?;
                serde_json::to_value(gaps).map_err(|e| failed(e.to_string()))?
            }
            "journal" => match runner.store() {
                None => json!([]),
                Some(store) => {
                    let tenant = runner.settings().tenant().ok();
                    let rows = store
                        .journal(tenant, 50)
                        .map_err(|e| failed(e.to_string()))?;
                    serde_json::to_value(rows).map_err(|e| failed(e.to_string()))?
                }
            },
            "collect/status" => match &t.status {
                Some(f) => f().map_err(failed)?,
                None => json!({"note": "collection status is not available from this server"}),
            },
            "alerts" => match alerts {
                Some(reader) => {
                    let q = AlertQuery {
                        limit: 50,
                        ..AlertQuery::default()
                    };
                    Value::Array(reader(tenant, &q).map_err(failed)?)
                }
                None => json!({"note": "alerts are not available from this server"}),
            },
            _ => return Err(not_found()),
        }
    };
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    Ok(ResourceContents::text(text, uri).with_mime_type("application/json"))
}

/// The resources an action of `tool` may have changed (for update notifications).
pub fn changed_by(runner: &Runner, tool: &str) -> Vec<String> {
    let t = tenant_name(runner);
    let mut v = vec![format!("o365://{t}/journal")];
    if tool.ends_with("start_subscription") || tool.ends_with("stop_subscription") {
        v.push(format!("o365://{t}/subscriptions"));
        v.push(format!("o365://{t}/gaps"));
        v.push(format!("o365://{t}/collect/status"));
    }
    v
}
