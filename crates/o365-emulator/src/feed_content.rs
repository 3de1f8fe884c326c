//! The Activity API's content operations: listings with windows and pages, blobs,
//! notifications, DLP sensitive types.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use crate::api::{af, authorize, json, Op, Query, DAY_MS, ZERO_GUID};
use crate::content::{fmt_content_time, hash, BlobFacts, ContentType, ParsedId};
use crate::feed_request::{op, Typed, Untyped};
use crate::state::Shared;

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

/// Shared by `/content` and `/notifications`: one page of items of a checked request.
async fn listing<O>(st: Shared, r: Typed<O>, op: Op) -> Response {
    let Typed {
        tenant,
        q,
        ct,
        caller,
        ..
    } = r;
    let now = st.clock.now_ms();
    let sub_enabled = {
        let subs = st.tenants[caller.tenant].subs.read();
        match subs.get(&ct) {
            None => {
                return af(
                    400,
                    "AF20022",
                    "No subscription found for the specified content type.",
                )
            }
            Some(s) => s.enabled,
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
        // What was really attempted, whatever became of the webhook since.
        let sent = st.tenants[caller.tenant].notified.lock();
        blobs.retain(|b| sent.contains_key(&b.key));
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
    let root = format!("{}/api/v1.0/{}/activity/feed", caller.origin, info.id);
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
            let (sent, ok) = st.tenants[caller.tenant]
                .notified
                .lock()
                .get(&f.key)
                .copied()
                .unwrap_or((f.available_ms, false));
            v["notificationSent"] = fmt_content_time(sent).into();
            v["notificationStatus"] = if ok { "success" } else { "failed" }.into();
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
            caller.origin,
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
pub(crate) async fn content(State(st): State<Shared>, r: Typed<op::Content>) -> Response {
    listing(st, r, Op::Content).await
}

/// `GET subscriptions/notifications`.
pub(crate) async fn notifications(
    State(st): State<Shared>,
    r: Typed<op::Notifications>,
) -> Response {
    listing(st, r, Op::Notifications).await
}

/// `GET audit/{contentId}`.
pub(crate) async fn blob(
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
pub(crate) async fn dlp_types(_: Untyped<op::Dlp>, headers: HeaderMap) -> Response {
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
