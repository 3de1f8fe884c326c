//! The control API under `/_emulator/`: ground truth, counters, faults, throttling, the clock.

use std::collections::BTreeSet;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::{parse_time, Query};
use crate::config::{FaultConfig, ThrottleConfig};
use crate::content::{fmt_content_time, ContentType};
use crate::state::Shared;

/// Routes of the control API.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/_emulator/info", get(info))
        .route("/_emulator/clock", get(clock))
        .route("/_emulator/clock/advance", post(advance))
        .route("/_emulator/counters", get(counters).delete(reset_counters))
        .route("/_emulator/faults", get(get_faults).put(put_faults))
        .route("/_emulator/throttle", get(get_throttle).put(put_throttle))
        .route("/_emulator/manifest", get(manifest))
        .route("/_emulator/graph_manifest", get(graph_manifest))
        .route(
            "/_emulator/tenants/{tenant}/subscriptions",
            get(subscriptions),
        )
        .route("/_emulator/tenants/{tenant}/audit", put(set_audit))
        .route(
            "/_emulator/tenants/{tenant}/webhooks/{content_type}",
            put(set_webhook_status),
        )
}

fn bad(msg: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": msg })),
    )
        .into_response()
}

async fn info(State(st): State<Shared>) -> Response {
    Json(crate::StartInfo::from_state(&st)).into_response()
}

async fn clock(State(st): State<Shared>) -> Response {
    let now = st.clock.now_ms();
    Json(serde_json::json!({
        "now": fmt_content_time(now),
        "now_ms": now,
        "offset_seconds": st.clock.offset_ms() as f64 / 1000.0,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn advance(State(st): State<Shared>, body: axum::body::Bytes) -> Response {
    let a: Advance = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return bad(format!(
                "body must be {{\"seconds\": N}} with N the seconds to move the clock: {e}"
            ))
        }
    };
    if !a.seconds.is_finite() || a.seconds.abs() > 1e9 {
        return bad(format!(
            "seconds = {}: must be a finite number of seconds",
            a.seconds
        ));
    }
    st.clock.advance((a.seconds * 1000.0) as i64);
    clock(State(st)).await
}

async fn counters(State(st): State<Shared>) -> Response {
    let snap = st.counters.snapshot();
    let total: u64 = snap.values().flat_map(|m| m.values()).sum();
    Json(serde_json::json!({ "total": total, "routes": snap })).into_response()
}

async fn reset_counters(State(st): State<Shared>) -> Response {
    st.counters.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(st): State<Shared>) -> Response {
    Json(st.faults.read().clone()).into_response()
}

async fn put_faults(State(st): State<Shared>, body: axum::body::Bytes) -> Response {
    let f: FaultConfig = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return bad(format!("faults: {e}")),
    };
    if let Err(e) = f.validate() {
        return bad(e);
    }
    *st.script.lock() = f.script.iter().copied().collect();
    *st.faults.write() = f.clone();
    Json(f).into_response()
}

async fn get_throttle(State(st): State<Shared>) -> Response {
    Json(st.throttle.read().clone()).into_response()
}

async fn put_throttle(State(st): State<Shared>, body: axum::body::Bytes) -> Response {
    let t: ThrottleConfig = match serde_json::from_slice(&body) {
        Ok(t) => t,
        Err(e) => return bad(format!("throttle: {e}")),
    };
    if t.status != 403 && t.status != 429 {
        return bad(format!("status = {}: allowed are 403 or 429", t.status));
    }
    *st.throttle.write() = t.clone();
    st.reset_budgets();
    Json(t).into_response()
}

fn tenant_arg(st: &Shared, q: &Query) -> Result<usize, Response> {
    match q.get("tenant") {
        None => Ok(0),
        Some(t) => st
            .tenant_index(t)
            .ok_or_else(|| bad(format!("tenant = {t:?}: no such tenant in the emulator"))),
    }
}

/// Ground truth: every blob and event id a tenant can serve for a type and `contentCreated` range.
async fn manifest(State(st): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref());
    let tenant = match tenant_arg(&st, &q) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let types: Vec<ContentType> = match q.get("contentType") {
        None => ContentType::ALL.to_vec(),
        Some(c) => match ContentType::parse(c, true) {
            Some(c) => vec![c],
            None => return bad(format!("contentType = {c:?}: not a content type")),
        },
    };
    let now = st.clock.now_ms();
    let retention = st.cfg.api.retention_hours * 3_600_000;
    let parse = |name: &str, default: i64| -> Result<i64, Response> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => parse_time(v).ok_or_else(|| bad(format!("{name} = {v:?}: not a time"))),
        }
    };
    let start = match parse("startTime", now - retention) {
        Ok(v) => v.max(now - retention),
        Err(r) => return r,
    };
    let end = match parse("endTime", now + 1) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let include_pending = q.get("include_pending") == Some("true");
    let info = &st.tenants[tenant].info;
    let mut blobs = Vec::new();
    let mut ids = BTreeSet::new();
    for ct in types {
        let avail = (!include_pending).then_some(now);
        for f in st.blobs_in(tenant, ct, start, end, avail) {
            let ev = st.gen.event_ids(info, &f, st.prev_exists(&f));
            blobs.push(serde_json::json!({
                "contentId": st.gen.content_id(info, &f),
                "contentType": ct.as_str(),
                "contentCreated": fmt_content_time(f.created_ms),
                "availableAt": fmt_content_time(f.available_ms),
                "events": ev.len(),
            }));
            ids.extend(ev);
        }
    }
    Json(serde_json::json!({
        "tenant_id": info.id,
        "start": fmt_content_time(start),
        "end": fmt_content_time(end),
        "blob_count": blobs.len(),
        "event_count": ids.len(),
        "blobs": blobs,
        "event_ids": ids,
    }))
    .into_response()
}

/// The audit log's events (what Graph's search finds) whose `CreationTime` lies in
/// `[startTime, endTime)`, of one `contentType` or all, whatever the subscriptions were.
async fn graph_manifest(State(st): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref());
    let ti = match tenant_arg(&st, &q) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let ct = match q.get("contentType") {
        None => None,
        Some(c) => match ContentType::parse(c, true) {
            Some(c) => Some(c),
            None => return bad(format!("contentType = {c:?}: not a content type")),
        },
    };
    let now = st.clock.now_ms();
    let t = &st.tenants[ti];
    let floor = now - t.audit_days as i64 * crate::api::DAY_MS;
    let time = |name: &str, default: i64| -> Result<i64, Response> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => parse_time(v).ok_or_else(|| bad(format!("{name} = {v:?}: not a time"))),
        }
    };
    let (start, end) = match (time("startTime", floor), time("endTime", now)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let filter = crate::graph::search::Filter {
        start_ms: start,
        end_ms: end,
        ..Default::default()
    };
    let ids: BTreeSet<String> =
        crate::graph::search::search(&st.gen, &t.info, ti, &filter, floor, now)
            .iter()
            .filter(|f| ct.is_none_or(|c| f.key.content_type == c))
            .map(|f| crate::content::event_id(st.gen.event_hash_of(&t.info, f.key, f.i)))
            .collect();
    Json(serde_json::json!({
        "tenant_id": t.info.id,
        "start": fmt_content_time(start),
        "end": fmt_content_time(end),
        "event_count": ids.len(),
        "event_ids": ids,
    }))
    .into_response()
}

/// Subscriptions with their enabled intervals (the ground truth of gaps).
async fn subscriptions(State(st): State<Shared>, Path(tenant): Path<String>) -> Response {
    let Some(ti) = st.tenant_index(&tenant) else {
        return bad(format!(
            "tenant = {tenant:?}: no such tenant in the emulator"
        ));
    };
    let subs = st.tenants[ti].subs.read();
    let out: Vec<_> = subs
        .iter()
        .map(|(ct, s)| {
            serde_json::json!({
                "contentType": ct.as_str(),
                "status": if s.enabled { "enabled" } else { "disabled" },
                "webhook": s.webhook,
                "intervals": s.intervals.iter().map(|(a, b)| serde_json::json!({
                    "start": fmt_content_time(*a),
                    "end": b.map(fmt_content_time),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(out).into_response()
}

#[derive(Deserialize)]
struct Audit {
    enabled: bool,
}

async fn set_audit(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Some(ti) = st.tenant_index(&tenant) else {
        return bad(format!(
            "tenant = {tenant:?}: no such tenant in the emulator"
        ));
    };
    let a: Audit = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return bad(format!("body must be {{\"enabled\": true|false}}: {e}")),
    };
    *st.tenants[ti].audit_enabled.write() = a.enabled;
    Json(serde_json::json!({ "tenant_id": st.tenants[ti].info.id, "audit_enabled": a.enabled }))
        .into_response()
}

#[derive(Deserialize)]
struct WebhookStatus {
    status: String,
}

/// `PUT /tenants/{tenant}/webhooks/{contentType} {"status": "enabled"|"disabled"|"expired"}`:
/// what the service does to a webhook on its own (after failures, at its expiration).
async fn set_webhook_status(
    State(st): State<Shared>,
    Path((tenant, ct)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(ti) = st.tenant_index(&tenant) else {
        return bad(format!(
            "tenant = {tenant:?}: no such tenant in the emulator"
        ));
    };
    let Some(ct) = ContentType::parse(&ct, true) else {
        return bad(format!(
            "contentType = {ct:?}: not one of the five content types"
        ));
    };
    let w: WebhookStatus = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(e) => return bad(format!("body must be {{\"status\": \"disabled\"}}: {e}")),
    };
    if !["enabled", "disabled", "expired"].contains(&w.status.as_str()) {
        return bad(format!(
            "status = {:?}: allowed are enabled, disabled, expired",
            w.status
        ));
    }
    let mut subs = st.tenants[ti].subs.write();
    let Some(hook) = subs.get_mut(&ct).and_then(|s| s.webhook.as_mut()) else {
        return bad(format!("{} has no webhook", ct.as_str()));
    };
    hook.status = w.status;
    Json(hook.clone()).into_response()
}
