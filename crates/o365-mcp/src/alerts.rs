//! The connectors' alerts for agents: the tool `office365_management_api_list_alerts` (recent
//! alerts with a limit and filters) and the resource `o365://{tenant}/alerts`, both read from
//! the tenant's alerts spool (what `o365mgmt alerts` made). Reading changes nothing.

use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use rmcp::ErrorData as McpError;
use serde_json::{json, Value};

/// The tool's name.
pub const TOOL: &str = "office365_management_api_list_alerts";
/// Alerts returned when no limit is given.
pub const DEFAULT_LIMIT: usize = 20;
/// The most alerts one call returns.
pub const MAX_LIMIT: usize = 200;

/// What to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertQuery {
    /// At most this many, newest first.
    pub limit: usize,
    /// Only this connector's (`dlp` or `audit-general`).
    pub connector: Option<String>,
    /// Only alerts of at least this priority.
    pub min_priority: Option<i64>,
    /// Only alerts whose record is this recent (Unix milliseconds).
    pub since_ms: Option<i64>,
}

impl Default for AlertQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            connector: None,
            min_priority: None,
            since_ms: None,
        }
    }
}

impl AlertQuery {
    /// Whether `alert` passes the filters.
    pub fn keeps(&self, alert: &Value) -> bool {
        self.connector
            .as_ref()
            .is_none_or(|c| alert["connector"].as_str() == Some(c))
            && self
                .min_priority
                .is_none_or(|p| alert["priority"].as_i64().unwrap_or(i64::MIN) >= p)
            && self
                .since_ms
                .is_none_or(|s| alert["start_time"].as_i64().unwrap_or(i64::MIN) >= s)
    }
}

/// Reads a tenant's recent alerts (by tenant name), newest first.
pub type AlertsReader = Arc<dyn Fn(&str, &AlertQuery) -> Result<Vec<Value>, String> + Send + Sync>;

/// The tool definition.
pub fn tool() -> Tool {
    let input = json!({
        "type": "object",
        "properties": {
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT,
                      "description": "At most this many alerts, newest first."},
            "connector": {"type": "string", "enum": ["dlp", "audit-general"],
                          "description": "Only the DLP connector's alerts, or only Audit.General's."},
            "min_priority": {"type": "integer",
                             "description": "Only alerts of at least this priority (-1 informational, 40 low, 60 medium, 80 high, 100 critical)."},
            "since": {"type": "string", "format": "date-time",
                      "description": "Only alerts whose record is this recent (RFC 3339, e.g. 2026-11-28T00:00:00Z)."}
        },
        "additionalProperties": false
    });
    let output = json!({
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "alerts": {"type": "array", "items": {"type": "object"}}
        },
        "required": ["count", "alerts"]
    });
    let mut t = Tool::new(
        TOOL,
        "List recent SOAR alerts the integration's connectors made (DLP policy matches and Audit.General records such as Security & Compliance alerts), newest first: name, priority, environment, time and the flattened events, exactly as the connectors build them. Filters: connector, minimum priority, since. Reads only what `o365mgmt alerts` collected; asks nothing of the service.",
        as_object(input),
    );
    t.output_schema = Some(Arc::new(as_object(output)));
    t.annotations = Some(
        ToolAnnotations::with_title("List Alerts")
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(false),
    );
    t
}

fn as_object(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}

/// The query from the tool's arguments; a bad one is named with what is allowed.
pub fn query(args: &JsonObject) -> Result<AlertQuery, String> {
    let mut q = AlertQuery::default();
    for (k, v) in args {
        match k.as_str() {
            "limit" => match v.as_u64() {
                Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => q.limit = n as usize,
                _ => return Err(format!("argument `limit` = {v}: give a whole number from 1 to {MAX_LIMIT}")),
            },
            "connector" => match v.as_str() {
                Some(c @ ("dlp" | "audit-general")) => q.connector = Some(c.into()),
                _ => return Err(format!("argument `connector` = {v}: allowed are \"dlp\" and \"audit-general\"")),
            },
            "min_priority" => match v.as_i64() {
                Some(p) => q.min_priority = Some(p),
                None => return Err(format!("argument `min_priority` = {v}: give a whole number such as 60")),
            },
            "since" => {
                let t = v
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s.trim()).ok());
                match t {
                    Some(t) => q.since_ms = Some(t.timestamp_millis()),
                    None => return Err(format!("argument `since` = {v}: give an RFC 3339 time such as 2026-11-28T00:00:00Z")),
                }
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`; {TOOL} takes limit, connector, min_priority, since (and tenant)"
                ))
            }
        }
    }
    Ok(q)
}

/// Run the tool for `tenant`.
pub fn call(
    reader: &AlertsReader,
    tenant: &str,
    args: &JsonObject,
) -> Result<CallToolResult, McpError> {
    let q = query(args).map_err(|m| McpError::invalid_params(m, None))?;
    let (value, failed) = match reader(tenant, &q) {
        Ok(alerts) => (json!({"count": alerts.len(), "alerts": alerts}), false),
        Err(e) => (json!({"count": 0, "alerts": [], "error": e}), true),
    };
    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
    let mut r = if failed {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    r.structured_content = Some(value);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> JsonObject {
        as_object(v)
    }

    #[test]
    fn arguments_are_checked_and_filters_apply() {
        let q = query(&obj(json!({"limit": 5, "connector": "dlp", "min_priority": 60, "since": "2026-11-28T00:00:00Z"}))).unwrap();
        assert_eq!(q.limit, 5);
        let a = json!({"connector": "dlp", "priority": 80, "start_time": q.since_ms.unwrap() + 1});
        assert!(q.keeps(&a));
        assert!(!q.keeps(
            &json!({"connector": "dlp", "priority": 40, "start_time": q.since_ms.unwrap() + 1})
        ));
        assert!(!q.keeps(&json!({"connector": "audit-general", "priority": 80, "start_time": q.since_ms.unwrap() + 1})));
        assert!(!q.keeps(&json!({"connector": "dlp", "priority": 80, "start_time": 0})));
        for (bad, want) in [
            (json!({"limit": 0}), "1 to 200"),
            (json!({"connector": "x"}), "audit-general"),
            (json!({"since": "yesterday"}), "RFC 3339"),
            (json!({"color": 1}), "takes limit"),
        ] {
            let e = query(&obj(bad)).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
        assert_eq!(query(&JsonObject::new()).unwrap(), AlertQuery::default());
    }
}
