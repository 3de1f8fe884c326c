//! Microsoft Graph's audit log search (`/graph/{v1.0,beta}/security/auditLog/queries` at the
//! emulator's address; its resource is `{base}/graph`): create a query, poll its status as
//! the emulated clock moves it (`notStarted` → `running` → `succeeded` | `failed`), page its
//! records. Quotas per tenant (submissions per rolling 24 h, queries at once) answer 429 with
//! `Retry-After`; a query stops at its record limit and says so only in v1.0's
//! `isRecordCountLimitExceeded`.

pub mod search;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::api::{json as json_response, Query};
use crate::cloud::Cloud;
use crate::content::{event_id, fmt_content_time, hash, hash_str, unit};
use crate::feed_content::parse_time;
use crate::state::Shared;
use search::{Filter, Found};

/// Whether `resource` names Microsoft Graph (here or the real one).
pub fn is_graph_resource(st: &Shared, resource: &str) -> bool {
    let r = resource.trim_end_matches('/');
    r == resource_of(&st.base_url) || r == "https://graph.microsoft.com"
}

fn resource_of(base: &str) -> String {
    format!("{base}/graph")
}

/// Whether an application role is granted on Graph's audit search.
pub fn is_graph_role(role: &str) -> bool {
    role.starts_with("AuditLogsQuery")
}

/// One submitted query.
pub struct AuditQuery {
    id: String,
    tenant: usize,
    created_ms: i64,
    display_name: String,
    filter: Filter,
    request: Value,
    fails: bool,
    /// The records found, once the query ended (cut at the record limit).
    found: Option<Arc<Vec<Found>>>,
    exceeded: bool,
}

/// Every tenant's queries and submissions.
#[derive(Default)]
pub struct Searches {
    queries: HashMap<String, AuditQuery>,
    submitted: HashMap<usize, VecDeque<i64>>,
    seq: u64,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {"code": code, "message": message}}).to_string(),
    )
}

/// The routes, at the emulator's address.
pub fn router() -> Router<Shared> {
    let q = "/graph/{version}/security/auditLog/queries";
    Router::new()
        .route(q, get(list).post(create))
        .route(&format!("{q}/{{id}}"), get(one))
        .route(&format!("{q}/{{id}}/records"), get(records))
}

/// The tenant a Graph request is for, or the answer that refuses it.
fn authorize(st: &Shared, headers: &HeaderMap, version: &str) -> Result<usize, Response> {
    if version != "v1.0" && version != "beta" {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Invalid version: {version}"),
        ));
    }
    let c = crate::token::verify_signed(st, headers).map_err(|_| {
        error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
        )
    })?;
    if !is_graph_resource(st, &c.aud) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
        ));
    }
    let Some(ti) = st.tenant_index(&c.tid) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure.",
        ));
    };
    if matches!(st.tenants[ti].cloud, Cloud::GccHigh | Cloud::Dod)
        || (version == "v1.0" && st.cfg.graph.v1_missing)
    {
        return Err(error(
            StatusCode::NOT_FOUND,
            "BadRequest",
            "Resource not found for the segment 'auditLog'.",
        ));
    }
    if !c.roles.iter().any(|r| is_graph_role(r)) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    Ok(ti)
}

fn strings(v: &Value, k: &str) -> Result<Vec<String>, Response> {
    match &v[k] {
        Value::Null => Ok(vec![]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str().map(String::from).ok_or_else(|| {
                    error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        &format!("{k}: expected strings"),
                    )
                })
            })
            .collect(),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("{k}: expected an array"),
        )),
    }
}

fn parse_filter(v: &Value) -> Result<Filter, Response> {
    let time = |k: &str| -> Result<i64, Response> {
        v[k].as_str().and_then(parse_time).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("{k} is required: a date and time"),
            )
        })
    };
    let f = Filter {
        start_ms: time("filterStartDateTime")?,
        end_ms: time("filterEndDateTime")?,
        record_types: strings(v, "recordTypeFilters")?,
        keyword: v["keywordFilter"].as_str().map(String::from),
        services: strings(v, "serviceFilters")?,
        operations: strings(v, "operationFilters")?,
        upns: strings(v, "userPrincipalNameFilters")?,
        ips: strings(v, "ipAddressFilters")?,
        object_ids: strings(v, "objectIdFilters")?,
        admin_units: strings(v, "administrativeUnitIdFilters")?,
    };
    if f.start_ms >= f.end_ms {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "filterStartDateTime must be before filterEndDateTime",
        ));
    }
    Ok(f)
}

fn too_many(secs: i64) -> Response {
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests. Please retry after some time.",
    );
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Where a query stands at `now`: `notStarted` for the first tenth of its time, then
/// `running`, then `succeeded` or `failed`.
fn status(st: &Shared, q: &AuditQuery, now: i64) -> &'static str {
    let took = st.cfg.graph.query_secs as i64 * 1000;
    if now < q.created_ms + took / 10 {
        "notStarted"
    } else if now < q.created_ms + took {
        "running"
    } else if q.fails {
        "failed"
    } else {
        "succeeded"
    }
}

fn running(s: &str) -> bool {
    s == "notStarted" || s == "running"
}

/// A query as Graph shows it (v1.0 with its record-count fields).
fn show(st: &Shared, q: &mut AuditQuery, version: &str, now: i64) -> Value {
    let s = status(st, q, now);
    if s == "succeeded" && q.found.is_none() {
        let t = &st.tenants[q.tenant];
        let floor = now - t.audit_days as i64 * crate::api::DAY_MS;
        let mut found = search::search(&st.gen, &t.info, q.tenant, &q.filter, floor, q.created_ms);
        let limit = st.cfg.graph.record_limit as usize;
        q.exceeded = found.len() > limit;
        found.truncate(limit);
        q.found = Some(Arc::new(found));
    }
    let mut v = q.request.clone();
    v["@odata.context"] = json!(format!(
        "{}/graph/{version}/$metadata#security/auditLog/queries/$entity",
        st.base_url
    ));
    v["@odata.type"] = json!("#microsoft.graph.security.auditLogQuery");
    v["id"] = json!(q.id);
    v["displayName"] = json!(q.display_name);
    v["status"] = json!(s);
    if version == "v1.0" {
        v["recordCountLimit"] = json!(st.cfg.graph.record_limit);
        v["approximateReturnedRecordCount"] = json!(q.found.as_ref().map_or(0, |f| f.len()));
        v["isRecordCountLimitExceeded"] = json!(q.exceeded);
    }
    v
}

async fn create(
    State(st): State<Shared>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ti = match authorize(&st, &headers, &version) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request body is not JSON.",
        );
    };
    let filter = match parse_filter(&v) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let now = st.clock.now_ms();
    let cfg = &st.cfg.graph;
    let mut g = st.searches.lock();
    let day = crate::api::DAY_MS;
    let sub = g.submitted.entry(ti).or_default();
    while sub.front().is_some_and(|t| *t <= now - day) {
        sub.pop_front();
    }
    if sub.len() >= cfg.submissions_per_day as usize {
        let wait = sub.front().map_or(60, |t| (t + day - now) / 1000 + 1);
        return too_many(wait);
    }
    let busy = g
        .queries
        .values()
        .filter(|q| q.tenant == ti && running(status(&st, q, now)))
        .count();
    if busy >= cfg.concurrent as usize {
        return too_many(cfg.retry_after_secs as i64);
    }
    g.seq += 1;
    let h = hash(&[
        st.cfg.seed,
        hash_str(&st.tenants[ti].info.id),
        g.seq,
        0x9a7b,
    ]);
    let id = event_id(h);
    let fails = unit(h ^ 0xfa11) < cfg.fail_rate;
    let display_name = v["displayName"].as_str().unwrap_or_default().to_string();
    g.submitted.entry(ti).or_default().push_back(now);
    let mut request = v.clone();
    if let Some(o) = request.as_object_mut() {
        for k in ["filterStartDateTime", "filterEndDateTime"] {
            if let Some(t) = o.get(k).and_then(Value::as_str).and_then(parse_time) {
                o.insert(k.into(), json!(fmt_content_time(t)));
            }
        }
    }
    let mut q = AuditQuery {
        id: id.clone(),
        tenant: ti,
        created_ms: now,
        display_name,
        filter,
        request,
        fails,
        found: None,
        exceeded: false,
    };
    let shown = show(&st, &mut q, &version, now);
    g.queries.insert(id, q);
    json_response(StatusCode::CREATED, shown.to_string())
}

async fn list(
    State(st): State<Shared>,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ti = match authorize(&st, &headers, &version) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = st.clock.now_ms();
    let mut g = st.searches.lock();
    let mut value = vec![];
    for q in g.queries.values_mut().filter(|q| q.tenant == ti) {
        value.push(show(&st, q, &version, now));
    }
    json_response(StatusCode::OK, json!({ "value": value }).to_string())
}

async fn one(
    State(st): State<Shared>,
    Path((version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let ti = match authorize(&st, &headers, &version) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = st.clock.now_ms();
    let mut g = st.searches.lock();
    match g.queries.get_mut(&id).filter(|q| q.tenant == ti) {
        Some(q) => json_response(StatusCode::OK, show(&st, q, &version, now).to_string()),
        None => not_found(&id),
    }
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!("Audit log query {id} was not found."),
    )
}

async fn records(
    State(st): State<Shared>,
    Path((version, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let ti = match authorize(&st, &headers, &version) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let top = match q.get("$top").map(str::parse::<usize>) {
        None => st.cfg.graph.page_size,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "$top must be a number from 1 to 1000",
            )
        }
    };
    let skip = q
        .get("$skiptoken")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let now = st.clock.now_ms();
    let found = {
        let mut g = st.searches.lock();
        let Some(aq) = g.queries.get_mut(&id).filter(|q| q.tenant == ti) else {
            return not_found(&id);
        };
        show(&st, aq, &version, now);
        match &aq.found {
            Some(f) if status(&st, aq, now) == "succeeded" => f.clone(),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "The query has not succeeded: its records cannot be listed yet.",
                )
            }
        }
    };
    let t = &st.tenants[ti];
    let page: Vec<String> = found
        .iter()
        .skip(skip)
        .take(top)
        .map(|x| search::record(&st.gen, &t.info, x))
        .collect();
    let mut body = format!(
        "{{\"@odata.context\":\"{}/graph/{version}/$metadata#security/auditLog/queries('{id}')/records\",\"value\":[{}]",
        st.base_url,
        page.join(",")
    );
    if skip + top < found.len() {
        body.push_str(&format!(
            ",\"@odata.nextLink\":\"{}/graph/{version}/security/auditLog/queries/{id}/records?$top={top}&$skiptoken={}\"",
            st.base_url,
            skip + top
        ));
    }
    body.push('}');
    json_response(StatusCode::OK, body)
}
