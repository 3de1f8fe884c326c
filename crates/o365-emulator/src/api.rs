//! The Activity API: `/api/v1.0/{tenant}/activity/feed/...`: what every operation shares
//! (answers, queries, authorization); the operations are in `feed_subscriptions.rs` and
//! `feed_content.rs`.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::cloud::Addressed;
use crate::config::is_guid;
use crate::content::{event_id, hash, ContentType};
use crate::state::Shared;
use crate::token::verify_bearer;

pub(crate) const ZERO_GUID: &str = "00000000-0000-0000-0000-000000000000";
pub(crate) const DAY_MS: i64 = 86_400_000;

/// A JSON response with the service's content type.
pub fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// The AF error envelope.
pub fn af(status: u16, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
}

/// The ASP.NET default 401 for a rejected bearer token.
pub(crate) fn denied() -> Response {
    let mut r = json(
        StatusCode::UNAUTHORIZED,
        r#"{"Message":"Authorization has been denied for this request."}"#,
    );
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// Query parameters with lower-cased names (the service matches names case-insensitively).
pub struct Query(HashMap<String, String>);

impl Query {
    /// Parse a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        let mut m = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            m.entry(k.to_ascii_lowercase())
                .or_insert_with(|| v.into_owned());
        }
        Self(m)
    }

    /// A parameter by (case-insensitive) name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// Operation names as the service reports them.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    Start,
    Stop,
    List,
    Content,
    Notifications,
    Blob,
    Dlp,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Start => "StartSubscription",
            Op::Stop => "StopSubscription",
            Op::List => "ListSubscriptions",
            Op::Content => "ListContent",
            Op::Notifications => "ListNotifications",
            Op::Blob => "GetBlob",
            Op::Dlp => "GetDlpSensitiveTypes",
        }
    }
}

/// The request after authentication: which tenant, which app.
pub(crate) struct Caller {
    pub(crate) tenant: usize,
    pub(crate) appid: String,
    pub(crate) publisher: String,
    /// The origin the request was addressed to (a cloud's API host, or the emulator's own):
    /// the URIs in answers point there.
    pub(crate) origin: String,
}

/// Authenticate, authorise, check the tenant and take from the budget.
pub(crate) fn authorize(
    st: &Shared,
    path_tenant: &str,
    headers: &HeaderMap,
    q: &Query,
    op: Op,
    ct: Option<ContentType>,
) -> Result<Caller, Response> {
    let claims = verify_bearer(st, headers).map_err(|_| denied())?;
    if !is_guid(path_tenant) {
        return Err(af(
            400,
            "AF20013",
            &format!("The tenant ID passed in the URL ({path_tenant}) is not a valid GUID."),
        ));
    }
    let same = path_tenant.eq_ignore_ascii_case(&claims.tid)
        || (st.cfg.api.lenient_tenant && path_tenant.eq_ignore_ascii_case(&claims.appid));
    if !same {
        return Err(af(
            401,
            "AF20010",
            &format!(
                "The tenant ID passed in the URL ({path_tenant}) does not match the tenant ID passed in the access token ({}).",
                claims.tid
            ),
        ));
    }
    let addressed = Addressed::of(headers);
    // A cloud's API host knows only that cloud's tenants.
    let Some(tenant) = st.tenant_index(&claims.tid).filter(|t| match addressed {
        Addressed::Api(c) => st.tenants[*t].cloud == c,
        _ => true,
    }) else {
        return Err(af(
            400,
            "AF20011",
            &format!(
                "Specified tenant ID ({}) does not exist in the system or has been deleted.",
                claims.tid
            ),
        ));
    };
    let has = |r: &str| claims.roles.iter().any(|x| x == r);
    if !has("ActivityFeed.Read")
        || (ct == Some(ContentType::DlpAll) && !has("ActivityFeed.ReadDlp"))
    {
        return Err(af(
            401,
            "AF10001",
            &format!(
                "The permission set ({}) sent in the request does not include the expected permission.",
                claims.roles.join(" ")
            ),
        ));
    }
    let publisher = q
        .get("PublisherIdentifier")
        .filter(|p| !p.is_empty())
        .unwrap_or(ZERO_GUID)
        .to_string();
    if !st.take_budget(tenant) {
        let th = st.throttle.read().clone();
        let mut r = af(
            th.status,
            "AF429",
            &format!(
                "Too many requests. Method={}, PublisherId={publisher}",
                op.name()
            ),
        );
        if let Some(s) = th.retry_after_secs {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        return Err(r);
    }
    if !*st.tenants[tenant].audit_enabled.read() && !matches!(op, Op::Dlp) {
        return Err(audit_off(
            st,
            path_tenant,
            &claims.appid,
            &claims.tid,
            &publisher,
            op,
            ct,
        ));
    }
    Ok(Caller {
        tenant,
        appid: claims.appid,
        publisher,
        origin: match addressed {
            Addressed::Api(c) => c.api_root().to_string(),
            _ => st.base_url.clone(),
        },
    })
}

/// The malformed 400 the service gives when unified audit logging is off.
pub(crate) fn audit_off(
    st: &Shared,
    url_tenant: &str,
    appid: &str,
    tid: &str,
    publisher: &str,
    op: Op,
    ct: Option<ContentType>,
) -> Response {
    let corr = event_id(hash(&[
        st.cfg.seed,
        0xc0,
        st.fault_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    ]));
    let code = format!(
        "{} [CorrId={corr}][TenantId={url_tenant},ContentType={},ApplicationId={appid},PublisherId={publisher}][AppId",
        op.name(),
        ct.map(ContentType::as_str).unwrap_or("")
    );
    let message = format!(
        "{}] failed. Exception: Microsoft.Office.Compliance.Audit.DataServiceException: Tenant {tid} does not exist.\r\n   at Microsoft.Office.Compliance.Audit.API.AzureManager.<GetSubscriptionTableClientForTenantAsync>d__52.MoveNext() in d:\\dbs\\sh\\nibr\\0527_120000\\cmd\\1\\sources\\dev\\auditing\\src\\api\\AzureManager.cs:line 2113\r\n--- End of stack trace from previous location where exception was thrown ---\r\n   at System.Runtime.CompilerServices.TaskAwaiter.ThrowForNonSuccess(Task task)\r\n   at Microsoft.Office.Compliance.Audit.API.AzureManager.<GetSubscriptionsAsync>d__40.MoveNext() in d:\\dbs\\sh\\nibr\\0527_120000\\cmd\\1\\sources\\dev\\auditing\\src\\api\\AzureManager.cs:line 1623",
        appid.get(1..).unwrap_or("")
    );
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    json(StatusCode::BAD_REQUEST, body)
}

/// Parse and check the `contentType` parameter.
pub(crate) fn content_type(st: &Shared, q: &Query) -> Result<ContentType, Response> {
    let Some(v) = q.get("contentType") else {
        return Err(af(400, "AF20001", "Missing parameter: contentType."));
    };
    ContentType::parse(v, st.cfg.api.case_insensitive_content_types)
        .ok_or_else(|| af(400, "AF20020", "The specified content type is not valid."))
}

pub use crate::feed_content::parse_time;
pub(crate) use crate::feed_content::{blob, content, dlp_types, notifications};
pub(crate) use crate::feed_subscriptions::{list, start, stop};
