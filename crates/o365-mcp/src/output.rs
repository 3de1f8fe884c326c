//! The tools' `outputSchema`: the integration's result object, with each action's `json_result`
//! described (its fields are absent when the action could not run: `json_result` is then `{}`).

use o365_actions::input::ActionKind;
use rmcp::model::JsonObject;
use serde_json::{json, Value};

/// Outcomes a content type can have in a start or stop.
const OUTCOMES: [&str; 5] = [
    "started",
    "already_enabled",
    "stopped",
    "not_subscribed",
    "failed",
];

fn nullable(t: &str) -> Value {
    json!({ "type": [t, "null"] })
}

/// One action's `json_result` fields.
fn details(kind: ActionKind) -> Value {
    let subscription = json!({
        "type": "object",
        "properties": {
            "contentType": {"type": "string"},
            "status": {"type": "string"},
            "webhook": {"type": ["object", "null"]},
        },
        "required": ["contentType"],
    });
    let gaps = json!({"type": "array", "items": {"type": "object"}, "description": "Data gaps: spans in which a content type was not subscribed (no content exists for them)"});
    match kind {
        ActionKind::Ping => json!({
            "cloud": {"type": "string"},
            "api_root": {"type": "string"},
            "login_endpoint": {"type": "string"},
            "proxy": {"type": "object"},
            "checks": {"type": "object"},
            "roles": {"type": "array", "items": {"type": "string"}},
            "tenant_id": {"type": "string"},
            "subscriptions": {"type": "array", "items": subscription},
        }),
        ActionKind::StartSubscription | ActionKind::StopSubscription => json!({
            "subscriptions": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "contentType": {"type": "string"},
                    "outcome": {"type": "string", "enum": OUTCOMES},
                    "status": nullable("string"),
                    "message": {"type": "string"},
                    "error": {"type": ["object", "null"]},
                    "webhook": {"type": ["object", "null"]},
                },
                "required": ["contentType", "outcome", "message"],
            }},
            "gaps": gaps,
            "warning": {"type": "string"},
        }),
        ActionKind::ListSubscriptions => json!({
            "subscriptions": {"type": "array", "items": subscription},
            "not_enabled": {"type": "array", "items": {"type": "string"}},
            "open_gaps": gaps,
        }),
        ActionKind::ListContent => json!({
            "contentType": {"type": "string"},
            "start_time": {"type": "string"},
            "end_time": {"type": "string"},
            "windows": {"type": "integer", "minimum": 0},
            "count": {"type": "integer", "minimum": 0},
            "blobs": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "contentId": {"type": "string"},
                    "contentUri": {"type": "string"},
                    "contentCreated": {"type": "string"},
                },
            }},
        }),
    }
}

/// The result object a tool returns as `structuredContent`.
pub fn output_schema(kind: ActionKind) -> JsonObject {
    let v = json!({
        "type": "object",
        "properties": {
            "integration": {"type": "string"},
            "action": {"type": "string"},
            "status": {"type": "string", "enum": ["Completed", "Failed"]},
            "result_value": {"type": "boolean", "description": "True when every requested content type reached its state"},
            "output_message": {"type": "string"},
            "case_id": {"type": "string"},
            "alert_group_identifiers": {"type": "array", "items": {"type": "string"}},
            "scope": {"type": "string"},
            "target_entities": {"type": "array", "items": {"type": "object"}},
            "json_result": {"type": "object", "properties": details(kind)},
            "started_at": {"type": "string"},
            "duration_ms": {"type": "integer", "minimum": 0},
            "tenant_id": nullable("string"),
            "error": {
                "type": ["object", "null"],
                "description": "Why the action could not run: kind, cause, message, fix (and the field for bad input)",
                "properties": {
                    "kind": {"type": "string"},
                    "cause": {"type": "string"},
                    "message": {"type": "string"},
                    "fix": {"type": "string"},
                },
            },
            "warnings": {"type": "array", "items": {"type": "string"}},
            "exit_code": {"type": "integer", "minimum": 0},
        },
        "required": [
            "integration", "action", "status", "result_value", "output_message", "case_id",
            "alert_group_identifiers", "json_result", "exit_code",
        ],
    });
    match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}
