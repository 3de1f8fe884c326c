//! The Activity API: `/api/v1.0/{tenant}/activity/feed/...`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::config::is_guid;
use crate::content::{event_id, fmt_content_time, hash, BlobFacts, ContentType, ParsedId};
use crate::state::{Shared, Subscription, Webhook};
use crate::token::{pct_decode, verify_bearer};

const ZERO_GUID: &str = "00000000-0000-0000-0000-000000000000";
const DAY_MS: i64 = 86_400_000;

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
fn denied() -> Response {
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
        for p in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            m.entry(pct_decode(k).to_ascii_lowercase())
                .or_insert_with(|| pct_decode(v));
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
enum Op {
    Start,
    Stop,
    List,
    Content,
    Notifications,
    Blob,
    Dlp,
}

impl Op {
    fn name(self) -> &'static str {
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
struct Caller {
    tenant: usize,
    appid: String,
    publisher: String,
}

/// Authenticate, authorise, check the tenant and take from the budget.
fn authorize(
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
    let Some(tenant) = st.tenant_index(&claims.tid) else {
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
    })
}

/// The malformed 400 the service gives when unified audit logging is off.
fn audit_off(
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
fn content_type(st: &Shared, q: &Query) -> Result<ContentType, Response> {
    let Some(v) = q.get("contentType") else {
        return Err(af(400, "AF20001", "Missing parameter: contentType."));
    };
    ContentType::parse(v, st.cfg.api.case_insensitive_content_types)
        .ok_or_else(|| af(400, "AF20020", "The specified content type is not valid."))
}

fn sub_json(ct: ContentType, s: &Subscription) -> serde_json::Value {
    serde_json::json!({
        "contentType": ct.as_str(),
        "status": if s.enabled { "enabled" } else { "disabled" },
        "webhook": s.webhook,
    })
}

#[derive(Deserialize)]
struct StartBody {
    webhook: Option<WebhookIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookIn {
    address: Option<String>,
    auth_id: Option<String>,
    expiration: Option<String>,
}

/// `POST subscriptions/start`.
pub async fn start(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let ct = match content_type(&st, &q) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let caller = match authorize(&st, &tenant, &headers, &q, Op::Start, Some(ct)) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let parsed: StartBody = if body.iter().all(u8::is_ascii_whitespace) {
        StartBody { webhook: None }
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return af(
                    400,
                    "AF20002",
                    &format!("Invalid parameter type: webhook. Expected type: object ({e})"),
                )
            }
        }
    };
    let now = st.clock.now_ms();
    let webhook = match parsed.webhook {
        None => None,
        Some(w) => match validate_webhook(&st, w, now).await {
            Ok(w) => Some(w),
            Err(r) => return r,
        },
    };
    let t = &st.tenants[caller.tenant];
    let mut subs = t.subs.write();
    let entry = subs.entry(ct).or_insert_with(|| Subscription {
        enabled: false,
        webhook: None,
        webhook_since_ms: now,
        intervals: vec![],
    });
    if entry.enabled && entry.webhook == webhook {
        return af(
            400,
            "AF20024",
            "The subscription is already enabled. No property change.",
        );
    }
    if !entry.enabled {
        entry.enabled = true;
        entry.intervals.push((now, None));
    }
    if entry.webhook != webhook {
        entry.webhook_since_ms = now;
        entry.webhook = webhook;
    }
    tracing::debug!(tenant = %t.info.id, content_type = ct.as_str(), app = %caller.appid, "subscription started");
    json(StatusCode::OK, sub_json(ct, entry).to_string())
}

async fn validate_webhook(st: &Shared, w: WebhookIn, now: i64) -> Result<Webhook, Response> {
    let address = w.address.unwrap_or_default();
    if address.is_empty() {
        return Err(af(400, "AF20001", "Missing parameter: address."));
    }
    let loopback = ["http://127.", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| address.starts_with(p));
    let https = address.to_ascii_lowercase().starts_with("https://");
    if !(https || st.cfg.api.allow_loopback_http_webhooks && loopback) {
        return Err(af(
            400,
            "AF20021",
            &format!(
                "The webhook endpoint {address} could not be validated. The address must begin with HTTPS."
            ),
        ));
    }
    let expiration = w.expiration.filter(|e| !e.is_empty());
    if let Some(e) = &expiration {
        match parse_time(e) {
            Some(t) if t <= now => {
                return Err(af(
                    400,
                    "AF20003",
                    &format!("Expiration {e} provided is set to past date and time."),
                ))
            }
            Some(_) => {}
            None => {
                return Err(af(
                    400,
                    "AF20002",
                    "Invalid parameter type: expiration. Expected type: datetime",
                ))
            }
        }
    }
    let code = event_id(hash(&[st.cfg.seed, 0x77, now as u64]));
    let mut req = st
        .http
        .post(&address)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Webhook-ValidationCode", &code)
        .body(serde_json::json!({ "validationCode": code }).to_string());
    if let Some(a) = w.auth_id.as_deref().filter(|a| !a.is_empty()) {
        req = req.header("Webhook-AuthID", a);
    }
    let ok = matches!(req.send().await, Ok(r) if r.status() == reqwest::StatusCode::OK);
    if !ok {
        return Err(af(
            400,
            "AF20021",
            &format!(
                "The webhook endpoint {address} could not be validated. The endpoint did not return HTTP 200."
            ),
        ));
    }
    Ok(Webhook {
        auth_id: w.auth_id.unwrap_or_default(),
        address,
        expiration,
        status: "enabled".into(),
    })
}

/// `POST subscriptions/stop`.
pub async fn stop(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let ct = match content_type(&st, &q) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let caller = match authorize(&st, &tenant, &headers, &q, Op::Stop, Some(ct)) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = st.clock.now_ms();
    let mut subs = st.tenants[caller.tenant].subs.write();
    let Some(s) = subs.get_mut(&ct) else {
        return af(
            400,
            "AF20022",
            "No subscription found for the specified content type.",
        );
    };
    if s.enabled {
        s.enabled = false;
        if let Some(last) = s.intervals.last_mut() {
            last.1 = Some(now);
        }
    }
    let mut r = StatusCode::OK.into_response();
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    r
}

/// `GET subscriptions/list`.
pub async fn list(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let caller = match authorize(&st, &tenant, &headers, &q, Op::List, None) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let subs = st.tenants[caller.tenant].subs.read();
    let arr: Vec<_> = subs.iter().map(|(ct, s)| sub_json(*ct, s)).collect();
    json(StatusCode::OK, serde_json::Value::Array(arr).to_string())
}

/// Parse the service's accepted time formats (UTC; optional fraction and `Z`) to milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix('z'))
        .unwrap_or(s);
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    for f in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

fn fmt_query_time(ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    if ms % 1000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
    }
}

const WINDOW_RULE: &str = "startTime and endTime must both be specified (or both omitted), the startTime must be prior to the endTime, they must be no more than 24 hours apart, and the startTime must be no more than 7 days in the past.";

/// Parse and check a listing window.
fn window(st: &Shared, q: &Query, now: i64) -> Result<(i64, i64), Response> {
    let get = |name: &str| -> Result<Option<i64>, Response> {
        match q.get(name) {
            None => Ok(None),
            Some(v) => parse_time(v).map(Some).ok_or_else(|| {
                af(
                    400,
                    "AF20002",
                    &format!("Invalid parameter type: {name}. Expected type: datetime"),
                )
            }),
        }
    };
    let (s, e) = match (get("startTime")?, get("endTime")?) {
        (None, None) => (now - DAY_MS, now),
        (Some(s), Some(e)) => (s, e),
        _ => return Err(af(400, "AF20055", WINDOW_RULE)),
    };
    if s >= e || e - s > DAY_MS || s < now - st.cfg.api.retention_hours * 3_600_000 {
        return Err(af(400, "AF20055", WINDOW_RULE));
    }
    Ok((s, e))
}

fn page_token(
    st: &Shared,
    tenant: usize,
    ct: ContentType,
    w: (i64, i64),
    off: usize,
    salt: u64,
) -> String {
    let c = hash(&[
        st.cfg.seed,
        st.tenants[tenant].info.hash,
        ct as u64,
        w.0 as u64,
        w.1 as u64,
        off as u64,
        salt,
    ]) % 1_000_000_000_000_000;
    format!("{off:08}R{c:015}")
}

fn parse_page_token(
    st: &Shared,
    tenant: usize,
    ct: ContentType,
    w: (i64, i64),
    tok: &str,
    salt: u64,
) -> Option<usize> {
    let (off, _) = tok.split_once('R')?;
    let off: usize = off.parse().ok()?;
    (page_token(st, tenant, ct, w, off, salt) == tok).then_some(off)
}

/// Shared by `/content` and `/notifications`: checks, then one page of items.
async fn listing(
    st: Shared,
    tenant: String,
    raw: Option<String>,
    headers: HeaderMap,
    op: Op,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let ct = match content_type(&st, &q) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let caller = match authorize(&st, &tenant, &headers, &q, op, Some(ct)) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = st.clock.now_ms();
    let (sub_enabled, webhook_since) = {
        let subs = st.tenants[caller.tenant].subs.read();
        match subs.get(&ct) {
            None => {
                return af(
                    400,
                    "AF20022",
                    "No subscription found for the specified content type.",
                )
            }
            Some(s) => (s.enabled, s.webhook.as_ref().map(|_| s.webhook_since_ms)),
        }
    };
    if !sub_enabled {
        return af(
            400,
            "AF20023",
            "The subscription was disabled by a tenant admin.",
        );
    }
    let w = match window(&st, &q, now) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let salt = matches!(op, Op::Notifications) as u64;
    let offset = match q.get("nextPage") {
        None => None,
        Some(tok) => match parse_page_token(&st, caller.tenant, ct, w, tok, salt) {
            Some(o) => Some(o),
            None => return af(400, "AF20031", &format!("Invalid nextPage Input: {tok}.")),
        },
    };
    let mut blobs = st.blobs_in(caller.tenant, ct, w.0, w.1, Some(now));
    if let Op::Notifications = op {
        match webhook_since {
            None => blobs.clear(),
            Some(since) => {
                blobs.retain(|b| b.created_ms >= since && b.available_ms + 60_000 <= now)
            }
        }
    }
    blobs.sort_by_key(|b| (b.available_ms, b.created_ms));
    let size = st.cfg.api.page_size;
    let (items, next): (&[BlobFacts], Option<usize>) = match offset {
        None if st.cfg.api.empty_first_page => (&[], Some(0)),
        o => {
            let o = o.unwrap_or(0).min(blobs.len());
            let end = (o + size).min(blobs.len());
            (&blobs[o..end], (end < blobs.len()).then_some(end))
        }
    };
    let info = &st.tenants[caller.tenant].info;
    let root = format!("{}/api/v1.0/{}/activity/feed", st.base_url, info.id);
    let mut out = String::with_capacity(items.len() * 400 + 2);
    out.push('[');
    for (i, f) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let id = st.gen.content_id(info, f);
        let mut v = serde_json::json!({
            "contentUri": format!("{root}/audit/{id}"),
            "contentId": id,
            "contentType": ct.as_str(),
            "contentCreated": fmt_content_time(f.created_ms),
            "contentExpiration": fmt_content_time(f.created_ms + 7 * DAY_MS),
        });
        if let Op::Notifications = op {
            v["notificationSent"] = fmt_content_time(f.available_ms + 60_000).into();
            v["notificationStatus"] = "success".into();
        }
        out.push_str(&v.to_string());
    }
    out.push(']');
    let mut r = json(StatusCode::OK, out);
    if let Some(n) = next {
        let path = match op {
            Op::Notifications => "notifications",
            _ => "content",
        };
        let mut uri = format!(
            "{}/api/v1.0/{tenant}/activity/feed/subscriptions/{path}?contentType={}&startTime={}&endTime={}&nextPage={}",
            st.base_url,
            ct.as_str(),
            fmt_query_time(w.0),
            fmt_query_time(w.1),
            page_token(&st, caller.tenant, ct, w, n, salt)
        );
        if st.cfg.api.carry_publisher_identifier && caller.publisher != ZERO_GUID {
            uri.push_str("&PublisherIdentifier=");
            uri.push_str(&caller.publisher);
        }
        if let (Ok(name), Ok(val)) = (
            header::HeaderName::from_bytes(st.cfg.api.next_page_header.as_bytes()),
            HeaderValue::from_str(&uri),
        ) {
            r.headers_mut().insert(name, val);
        }
    }
    r
}

/// `GET subscriptions/content`.
pub async fn content(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    listing(st, tenant, raw, headers, Op::Content).await
}

/// `GET subscriptions/notifications`.
pub async fn notifications(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    listing(st, tenant, raw, headers, Op::Notifications).await
}

/// `GET audit/{contentId}`.
pub async fn blob(
    State(st): State<Shared>,
    Path((tenant, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Query::parse(raw.as_deref());
    // The content type is inside the id; permissions for DLP.All apply to its blobs too.
    let ct = id
        .split('$')
        .nth(3)
        .and_then(|t| ContentType::parse(&t.replace('_', "."), false));
    let caller = match authorize(&st, &tenant, &headers, &q, Op::Blob, ct) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = st.clock.now_ms();
    let info = &st.tenants[caller.tenant].info;
    let f = match st.gen.parse_content_id(info, caller.tenant, &id) {
        ParsedId::Invalid => {
            return af(
                400,
                "AF20052",
                &format!("Blob key {id} in the url is invalid"),
            )
        }
        ParsedId::Unknown => {
            return af(
                404,
                "AF20050",
                &format!("The specified content ({id}) does not exist."),
            )
        }
        ParsedId::Blob(f) => f,
    };
    if !st.blob_exists(&f) || f.available_ms > now {
        return af(
            404,
            "AF20050",
            &format!("The specified content ({id}) does not exist."),
        );
    }
    if f.created_ms + 7 * DAY_MS <= now {
        return af(
            400,
            "AF20051",
            &format!("Content requested with the key {id} has already expired. Content older than 7 days cannot be retrieved."),
        );
    }
    let enabled = st.tenants[caller.tenant]
        .subs
        .read()
        .get(&f.key.content_type)
        .is_some_and(|s| s.enabled);
    if !enabled {
        return af(
            400,
            "AF20023",
            "The subscription was disabled by a tenant admin.",
        );
    }
    let bytes = st.blob_bytes(&f);
    json(StatusCode::OK, bytes)
}

const DLP_TYPES: [(&str, &str); 8] = [
    ("50842eb7-edc8-4019-85dd-5a5c1f2bb085", "CreditCardNumber"),
    (
        "a44669fe-0d48-453d-a9b1-2cc83f2cba77",
        "USSocialSecurityNumber",
    ),
    ("cb353f78-2b72-4c3c-8827-92ebe4f69fdf", "ABARoutingNumber"),
    (
        "a2ce32a8-f935-4bb6-8e96-2a5157672e2c",
        "USBankAccountNumber",
    ),
    ("178ec42a-18b4-47cc-85c7-d62c92fd67f8", "EUDebitCardNumber"),
    ("e7dc4711-11b7-4cb0-b88b-2c394a771f0e", "IBAN"),
    (
        "dfeb356f-61cd-459e-bf0f-7c6d28b458c6",
        "USDriversLicenseNumber",
    ),
    ("0e9b3178-9678-47dd-a509-37222ca96b42", "EUPassportNumber"),
];

/// `GET resources/dlpSensitiveTypes`.
pub async fn dlp_types(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let q = Query::parse(raw.as_deref());
    if let Err(r) = authorize(&st, &tenant, &headers, &q, Op::Dlp, None) {
        return r;
    }
    if let Some(lang) = headers
        .get(header::ACCEPT_LANGUAGE)
        .map(|v| v.to_str().unwrap_or("\u{1}"))
    {
        if lang.contains(',') {
            return af(
                400,
                "AF20053",
                "Only one language may be present in the Accept-Language header.",
            );
        }
        let ok = lang.split('-').enumerate().all(|(i, p)| {
            !p.is_empty()
                && p.len() <= 8
                && if i == 0 {
                    p.bytes().all(|b| b.is_ascii_alphabetic())
                } else {
                    p.bytes().all(|b| b.is_ascii_alphanumeric())
                }
        });
        if !ok {
            return af(400, "AF20054", "Invalid syntax in Accept-Language header.");
        }
    }
    let arr: Vec<_> = DLP_TYPES
        .iter()
        .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
        .collect();
    json(StatusCode::OK, serde_json::Value::Array(arr).to_string())
}
