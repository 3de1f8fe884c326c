//! The arguments of every action, described once: the JSON request checks, the MCP tool schemas
//! and their argument checks all come from this table.

use serde_json::{json, Map, Value};

use super::ActionKind;

/// The JSON shape of an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    /// A string.
    String,
    /// A list of strings.
    StringList,
    /// A list of `{"Identifier", "EntityType"}` objects.
    Entities,
    /// Content types: a list of strings, or one comma-separated string.
    ContentTypes,
}

/// One argument of an action.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    /// Its name.
    pub name: &'static str,
    /// Its shape.
    pub ty: ArgType,
    /// Whether it must be given.
    pub required: bool,
    /// Its default (JSON text), when it has one.
    pub default: Option<&'static str>,
    /// What it is, for the MCP schema.
    pub description: &'static str,
}

macro_rules! types_help {
    () => {
        "Content types: Audit.AzureActiveDirectory, Audit.Exchange, Audit.SharePoint, Audit.General, DLP.All (case-insensitive; a single comma-separated string is accepted too)."
    };
}

/// What the content types are, for descriptions.
pub const TYPES_HELP: &str = types_help!();

/// Arguments every action takes: the case context.
pub const CONTEXT: [Arg; 4] = [
    Arg {
        name: "case_id",
        ty: ArgType::String,
        required: true,
        default: None,
        description: "Id of the case this action runs for (required, non-empty); echoed in the result and written to the action journal.",
    },
    Arg {
        name: "alert_group_identifiers",
        ty: ArgType::StringList,
        required: true,
        default: None,
        description: "Alert group identifiers of the case (may be empty).",
    },
    Arg {
        name: "target_entities",
        ty: ArgType::Entities,
        required: false,
        default: Some("[]"),
        description: "Entities of the case; when non-empty they are used and scope is ignored.",
    },
    Arg {
        name: "scope",
        ty: ArgType::String,
        required: false,
        default: Some("\"All entities\""),
        description: "Entity scope of the case, e.g. All entities, Suspicious entities.",
    },
];

const START: [Arg; 1] = [Arg {
    name: "start_a_subscription_for",
    ty: ArgType::ContentTypes,
    required: true,
    default: None,
    description: concat!("Content types to start. ", types_help!()),
}];

const STOP: [Arg; 1] = [Arg {
    name: "stop_a_subscription_for",
    ty: ArgType::ContentTypes,
    required: true,
    default: None,
    description: concat!("Content types to stop. ", types_help!()),
}];

const CONTENT: [Arg; 3] = [
    Arg {
        name: "content_type",
        ty: ArgType::String,
        required: true,
        default: None,
        description: "One content type, e.g. Audit.General.",
    },
    Arg {
        name: "start_time",
        ty: ArgType::String,
        required: false,
        default: None,
        description: "Window start, UTC (RFC 3339 or YYYY-MM-DDTHH:MM:SS). Optional.",
    },
    Arg {
        name: "end_time",
        ty: ArgType::String,
        required: false,
        default: None,
        description: "Window end (exclusive), UTC. Optional; default now.",
    },
];

/// The arguments an action takes besides the case context.
pub fn action_args(kind: ActionKind) -> &'static [Arg] {
    match kind {
        ActionKind::Ping | ActionKind::ListSubscriptions => &[],
        ActionKind::StartSubscription => &START,
        ActionKind::StopSubscription => &STOP,
        ActionKind::ListContent => &CONTENT,
    }
}

/// Every argument of an action: the context first, then its own.
pub fn all_args(kind: ActionKind) -> impl Iterator<Item = &'static Arg> {
    CONTEXT.iter().chain(action_args(kind))
}

impl ArgType {
    fn schema(self) -> Value {
        match self {
            ArgType::String => json!({"type": "string"}),
            ArgType::StringList | ArgType::ContentTypes => {
                json!({"type": "array", "items": {"type": "string"}})
            }
            ArgType::Entities => json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"Identifier": {"type": "string"}, "EntityType": {"type": "string"}},
                    "required": ["Identifier", "EntityType"]
                }
            }),
        }
    }

    /// Whether `v` has this shape (`null` is judged by the caller).
    pub fn accepts(self, v: &Value) -> bool {
        let strings = |a: &Vec<Value>| a.iter().all(Value::is_string);
        match (self, v) {
            (ArgType::String, Value::String(_)) => true,
            (ArgType::StringList, Value::Array(a)) => strings(a),
            (ArgType::ContentTypes, Value::Array(a)) => strings(a),
            (ArgType::ContentTypes, Value::String(_)) => true,
            (ArgType::Entities, Value::Array(a)) => a.iter().all(Value::is_object),
            _ => false,
        }
    }

    /// What is expected, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            ArgType::String => "a string",
            ArgType::StringList | ArgType::ContentTypes => "an array of strings",
            ArgType::Entities => "an array of objects",
        }
    }
}

/// The JSON schema of an action's arguments (the MCP tool's `inputSchema`).
pub fn input_schema(kind: ActionKind) -> Map<String, Value> {
    let mut props = Map::new();
    for a in all_args(kind) {
        let mut p = a.ty.schema();
        p["description"] = json!(a.description);
        if let Some(d) = a
            .default
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
        {
            p["default"] = d;
        }
        props.insert(a.name.into(), p);
    }
    let required: Vec<&str> = all_args(kind)
        .filter(|a| a.required)
        .map(|a| a.name)
        .collect();
    let mut m = Map::new();
    m.insert("type".into(), json!("object"));
    m.insert("properties".into(), Value::Object(props));
    m.insert("required".into(), json!(required));
    m
}

/// Check an argument object's names and shapes: required present, none unknown, types right.
pub fn check_shapes(kind: ActionKind, args: &Map<String, Value>) -> Result<(), String> {
    let names: Vec<&str> = all_args(kind).map(|a| a.name).collect();
    let tool = kind.tool_name();
    for a in all_args(kind).filter(|a| a.required) {
        if !args.contains_key(a.name) {
            return Err(format!(
                "missing required argument `{}`; {tool} takes: {}",
                a.name,
                names.join(", ")
            ));
        }
    }
    for (k, v) in args {
        let Some(a) = all_args(kind).find(|a| a.name == k) else {
            return Err(format!(
                "unknown argument `{k}`; {tool} takes: {}",
                names.join(", ")
            ));
        };
        let ok = if v.is_null() {
            !a.required
        } else {
            a.ty.accepts(v)
        };
        if !ok {
            return Err(format!(
                "argument `{k}` must be {}, got {}: {v}",
                a.ty.expected(),
                json_type(v)
            ));
        }
    }
    Ok(())
}

/// The JSON type name of a value.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
