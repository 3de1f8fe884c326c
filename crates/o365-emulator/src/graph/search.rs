//! What a Graph audit search finds: every event of the unified audit log (the same events,
//! with the same `Id`s, the Activity feed serves, and those from before any subscription)
//! whose `CreationTime` lies in the query's range and that passes its filters; and how each is
//! shown as an `auditLogRecord`.

use std::fmt::Write as _;

use crate::content::{BlobKey, ContentType, Generator, TenantInfo};

/// The record types the generator makes: number, `auditLogRecordType` name.
pub const RECORD_TYPES: [(i64, &str); 12] = [
    (1, "ExchangeAdmin"),
    (2, "ExchangeItem"),
    (6, "SharePointFileOperation"),
    (8, "AzureActiveDirectory"),
    (11, "ComplianceDLPSharePoint"),
    (13, "ComplianceDLPExchange"),
    (14, "SharePointSharingOperation"),
    (15, "AzureActiveDirectoryStsLogon"),
    (20, "PowerBIAudit"),
    (25, "MicrosoftTeams"),
    (40, "SecurityComplianceAlerts"),
    (50, "ExchangeItemAggregated"),
];

/// The name of a record type number (`Unknown` for one the table lacks).
pub fn record_type_name(n: i64) -> &'static str {
    RECORD_TYPES
        .iter()
        .find(|(k, _)| *k == n)
        .map_or("Unknown", |(_, v)| v)
}

/// A query's filters, as submitted.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Start of the range (ms, inclusive).
    pub start_ms: i64,
    /// End of the range (ms, exclusive).
    pub end_ms: i64,
    /// `recordTypeFilters` (camelCase names; matched without case).
    pub record_types: Vec<String>,
    /// `keywordFilter`: a substring of the record, without case.
    pub keyword: Option<String>,
    /// `serviceFilters` (the workload).
    pub services: Vec<String>,
    /// `operationFilters`.
    pub operations: Vec<String>,
    /// `userPrincipalNameFilters`.
    pub upns: Vec<String>,
    /// `ipAddressFilters`.
    pub ips: Vec<String>,
    /// `objectIdFilters`.
    pub object_ids: Vec<String>,
    /// `administrativeUnitIdFilters` (no generated event belongs to one).
    pub admin_units: Vec<String>,
}

/// One event found: where it comes from, to write it when a page is asked for.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    /// Its `CreationTime` (seconds).
    pub secs: i64,
    /// Its blob's slot and type.
    pub key: BlobKey,
    /// Its blob's `contentCreated` (ms).
    pub created_ms: i64,
    /// Its index in the blob.
    pub i: u32,
}

fn any_eq(list: &[String], v: Option<&str>) -> bool {
    list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
}

/// Every event of the audit log of `tenant` (index `ti`) between `floor_ms` (the log's reach)
/// and `now_ms` that `f` keeps, in `CreationTime` order.
pub fn search(
    gen: &Generator,
    tenant: &TenantInfo,
    ti: usize,
    f: &Filter,
    floor_ms: i64,
    now_ms: i64,
) -> Vec<Found> {
    let (start, end) = (f.start_ms.max(floor_ms), f.end_ms.min(now_ms));
    let mut out = Vec::new();
    if start >= end || !f.admin_units.is_empty() {
        return out;
    }
    let latency_ms = gen.latency_max_secs as i64 * 1000;
    let mut text = String::new();
    for ct in ContentType::ALL {
        for slot in gen.slots_between(start, end + latency_ms) {
            let key = BlobKey {
                tenant: ti,
                content_type: ct,
                slot,
            };
            let facts = gen.facts(tenant, key);
            if facts.created_ms > now_ms {
                continue;
            }
            for i in 0..gen.events_per_blob {
                let secs = gen.event_secs(tenant, key, facts.created_ms, i);
                let ms = secs * 1000;
                if ms < start || ms >= end {
                    continue;
                }
                text.clear();
                gen.write_event(&mut text, tenant, key, facts.created_ms, i);
                if keeps(f, &text) {
                    out.push(Found {
                        secs,
                        key,
                        created_ms: facts.created_ms,
                        i,
                    });
                }
            }
        }
    }
    out.sort_by_key(|x| (x.secs, x.key.content_type, x.key.slot, x.i));
    out
}

/// Whether the event `text` passes the filters other than time.
fn keeps(f: &Filter, text: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return false;
    };
    let s = |k: &str| v[k].as_str();
    let rt = record_type_name(v["RecordType"].as_i64().unwrap_or(-1));
    (f.record_types.is_empty() || f.record_types.iter().any(|x| x.eq_ignore_ascii_case(rt)))
        && any_eq(&f.services, s("Workload"))
        && any_eq(&f.operations, s("Operation"))
        && any_eq(&f.upns, s("UserId"))
        && any_eq(&f.ips, s("ClientIP"))
        && any_eq(&f.object_ids, s("ObjectId"))
        && f.keyword
            .as_deref()
            .is_none_or(|k| text.to_ascii_lowercase().contains(&k.to_ascii_lowercase()))
}

/// Insert Graph's OData annotations into a classic record (the feed's bytes).
fn annotate(event: &str) -> String {
    let mut s = String::with_capacity(event.len() + 160);
    s.push_str("{\"@odata.type\":\"#microsoft.graph.security.defaultAuditData\",");
    let mut rest = &event[1..];
    for key in ["\"RecordType\":", "\"UserType\":", "\"Version\":"] {
        if let Some(at) = rest.find(key) {
            let value = at + key.len();
            let digits = rest[value..]
                .find(|c: char| !c.is_ascii_digit() && c != '-')
                .map_or(rest.len(), |n| value + n);
            s.push_str(&rest[..digits]);
            let _ = write!(s, ",{}@odata.type\":\"#Int64\"", &key[..key.len() - 2]);
            rest = &rest[digits..];
        }
    }
    s.push_str(rest);
    s
}

/// The `auditLogRecord` of an event found.
pub fn record(gen: &Generator, tenant: &TenantInfo, x: &Found) -> String {
    let mut text = String::new();
    gen.write_event(&mut text, tenant, x.key, x.created_ms, x.i);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let user_type = match v["UserType"].as_i64() {
        Some(0) => "regular",
        Some(2) => "admin",
        Some(4) => "system",
        Some(5) => "application",
        _ => "regular",
    };
    let envelope = serde_json::json!({
        "id": s("Id"),
        "createdDateTime": format!("{}Z", s("CreationTime")),
        "auditLogRecordType": record_type_name(v["RecordType"].as_i64().unwrap_or(-1)),
        "operation": s("Operation"),
        "organizationId": s("OrganizationId"),
        "userType": user_type,
        "userId": s("UserKey"),
        "userPrincipalName": s("UserId"),
        "service": s("Workload"),
        "objectId": s("ObjectId"),
        "clientIp": s("ClientIP"),
        "administrativeUnits": [],
    })
    .to_string();
    // The envelope, then the record as the feed serves it, annotated.
    format!(
        "{},\"auditData\":{}}}",
        &envelope[..envelope.len() - 1],
        annotate(&text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_sit_beside_the_numbers_and_nothing_else_changes() {
        let e = r#"{"CreationTime":"2026-01-01T00:00:00","Id":"x","RecordType":15,"UserType":0,"Version":1,"Workload":"Exchange"}"#;
        let a = annotate(e);
        assert_eq!(
            a,
            r##"{"@odata.type":"#microsoft.graph.security.defaultAuditData","CreationTime":"2026-01-01T00:00:00","Id":"x","RecordType":15,"RecordType@odata.type":"#Int64","UserType":0,"UserType@odata.type":"#Int64","Version":1,"Version@odata.type":"#Int64","Workload":"Exchange"}"##
        );
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["RecordType"], 15);
    }
}
