//! The DLP Events connector's alert: `"<Workload> <Operation>"`, priority from the highest rule
//! severity, grouped on `IncidentId`, one event per policy (the record with that policy alone,
//! flattened), detected values masked when asked.

use serde_json::{Map, Value};

use crate::alert::{creation_ms, field, Alert, EnvironmentRule, Skip};
use crate::filters::workload_passes;
use crate::flatten::flatten;

/// The DLP connector's parameters that shape its alerts.
#[derive(Debug, Clone, Default)]
pub struct DlpParams {
    /// "Type of Operation Filter": operations whose records make no alert.
    pub operation_filter: Vec<String>,
    /// "Type of Policy Filter": a record naming any of these policies makes no alert.
    pub policy_filter: Vec<String>,
    /// "Mask findings?": detected values become `0` for digits and `X` for letters.
    pub mask: bool,
    /// The platform's list on `Workload` (usually empty).
    pub platform_list: Vec<String>,
    /// "Use whitelist as a blacklist".
    pub list_as_blacklist: bool,
    /// Environment field, pattern and default.
    pub environment: EnvironmentRule,
}

/// Rule severity as priority: Low 40, Medium 60, High 80, anything else 40.
pub fn priority(severity: &str) -> i32 {
    match severity {
        "Medium" => 60,
        "High" => 80,
        _ => 40,
    }
}

/// Digits become `0`, ASCII letters `X`, the rest stays.
pub fn mask_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                '0'
            } else if c.is_ascii_alphabetic() {
                'X'
            } else {
                c
            }
        })
        .collect()
}

/// Mask the detected values in an alert as it is delivered (its flattened events'
/// `..._DetectedValues_N_Name` and `..._Value`): for alerts made before masking was asked.
/// Masking is idempotent; whether anything changed is returned.
pub fn mask_alert(alert: &mut Value) -> bool {
    let mut changed = false;
    let Some(events) = alert.get_mut("events").and_then(|e| e.as_array_mut()) else {
        return false;
    };
    for ev in events.iter_mut().filter_map(|e| e.as_object_mut()) {
        for (k, v) in ev.iter_mut() {
            if !(k.contains("DetectedValues_") && (k.ends_with("_Value") || k.ends_with("_Name"))) {
                continue;
            }
            let masked = Value::String(match &*v {
                Value::String(s) => mask_text(s),
                Value::Null => String::new(),
                other => mask_text(&crate::flatten::text(other)),
            });
            if *v != masked {
                *v = masked;
                changed = true;
            }
        }
    }
    changed
}

/// Mask every detected value of a policy (`Name` and `Value`; missing or empty ones become `""`).
fn mask_policy(policy: &mut Value) {
    let Some(rules) = policy.get_mut("Rules").and_then(|r| r.as_array_mut()) else {
        return;
    };
    for rule in rules {
        let Some(infos) = rule
            .pointer_mut("/ConditionsMatched/SensitiveInformation")
            .and_then(|s| s.as_array_mut())
        else {
            continue;
        };
        for info in infos {
            let Some(values) = info
                .pointer_mut("/SensitiveInformationDetections/DetectedValues")
                .and_then(|d| d.as_array_mut())
            else {
                continue;
            };
            for dv in values.iter_mut().filter_map(|v| v.as_object_mut()) {
                for k in ["Name", "Value"] {
                    let masked = match dv.get(k) {
                        Some(Value::String(s)) => mask_text(s),
                        Some(Value::Null) | None => String::new(),
                        Some(other) => mask_text(&crate::flatten::text(other)),
                    };
                    dv.insert(k.into(), Value::String(masked));
                }
            }
        }
    }
}

/// The alert of one `DLP.All` record: `Ok(None)` when a filter drops it (the record still
/// counts as seen), `Err` when it cannot make one (reported, skipped).
pub fn alert(record: &Map<String, Value>, p: &DlpParams) -> Result<Option<Alert>, Skip> {
    let policies = record
        .get("PolicyDetails")
        .and_then(|v| v.as_array())
        .ok_or_else(|| Skip::malformed(record, "no PolicyDetails list"))?;
    // A record without a valid CreationTime cannot make an alert, filtered or not.
    creation_ms(record)?;
    let (workload, operation) = (field(record, "Workload"), field(record, "Operation"));
    if !workload_passes(workload, &p.platform_list, p.list_as_blacklist)
        || p.operation_filter.iter().any(|o| o == operation)
        || policies.iter().any(|pol| {
            let name = pol.get("PolicyName").and_then(|n| n.as_str()).unwrap_or("");
            p.policy_filter.iter().any(|f| f == name)
        })
    {
        return Ok(None);
    }
    let severities: Vec<&str> = policies
        .iter()
        .filter_map(|pol| pol.get("Rules")?.as_array())
        .flatten()
        .map(|r| r.get("Severity").and_then(|s| s.as_str()).unwrap_or(""))
        .collect();
    let Some(priority) = severities.iter().map(|s| priority(s)).max() else {
        return Err(Skip::malformed(
            record,
            "no rule in PolicyDetails: no priority",
        ));
    };
    let environment = p.environment.of(record);
    let events = policies
        .iter()
        .map(|pol| {
            let mut pol = pol.clone();
            if p.mask {
                mask_policy(&mut pol);
            }
            let mut r = record.clone();
            r.insert("PolicyDetails".into(), pol);
            flatten(&r)
        })
        .collect();
    Alert::of(
        "dlp",
        record,
        format!("{workload} {operation}"),
        priority,
        environment,
        events,
    )
    .map(Some)
}
