//! Wire types of the Activity API.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Error;

/// The five content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ContentType {
    /// `Audit.AzureActiveDirectory`
    #[serde(rename = "Audit.AzureActiveDirectory")]
    AzureActiveDirectory,
    /// `Audit.Exchange`
    #[serde(rename = "Audit.Exchange")]
    Exchange,
    /// `Audit.SharePoint`
    #[serde(rename = "Audit.SharePoint")]
    SharePoint,
    /// `Audit.General`
    #[serde(rename = "Audit.General")]
    General,
    /// `DLP.All`
    #[serde(rename = "DLP.All")]
    DlpAll,
}

impl ContentType {
    /// All five, in canonical order.
    pub const ALL: [ContentType; 5] = [
        ContentType::AzureActiveDirectory,
        ContentType::Exchange,
        ContentType::SharePoint,
        ContentType::General,
        ContentType::DlpAll,
    ];

    /// Canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::AzureActiveDirectory => "Audit.AzureActiveDirectory",
            ContentType::Exchange => "Audit.Exchange",
            ContentType::SharePoint => "Audit.SharePoint",
            ContentType::General => "Audit.General",
            ContentType::DlpAll => "DLP.All",
        }
    }
}

impl std::fmt::Display for ContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContentType {
    type Err = Error;
    /// Case-insensitive.
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        ContentType::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| Error::Config {
                field: "content type",
                value: s.into(),
                problem: format!(
                    "allowed are {}",
                    ContentType::ALL.map(|c| c.as_str()).join(", ")
                ),
            })
    }
}

/// A webhook on a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// HTTPS address.
    pub address: String,
    /// Sent back as `Webhook-AuthID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_id: Option<String>,
    /// When notifications stop.
    #[serde(default)]
    pub expiration: Option<String>,
    /// `enabled`, `disabled` or `expired` (in answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A subscription as the service reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Content type (as the service spells it).
    pub content_type: String,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub status: String,
    /// The webhook, if any.
    #[serde(default)]
    pub webhook: Option<Webhook>,
}

impl Subscription {
    /// True when the status is `enabled`.
    pub fn is_enabled(&self) -> bool {
        self.status.eq_ignore_ascii_case("enabled")
    }
}

/// What a start did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// The subscription was created or re-enabled (or its webhook changed).
    Started(Subscription),
    /// It was already enabled with the same properties (AF20024): success.
    AlreadyEnabled,
}

/// One available content blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlob {
    /// Content type.
    pub content_type: String,
    /// Opaque id.
    pub content_id: String,
    /// Where to fetch it.
    pub content_uri: String,
    /// When it became available (UTC).
    pub content_created: DateTime<Utc>,
    /// When it expires.
    #[serde(default)]
    pub content_expiration: Option<DateTime<Utc>>,
}

/// One webhook notification attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Content type.
    pub content_type: String,
    /// Content id.
    pub content_id: String,
    /// Content URI.
    pub content_uri: String,
    /// Blob creation time.
    pub content_created: DateTime<Utc>,
    /// When the notification was sent.
    #[serde(default)]
    pub notification_sent: Option<DateTime<Utc>>,
    /// `success` or another status.
    #[serde(default)]
    pub notification_status: Option<String>,
}

/// A DLP sensitive information type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DlpSensitiveType {
    /// GUID.
    pub id: String,
    /// Friendly name.
    pub name: String,
}

/// One audit event: the raw JSON bytes as served, plus the fields a collector needs.
#[derive(Debug, Clone)]
pub struct Event {
    /// The event exactly as the service sent it.
    pub raw: Box<RawValue>,
    /// `Id` (the de-duplication key).
    pub id: String,
    /// `CreationTime` (UTC, no zone on the wire).
    pub creation_time: Option<NaiveDateTime>,
    /// `RecordType` (numbers or strings are both accepted).
    pub record_type: Option<i64>,
    /// `Operation`.
    pub operation: Option<String>,
    /// `Workload`.
    pub workload: Option<String>,
    /// `UserId`.
    pub user_id: Option<String>,
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(rename = "Id", borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "CreationTime", borrow)]
    creation_time: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "RecordType")]
    record_type: Option<serde_json::Value>,
    #[serde(rename = "Operation", borrow)]
    operation: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "Workload", borrow)]
    workload: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "UserId", borrow)]
    user_id: Option<std::borrow::Cow<'a, str>>,
}

/// Parse an event `CreationTime` (`YYYY-MM-DDTHH:MM:SS`, optional fraction and `Z`).
pub fn parse_creation_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim_end_matches('Z');
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

/// Decode a blob (a JSON array of events), keeping each event's bytes.
pub fn decode_blob(body: &[u8]) -> Result<Vec<Event>, Error> {
    let raws: Vec<Box<RawValue>> = serde_json::from_slice(body).map_err(|e| Error::Decode {
        what: "content blob".into(),
        path: format!("$ (line {} column {})", e.line(), e.column()),
        message: e.to_string(),
    })?;
    raws.into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let f: Fields = serde_json::from_str(raw.get()).map_err(|e| Error::Decode {
                what: "content blob".into(),
                path: format!("$[{i}]"),
                message: e.to_string(),
            })?;
            let id = f.id.ok_or_else(|| Error::Decode {
                what: "content blob".into(),
                path: format!("$[{i}].Id"),
                message: "every event must have an Id".into(),
            })?;
            let record_type = match f.record_type {
                Some(serde_json::Value::Number(n)) => n.as_i64(),
                Some(serde_json::Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            Ok(Event {
                id: id.into_owned(),
                creation_time: f.creation_time.as_deref().and_then(parse_creation_time),
                record_type,
                operation: f.operation.map(|c| c.into_owned()),
                workload: f.workload.map(|c| c.into_owned()),
                user_id: f.user_id.map(|c| c.into_owned()),
                raw,
            })
        })
        .collect()
}

/// Decode a JSON array answer into `T`s, naming the path of the first bad item.
pub fn decode_array<T: serde::de::DeserializeOwned>(
    what: &str,
    body: &[u8],
) -> Result<Vec<T>, Error> {
    let raws: Vec<Box<RawValue>> = serde_json::from_slice(body).map_err(|e| Error::Decode {
        what: what.into(),
        path: format!("$ (line {} column {})", e.line(), e.column()),
        message: e.to_string(),
    })?;
    raws.iter()
        .enumerate()
        .map(|(i, r)| {
            serde_json::from_str(r.get()).map_err(|e| Error::Decode {
                what: what.into(),
                path: format!("$[{i}]"),
                message: e.to_string(),
            })
        })
        .collect()
}
