//! Wire types of the Activity API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Error;

pub use o365_vocab::ContentType;

impl From<o365_vocab::UnknownContentType> for Error {
    fn from(e: o365_vocab::UnknownContentType) -> Self {
        Error::Config {
            field: "content type",
            value: e.0,
            problem: o365_vocab::UnknownContentType::allowed(),
        }
    }
}

/// A webhook on a subscription. Its AuthID is a secret: serialized (our output, MCP, the
/// journal) and debug-printed as `[hidden]`; only the request that starts a subscription
/// carries it ([`Webhook::wire`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// HTTPS address.
    pub address: String,
    /// Sent back as `Webhook-AuthID`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "hidden"
    )]
    pub auth_id: Option<String>,
    /// When notifications stop.
    #[serde(default)]
    pub expiration: Option<String>,
    /// `enabled`, `disabled` or `expired` (in answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A secret's place in output: that it is set, never what it is.
fn hidden<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[hidden]"),
        None => s.serialize_none(),
    }
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("address", &self.address)
            .field("auth_id", &self.auth_id.as_ref().map(|_| "[hidden]"))
            .field("expiration", &self.expiration)
            .field("status", &self.status)
            .finish()
    }
}

impl Webhook {
    /// The webhook as the service takes it (`subscriptions/start`), its AuthID included.
    pub fn wire(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "address": self.address, "expiration": self.expiration });
        if let Some(a) = &self.auth_id {
            v["authId"] = a.clone().into();
        }
        v
    }
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

    /// The subscription of `ct` in a listing (content types compared without case).
    pub fn find(subs: &[Subscription], ct: ContentType) -> Option<&Subscription> {
        subs.iter()
            .find(|s| s.content_type.eq_ignore_ascii_case(ct.as_str()))
    }

    /// Whether a listing shows `ct` as enabled.
    pub fn enabled_in(subs: &[Subscription], ct: ContentType) -> bool {
        Self::find(subs, ct).is_some_and(Subscription::is_enabled)
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
