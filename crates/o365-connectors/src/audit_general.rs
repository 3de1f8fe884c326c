//! The Audit General Events connector's alert: `"<Workload>, <Operation>"`, priority from
//! `Severity` (or `Data.Severity`), a base event (the record over its parsed `Data`, flattened)
//! and one event per entity whose type is in the entity-key list.

use serde_json::{Map, Value};

use crate::alert::{creation_ms, field, Alert, EnvironmentRule, Skip};
use crate::filters::{audit_passes, workload_passes};
use crate::flatten::flatten;

/// The Audit.General connector's parameters that shape its alerts.
#[derive(Debug, Clone)]
pub struct AuditParams {
    /// "Type of Operation Filter".
    pub operation_filter: Vec<String>,
    /// "Status Filter" (the top-level `Status`).
    pub status_filter: Vec<String>,
    /// "Use operation and status filters as whitelist" (otherwise blacklists).
    pub whitelist: bool,
    /// "Entity Keys to Create Additional Events": entity `Type`s that get an event each.
    pub entity_keys: Vec<String>,
    /// "EventClassId": the event-name field an entity event gets (its `Type` when empty).
    pub event_class_id: String,
    /// The platform's list on `Workload` (usually empty).
    pub platform_list: Vec<String>,
    /// "Use whitelist as a blacklist".
    pub list_as_blacklist: bool,
    /// Environment field, pattern and default.
    pub environment: EnvironmentRule,
}

impl Default for AuditParams {
    fn default() -> Self {
        Self {
            operation_filter: vec![],
            status_filter: vec![],
            whitelist: false,
            entity_keys: crate::filters::list("mailMessage, mailbox, ip"),
            event_class_id: "Operation".into(),
            platform_list: vec![],
            list_as_blacklist: false,
            environment: EnvironmentRule::default(),
        }
    }
}

/// Alert severity as priority: Informational −1, Low 40, Medium 60, High 80, Critical 100,
/// anything else 40.
pub fn priority(severity: &str) -> i32 {
    match severity {
        "Informational" => -1,
        "Medium" => 60,
        "High" => 80,
        "Critical" => 100,
        _ => 40,
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The alert of one `Audit.General` record: `Ok(None)` when a filter drops it, `Err` when it
/// cannot make one (a `Data` that is not JSON, `Entities` that is not a list: reported, skipped).
pub fn alert(record: &Map<String, Value>, p: &AuditParams) -> Result<Option<Alert>, Skip> {
    // A record without a valid CreationTime cannot make an alert, filtered or not.
    creation_ms(record)?;
    let (workload, operation) = (field(record, "Workload"), field(record, "Operation"));
    let status = record.get("Status").and_then(|v| v.as_str());
    let platform = &p.platform_list;
    if !workload_passes(workload, platform, p.list_as_blacklist)
        || !audit_passes(Some(operation), &p.operation_filter, platform, p.whitelist)
        || !audit_passes(status, &p.status_filter, platform, p.whitelist)
    {
        return Ok(None);
    }
    let data: Map<String, Value> = match record.get("Data") {
        Some(Value::String(s)) if !s.trim().is_empty() => match serde_json::from_str(s) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(Skip::malformed(record, "Data is not a JSON object")),
            Err(e) => return Err(Skip::malformed(record, format!("Data is not JSON: {e}"))),
        },
        _ => Map::new(),
    };
    let severity = match field(record, "Severity") {
        "" => data.get("Severity").and_then(|v| v.as_str()).unwrap_or(""),
        s => s,
    };
    let environment = p.environment.of(record);
    // The base event: Data's keys, the record's over them.
    let mut base = data.clone();
    for (k, v) in record {
        base.insert(k.clone(), v.clone());
    }
    let mut events = vec![flatten(&base)];
    let entities = match data.get("Entities") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(Skip::malformed(record, "Data.Entities is not a list")),
    };
    for entity in entities {
        let Value::Object(mut e) = entity else {
            continue;
        };
        let Some(ty) = e.get("Type").and_then(|t| t.as_str()).map(String::from) else {
            continue; // `$ref` stubs have no type
        };
        if !p.entity_keys.contains(&ty) {
            continue;
        }
        e.insert(
            "CreationTime".into(),
            record.get("CreationTime").cloned().unwrap_or(Value::Null),
        );
        if let Some(id) = e.remove("$id") {
            if truthy(&id) {
                e.insert("id".into(), id);
            }
        }
        if !e.get(&p.event_class_id).is_some_and(truthy) {
            e.insert(p.event_class_id.clone(), Value::String(ty));
        }
        events.push(flatten(&e));
    }
    Alert::of(
        "audit-general",
        record,
        format!("{workload}, {operation}"),
        priority(severity),
        environment,
        events,
    )
    .map(Some)
}
