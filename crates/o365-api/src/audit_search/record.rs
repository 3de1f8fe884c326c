//! A page of Graph `auditLogRecord`s turned into the events the Management Activity API would
//! have served: each record's `auditData` without its OData annotations, its `Id` the record's
//! `id`; and which content type each belongs to.

use crate::audit_search::strip::strip;
use crate::event::{decode_blob_shared, SharedEvent};
use crate::{ContentType, Error};

/// The content type of a record type number: the workload's feed (Azure AD, Exchange,
/// SharePoint and OneDrive), DLP rule matches to `DLP.All`, everything else (and every type
/// not in this table) to `Audit.General`, as the Management Activity API files them.
pub fn content_type_of(record_type: Option<i64>) -> ContentType {
    match record_type {
        // AzureActiveDirectory, AzureActiveDirectoryAccountLogon, AzureActiveDirectoryStsLogon
        Some(8 | 9 | 15) => ContentType::AzureActiveDirectory,
        // ExchangeAdmin, ExchangeItem, ExchangeItemGroup, ExchangeItemAggregated
        Some(1..=3 | 50) => ContentType::Exchange,
        // SharePoint, SharePointFileOperation, SharePointSharingOperation,
        // SharePointListOperation
        Some(4 | 6 | 14 | 36) => ContentType::SharePoint,
        // ComplianceDLPSharePoint, ComplianceDLPExchange, ComplianceDLPSharePointClassification
        Some(11 | 13 | 33) => ContentType::DlpAll,
        _ => ContentType::General,
    }
}

/// The `auditLogRecordType` names (as `recordTypeFilters` takes them) of the record types this
/// table files under `ct`; empty for `Audit.General` (everything else: ask for all, keep what
/// files there).
pub fn record_type_filters(ct: ContentType) -> &'static [&'static str] {
    match ct {
        ContentType::AzureActiveDirectory => &[
            "azureActiveDirectory",
            "azureActiveDirectoryAccountLogon",
            "azureActiveDirectoryStsLogon",
        ],
        ContentType::Exchange => &[
            "exchangeAdmin",
            "exchangeItem",
            "exchangeItemGroup",
            "exchangeItemAggregated",
        ],
        ContentType::SharePoint => &[
            "sharePoint",
            "sharePointFileOperation",
            "sharePointSharingOperation",
            "sharePointListOperation",
        ],
        ContentType::DlpAll => &[
            "complianceDLPSharePoint",
            "complianceDLPExchange",
            "complianceDLPSharePointClassification",
        ],
        ContentType::General => &[],
    }
}

/// A page of records: the events, and the next page's address.
#[derive(Debug)]
pub struct RecordPage {
    /// The records' events, in the page's order.
    pub events: Vec<SharedEvent>,
    /// `@odata.nextLink`, when there is more.
    pub next: Option<String>,
}

#[derive(serde::Deserialize)]
struct Page<'a> {
    #[serde(borrow, default)]
    value: Vec<Rec<'a>>,
    #[serde(rename = "@odata.nextLink")]
    next: Option<String>,
}

#[derive(serde::Deserialize)]
struct Rec<'a> {
    id: Option<String>,
    #[serde(rename = "auditData", borrow)]
    audit_data: Option<&'a serde_json::value::RawValue>,
}

fn bad(path: String, message: impl Into<String>) -> Error {
    Error::Decode {
        what: "Graph audit records".into(),
        path,
        message: message.into(),
    }
}

/// Decode a page of `/security/auditLog/queries/{id}/records`.
pub fn decode_page(body: &[u8]) -> Result<RecordPage, Error> {
    let page: Page<'_> =
        serde_json::from_slice(body).map_err(|e| bad("$".into(), e.to_string()))?;
    let mut array = String::with_capacity(body.len());
    array.push('[');
    for (i, r) in page.value.iter().enumerate() {
        let Some(data) = r.audit_data else {
            return Err(bad(format!("$.value[{i}]"), "a record without auditData"));
        };
        let event =
            strip(data.get()).map_err(|e| bad(format!("$.value[{i}].auditData"), e.to_string()))?;
        if i > 0 {
            array.push(',');
        }
        array.push_str(&event);
    }
    array.push(']');
    let events = decode_blob_shared(bytes::Bytes::from(array))
        .map_err(|e| bad("$.value".into(), e.to_string()))?;
    for (i, (e, r)) in events.iter().zip(&page.value).enumerate() {
        // The same event through both APIs has one identity: the record's id is its Id.
        if let Some(id) = &r.id {
            if !id.eq_ignore_ascii_case(e.id()) {
                return Err(bad(
                    format!("$.value[{i}].id"),
                    format!("{id:?} is not the record's Id {:?}", e.id()),
                ));
            }
        }
    }
    Ok(RecordPage {
        events,
        next: page.next.filter(|n| !n.trim().is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_becomes_the_feed_event_and_its_type_files_it() {
        let feed = r#"{"CreationTime":"2026-11-02T10:00:00","Id":"1b1f0c6a-0000-4000-8000-000000000001","Operation":"UserLoggedIn","OrganizationId":"t","RecordType":15,"UserType":0,"Version":1,"Workload":"AzureActiveDirectory","UserId":"a@b"}"#;
        let annotated = r##"{"@odata.type":"#microsoft.graph.security.defaultAuditData","CreationTime":"2026-11-02T10:00:00","Id":"1b1f0c6a-0000-4000-8000-000000000001","Operation":"UserLoggedIn","OrganizationId":"t","RecordType":15,"RecordType@odata.type":"#Int64","UserType":0,"UserType@odata.type":"#Int64","Version":1,"Version@odata.type":"#Int64","Workload":"AzureActiveDirectory","UserId":"a@b"}"##;
        let body = format!(
            r#"{{"value":[{{"id":"1b1f0c6a-0000-4000-8000-000000000001","createdDateTime":"2026-11-02T10:00:00Z","auditLogRecordType":"azureActiveDirectoryStsLogon","userId":"key","auditData":{annotated}}}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/next"}}"#
        );
        let p = decode_page(body.as_bytes()).unwrap();
        assert_eq!(p.events.len(), 1);
        assert_eq!(
            p.events[0].raw_str(),
            feed,
            "byte for byte the feed's record"
        );
        assert_eq!(
            p.events[0].user_id(),
            Some("a@b"),
            "the classic UserId, not the envelope's"
        );
        assert_eq!(
            content_type_of(p.events[0].record_type),
            ContentType::AzureActiveDirectory
        );
        assert_eq!(
            p.next.as_deref(),
            Some("https://graph.microsoft.com/v1.0/next")
        );
        // A record whose id is not its event's Id is refused, naming where.
        let wrong = body.replace(
            r#""id":"1b1f0c6a-0000-4000-8000-000000000001""#,
            r#""id":"other""#,
        );
        let e = decode_page(wrong.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("$.value[0].id"), "{e}");
        assert!(decode_page(br#"{"value":[{"id":"x"}]}"#).is_err());
        assert_eq!(decode_page(br#"{"value":[]}"#).unwrap().events.len(), 0);
    }

    #[test]
    fn every_named_type_files_where_its_filter_asks() {
        for (n, ct) in [
            (15, ContentType::AzureActiveDirectory),
            (50, ContentType::Exchange),
            (14, ContentType::SharePoint),
            (13, ContentType::DlpAll),
            (25, ContentType::General),
            (99_999, ContentType::General),
        ] {
            assert_eq!(content_type_of(Some(n)), ct, "{n}");
        }
        assert_eq!(content_type_of(None), ContentType::General);
        for ct in ContentType::ALL {
            assert_eq!(
                record_type_filters(ct).is_empty(),
                ct == ContentType::General
            );
        }
    }
}
