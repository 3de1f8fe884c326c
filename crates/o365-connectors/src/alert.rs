//! An alert as the SOAR receives it from a connector, and what both connectors share: its
//! environment, its time, the vendor and product.

use chrono::NaiveDateTime;
use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value};

/// Vendor on every alert.
pub const VENDOR: &str = "Microsoft";
/// Product on every alert.
pub const PRODUCT: &str = "Office 365 Management API";

/// One alert (the SOAR's alert info), with stable field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Which connector made it: `dlp` or `audit-general`.
    pub connector: &'static str,
    /// The record's `Id`.
    pub ticket_id: String,
    /// A new random id on every build (as the connectors do).
    pub display_id: String,
    /// `"<Workload> <Operation>"` (DLP) or `"<Workload>, <Operation>"` (Audit.General).
    pub name: String,
    /// The same as the name.
    pub description: String,
    /// The same as the name.
    pub rule_generator: String,
    /// `Microsoft`.
    pub device_vendor: &'static str,
    /// `Office 365 Management API`.
    pub device_product: &'static str,
    /// -1 (informational), 40, 60, 80 or 100.
    pub priority: i32,
    /// The record's `IncidentId` (normally absent from Audit.General records).
    pub source_grouping_identifier: Option<String>,
    /// `CreationTime` as UTC, in Unix milliseconds.
    pub start_time: i64,
    /// The same as `start_time`.
    pub end_time: i64,
    /// From the environment field and pattern, else the default environment.
    pub environment: String,
    /// Flattened events.
    pub events: Vec<Map<String, Value>>,
}

impl Alert {
    /// The alert of `record` as a connector builds it: `name` is also its description and rule
    /// generator; the time is the record's; grouping on `IncidentId`.
    pub(crate) fn of(
        connector: &'static str,
        record: &Map<String, Value>,
        name: String,
        priority: i32,
        environment: String,
        events: Vec<Map<String, Value>>,
    ) -> Result<Alert, Skip> {
        let start = creation_ms(record)?;
        Ok(Alert {
            connector,
            ticket_id: field(record, "Id").into(),
            display_id: uuid::Uuid::new_v4().to_string(),
            description: name.clone(),
            rule_generator: name.clone(),
            name,
            device_vendor: VENDOR,
            device_product: PRODUCT,
            priority,
            source_grouping_identifier: record
                .get("IncidentId")
                .and_then(|v| v.as_str())
                .map(String::from),
            start_time: start,
            end_time: start,
            environment,
            events,
        })
    }
}

/// Why a record makes no alert (reported, and the record is skipped, not retried forever).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Skip {
    /// A field the alert needs is missing or of the wrong kind.
    #[error("record {id}: {problem}")]
    Malformed {
        /// The record's `Id` (or `?`).
        id: String,
        /// What is wrong.
        problem: String,
    },
}

impl Skip {
    pub(crate) fn malformed(record: &Map<String, Value>, problem: impl Into<String>) -> Self {
        Skip::Malformed {
            id: record
                .get("Id")
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_string(),
            problem: problem.into(),
        }
    }
}

/// Where an alert's environment comes from.
#[derive(Debug, Clone)]
pub struct EnvironmentRule {
    /// Top-level field of the raw record (empty: none).
    pub field: String,
    /// Pattern whose whole match is taken (`.*` or empty: the value as is).
    pub pattern: Option<Regex>,
    /// Used when the field is missing or empty.
    pub default: String,
}

impl Default for EnvironmentRule {
    fn default() -> Self {
        Self {
            field: String::new(),
            pattern: None,
            default: "Default Environment".into(),
        }
    }
}

impl EnvironmentRule {
    /// The rule from the connectors' parameters; a pattern that is not a valid regex is named.
    pub fn new(field: &str, pattern: &str, default: &str) -> Result<Self, String> {
        let p = pattern.trim();
        let pattern = if p.is_empty() || p == ".*" {
            None
        } else {
            Some(Regex::new(p).map_err(|e| {
                format!("Environment Regex Pattern {p:?} is not a valid regular expression: {e}")
            })?)
        };
        Ok(Self {
            field: field.trim().into(),
            pattern,
            default: default.into(),
        })
    }

    /// The environment of a raw (unflattened) record.
    pub fn of(&self, record: &Map<String, Value>) -> String {
        if self.field.is_empty() {
            return self.default.clone();
        }
        let value = match record.get(&self.field) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => String::new(),
            Some(v) => crate::flatten::text(v),
        };
        let value = match &self.pattern {
            Some(re) => match re.find(&value) {
                Some(m) => m.as_str().to_string(),
                None => value,
            },
            None => value,
        };
        if value.is_empty() {
            self.default.clone()
        } else {
            value
        }
    }
}

/// `CreationTime` (`2024-05-14T09:21:37`, read as UTC) in Unix milliseconds.
pub(crate) fn creation_ms(record: &Map<String, Value>) -> Result<i64, Skip> {
    let s = record
        .get("CreationTime")
        .and_then(|v| v.as_str())
        .ok_or_else(|| Skip::malformed(record, "no CreationTime"))?;
    let t = s.trim_end_matches('Z');
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|n| n.and_utc().timestamp_millis())
        .map_err(|e| Skip::malformed(record, format!("CreationTime {s:?}: {e}")))
}

/// A top-level string field, or `""`.
pub(crate) fn field<'a>(record: &'a Map<String, Value>, k: &str) -> &'a str {
    record.get(k).and_then(|v| v.as_str()).unwrap_or("")
}
