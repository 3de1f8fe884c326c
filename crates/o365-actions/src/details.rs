//! The action-specific part of a result (`json_result`), as types.

use serde::{Deserialize, Serialize};

/// What an action reports besides its status and message.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Details {
    /// Nothing (the action could not start).
    #[default]
    Empty,
    /// Ping.
    Ping(Box<PingDetails>),
    /// Start or Stop Subscription.
    Change(ChangeDetails),
    /// List Subscriptions.
    List(ListDetails),
    /// List Content.
    Content(ContentDetails),
}

impl Serialize for Details {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        // Through a `Value`: its keys come out sorted, as this object has always had them.
        let v = match self {
            Details::Empty => Ok(serde_json::json!({})),
            Details::Ping(d) => serde_json::to_value(d),
            Details::Change(d) => serde_json::to_value(d),
            Details::List(d) => serde_json::to_value(d),
            Details::Content(d) => serde_json::to_value(d),
        }
        .map_err(S::Error::custom)?;
        v.serialize(s)
    }
}

/// One check of Ping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Whether it passed.
    pub ok: bool,
    /// How long it took.
    pub ms: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Roles in the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Tenant GUID in the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Token lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_s: Option<u64>,
    /// Subscriptions listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// What it checks does not exist here (Graph's audit search in GCC High or DoD): not a
    /// failure of the setup, nothing to fix.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unavailable: bool,
}

impl Check {
    /// A passed check.
    pub fn passed(ms: u64) -> Self {
        Self {
            ok: true,
            ms,
            error: None,
            roles: None,
            tenant_id: None,
            expires_in_s: None,
            count: None,
            unavailable: false,
        }
    }

    /// A failed check.
    pub fn failed(ms: u64, error: String) -> Self {
        Self {
            ok: false,
            error: Some(error),
            ..Self::passed(ms)
        }
    }
}

/// The checks of Ping, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checks {
    /// Sign-in.
    pub token: Check,
    /// `subscriptions/list`, when sign-in passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions_list: Option<Check>,
    /// Whether Graph's audit search (backfill beyond 7 days, gap repair) is usable: the cloud
    /// has it, a Graph token can be had, and it carries AuditLogsQuery.Read.All. It fails
    /// nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_search: Option<Check>,
}

/// What Ping found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingDetails {
    /// Cloud name.
    pub cloud: String,
    /// API root in use.
    pub api_root: String,
    /// Login endpoint in use.
    pub login_endpoint: String,
    /// The proxy requests go through, when one does (its password hidden).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<o365_api::ProxyInUse>,
    /// The checks.
    pub checks: Checks,
    /// Roles in the token, when sign-in passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Tenant GUID from the token, when sign-in passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The listing, when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions: Option<Vec<o365_api::Subscription>>,
}

/// The outcome for one content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Created or re-enabled.
    Started,
    /// Was already enabled (AF20024): success.
    AlreadyEnabled,
    /// Stopped.
    Stopped,
    /// There was no subscription to stop (AF20022): nothing to do.
    NotSubscribed,
    /// The call failed.
    Failed,
}

/// A per-type error from the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeError {
    /// AF code (or AADSTS code), when given.
    pub code: Option<String>,
    /// HTTP status, when there was one.
    pub http_status: Option<u16>,
    /// Readable message with the fix.
    pub message: String,
}

/// One content type's line in `json_result.subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeOutcome {
    /// Canonical content type.
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// What happened.
    pub outcome: Outcome,
    /// Subscription status afterwards (`enabled`, `disabled`, `none`), when known.
    pub status: Option<String>,
    /// The webhook, if any.
    pub webhook: Option<serde_json::Value>,
    /// The error, when the outcome is `failed`.
    pub error: Option<TypeError>,
    /// The message for this type.
    pub message: String,
}

/// A data gap in a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapReport {
    /// Canonical content type.
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// Start of the gap (inclusive).
    pub stopped_at: String,
    /// End of the gap (exclusive), `null` while still stopped.
    pub started_at: Option<String>,
    /// Length in seconds (up to now while open).
    pub seconds: i64,
    /// How it is known.
    pub source: o365_store::GapSource,
    /// What backfilling through Graph's audit search made of it, once tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<RepairReport>,
}

/// What backfilling made of a gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairReport {
    /// `repaired`, or `not repaired`.
    pub status: String,
    /// When it was tried.
    pub at: String,
    /// Events recovered (written by the repair).
    pub events_recovered: u64,
    /// Events of the span that were already there.
    pub already_there: u64,
    /// Why it is not repaired.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl GapReport {
    /// From a ledger row.
    pub fn from_gap(g: &o365_store::Gap, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            content_type: g.content_type.clone(),
            stopped_at: crate::stamp(g.stopped_at),
            started_at: g.started_at.map(crate::stamp),
            seconds: g.seconds(now),
            source: g.source,
            repair: g.repair.as_ref().map(|r| RepairReport {
                status: if r.repaired {
                    "repaired"
                } else {
                    "not repaired"
                }
                .into(),
                at: crate::stamp(r.at),
                events_recovered: r.events_written,
                already_there: r.already_there,
                reason: r.reason.clone(),
            }),
        }
    }
}

/// What Start or Stop Subscription did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeDetails {
    /// One line per content type.
    pub subscriptions: Vec<TypeOutcome>,
    /// Gaps closed by this start.
    pub gaps: Vec<GapReport>,
    /// The data-loss warning (Stop).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// What List Subscriptions found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDetails {
    /// The listing.
    pub subscriptions: Vec<o365_api::Subscription>,
    /// Content types not enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_enabled: Option<Vec<String>>,
    /// Gaps still open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_gaps: Option<Vec<GapReport>>,
}

/// What List Content found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentDetails {
    /// The content type.
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// Window start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Window end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// 24-hour windows listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<usize>,
    /// Blobs found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// The blobs.
    pub blobs: Vec<o365_api::ContentBlob>,
}
