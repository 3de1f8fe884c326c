//! The Activity API's subscription operations: start (with webhook validation), stop, list.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::{af, json, parse_time};
use crate::content::{event_id, hash, ContentType};
use crate::feed_request::{op, Typed, Untyped};
use crate::state::{Shared, Subscription, Webhook};

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
pub(crate) async fn start(
    State(st): State<Shared>,
    Typed { q, ct, caller, .. }: Typed<op::Start>,
    body: axum::body::Bytes,
) -> Response {
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
        Some(w) => match validate_webhook(&st, w, now, &caller).await {
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
        last_start_ms: None,
        notified_until_ms: now,
        webhook_failures: 0,
    });
    let wait_ms = (st.cfg.api.start_interval_secs * 1000) as i64;
    if let Some(last) = entry.last_start_ms.filter(|l| now - l < wait_ms) {
        let mut r = af(
            429,
            "AF429",
            &format!(
                "Too many requests. Method=StartSubscription, PublisherId={}. Wait {} minutes between starts of a subscription.",
                q.get("PublisherIdentifier").unwrap_or("00000000-0000-0000-0000-000000000000"),
                wait_ms / 60_000
            ),
        );
        let left = ((last + wait_ms - now) as u64).div_ceil(1000);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(left));
        return r;
    }
    if entry.enabled && entry.webhook == webhook {
        return af(
            400,
            "AF20024",
            "The subscription is already enabled. No property change.",
        );
    }
    entry.last_start_ms = Some(now);
    if !entry.enabled {
        entry.enabled = true;
        entry.intervals.push((now, None));
    }
    if entry.webhook != webhook {
        entry.webhook_since_ms = now;
        entry.notified_until_ms = now;
        entry.webhook_failures = 0;
        entry.webhook = webhook;
    }
    tracing::debug!(tenant = %t.info.id, content_type = ct.as_str(), app = %caller.appid, "subscription started");
    json(StatusCode::OK, sub_json(ct, entry).to_string())
}

async fn validate_webhook(
    st: &Shared,
    w: WebhookIn,
    now: i64,
    caller: &crate::api::Caller,
) -> Result<Webhook, Response> {
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
        client_id: caller.appid.clone(),
        origin: caller.origin.clone(),
    })
}

/// `POST subscriptions/stop`.
pub(crate) async fn stop(
    State(st): State<Shared>,
    Typed { ct, caller, .. }: Typed<op::Stop>,
) -> Response {
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
pub(crate) async fn list(
    State(st): State<Shared>,
    Untyped { caller, .. }: Untyped<op::List>,
) -> Response {
    let subs = st.tenants[caller.tenant].subs.read();
    let arr: Vec<_> = subs.iter().map(|(ct, s)| sub_json(*ct, s)).collect();
    json(StatusCode::OK, serde_json::Value::Array(arr).to_string())
}
