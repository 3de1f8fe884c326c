//! The tools: the integration's actions with their names, descriptions, argument schemas (from
//! the actions' argument table) and annotations.

use o365_actions::input::args::{self, TYPES_HELP};
use o365_actions::input::ActionKind;
use o365_actions::STOP_WARNING;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{json, Value};

/// One tool: the action it runs, its title, its description (parts joined), and whether it
/// changes the tenant and may lose data.
struct Row {
    kind: ActionKind,
    title: &'static str,
    description: &'static [&'static str],
    read_only: bool,
    destructive: bool,
}

/// The tools, in the integration's order.
const TOOLS: [Row; 5] = [
    Row {
        kind: ActionKind::Ping,
        title: "Ping",
        description: &["Test connectivity to the Office 365 Management Activity API: gets a token AND lists subscriptions, so success means the other tools will work. On failure the result names the cause (wrong secret, secret ID pasted instead of the value, app not in tenant, unknown tenant, missing ActivityFeed.Read permission, auditing off, wrong cloud, unreachable host) and the fix."],
        read_only: true,
        destructive: false,
    },
    Row {
        kind: ActionKind::StartSubscription,
        title: "Start Subscription",
        description: &["Start Office 365 Management API content subscriptions so the tenant's audit log of those types becomes available for collection. Already-enabled subscriptions count as success (outcome already_enabled). If this tool stopped a type earlier, the result reports the data gap [stopped_at, started_at). ", TYPES_HELP],
        read_only: false,
        destructive: false,
    },
    Row {
        kind: ActionKind::StopSubscription,
        title: "Stop Subscription",
        description: &["Stop Office 365 Management API content subscriptions. WARNING: ", STOP_WARNING, " The stop is recorded in the data-gap ledger. ", TYPES_HELP],
        read_only: false,
        destructive: true,
    },
    Row {
        kind: ActionKind::ListSubscriptions,
        title: "List Subscriptions",
        description: &["List the tenant's Office 365 Management API subscriptions (content type, status, webhook), the types not enabled, and open data gaps."],
        read_only: true,
        destructive: false,
    },
    Row {
        kind: ActionKind::ListContent,
        title: "List Content",
        description: &["List the content blobs available for one content type in a time window (default: the last 24 hours; at most 7 days back; longer ranges are split into 24-hour windows). Each blob has contentId, contentUri, contentCreated and contentExpiration."],
        read_only: true,
        destructive: false,
    },
];

/// The action a tool of this name runs (`None`: no such tool).
pub fn action_of(name: &str) -> Option<ActionKind> {
    TOOLS
        .iter()
        .find(|r| r.kind.tool_name() == name)
        .map(|r| r.kind)
}

/// The names of the actions' tools.
pub fn tool_names() -> Vec<String> {
    TOOLS.iter().map(|r| r.kind.tool_name()).collect()
}

/// The tool definitions for one tenant.
pub fn tools() -> Vec<Tool> {
    tools_for(&[])
}

/// The tool definitions; with more than one tenant, each takes an optional `tenant` (one of
/// `tenants`, the first by default).
pub fn tools_for(tenants: &[String]) -> Vec<Tool> {
    TOOLS
        .iter()
        .map(|r| {
            let mut t = Tool::new(
                r.kind.tool_name(),
                r.description.concat(),
                args::input_schema(r.kind),
            );
            t.annotations = Some(
                ToolAnnotations::with_title(r.title)
                    .open_world(true)
                    .read_only(r.read_only)
                    .destructive(r.destructive)
                    .idempotent(true),
            );
            t.output_schema = Some(std::sync::Arc::new(crate::output::output_schema(r.kind)));
            add_tenant_argument(&mut t, tenants);
            t
        })
        .collect()
}

/// With more than one tenant, a tool takes an optional `tenant` (one of `tenants`, the first by
/// default).
pub fn add_tenant_argument(t: &mut Tool, tenants: &[String]) {
    if tenants.len() < 2 {
        return;
    }
    let mut schema = (*t.input_schema).clone();
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        props.insert(
            "tenant".into(),
            json!({
                "type": "string",
                "enum": tenants,
                "default": tenants[0],
                "description": format!("The tenant to act for (default: {})", tenants[0]),
            }),
        );
    }
    t.input_schema = std::sync::Arc::new(schema);
}

/// Check arguments against an action's argument table: required present, no unknown names,
/// types right (content-type lists may also be one comma-separated string).
pub fn check_arguments(kind: ActionKind, args: &JsonObject) -> Result<(), String> {
    args::check_shapes(kind, args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::Value;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => m,
            _ => JsonObject::new(),
        }
    }

    #[test]
    fn tools_keep_the_integration_names_and_arguments() {
        let t = tools();
        let names: Vec<&str> = t.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "office365_management_api_ping",
                "office365_management_api_start_subscription",
                "office365_management_api_stop_subscription",
                "office365_management_api_list_subscriptions",
                "office365_management_api_list_content"
            ]
        );
        let start = &t[1];
        assert_eq!(
            start.input_schema["required"],
            json!([
                "case_id",
                "alert_group_identifiers",
                "start_a_subscription_for"
            ])
        );
        assert_eq!(
            start.input_schema["properties"]["scope"]["default"],
            "All entities"
        );
        assert!(t[2].annotations.as_ref().unwrap().is_destructive());
        assert!(t[2].description.as_ref().unwrap().contains("lost for good"));
    }

    #[test]
    fn argument_checks() {
        let t = ActionKind::StartSubscription;
        let args = |v: Value| obj(v);
        assert!(check_arguments(t, &args(json!({"case_id": "1", "alert_group_identifiers": [], "start_a_subscription_for": ["DLP.All"]}))).is_ok());
        assert!(check_arguments(t, &args(json!({"case_id": "1", "alert_group_identifiers": [], "start_a_subscription_for": "DLP.All,Audit.General"}))).is_ok());
        let e = check_arguments(
            t,
            &args(json!({"case_id": "1", "alert_group_identifiers": []})),
        )
        .unwrap_err();
        assert!(
            e.contains("missing required argument `start_a_subscription_for`"),
            "{e}"
        );
        let e = check_arguments(t, &args(json!({"case_id": 1, "alert_group_identifiers": [], "start_a_subscription_for": []}))).unwrap_err();
        assert!(e.contains("`case_id` must be a string, got number"), "{e}");
        let e = check_arguments(t, &args(json!({"case_id": "1", "alert_group_identifiers": [3], "start_a_subscription_for": []}))).unwrap_err();
        assert!(e.contains("an array of strings"), "{e}");
        let e = check_arguments(t, &args(json!({"case_id": "1", "alert_group_identifiers": [], "start_a_subscription_for": [], "extra": 1}))).unwrap_err();
        assert!(e.contains("unknown argument `extra`"), "{e}");
    }
}
