//! `serve`'s HTTP side: the probes (`/healthz`, `/readyz`), `/metrics`, the status page and
//! its JSON, `/mcp`, and who may see them.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::bail;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use o365_collect::sinks::Held;
use o365_collect::{Fleet, TenantState, TenantStatus};

use crate::cli::{Global, ServeArgs};

/// What the HTTP handlers share.
pub(super) struct App {
    pub(super) fleet: Arc<Fleet>,
    pub(super) ready_after: chrono::Duration,
    pub(super) webhook: Option<o365_collect::webhook::Webhooks>,
    /// What the fleet's group gives this instance (a Kafka sink), as it changes.
    pub(super) held: Option<tokio::sync::watch::Receiver<Held>>,
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let tenants = app.fleet.tenants().await;
    let clients: Vec<_> = tenants.iter().map(|t| t.client()).collect();
    let samples: Vec<o365_collect::metrics::Sample<'_>> = tenants
        .iter()
        .zip(&clients)
        .map(|(t, c)| o365_collect::metrics::Sample {
            tenant: Some(&t.name),
            metrics: &t.metrics,
            client: c.as_ref(),
        })
        .collect();
    let mut text = o365_collect::metrics::render(&samples);
    text.push_str(&app.fleet.sink_stats().render());
    if let Some(h) = &app.webhook {
        let m = h.receiver.metrics();
        text.push_str(&format!(
            "# HELP o365_webhook_rejected_total Webhook requests refused (wrong Webhook-AuthID, not a notification).\n# TYPE o365_webhook_rejected_total counter\no365_webhook_rejected_total {}\n# HELP o365_webhook_unrouted_total Notified content items of no tenant of this instance.\n# TYPE o365_webhook_unrouted_total counter\no365_webhook_unrouted_total {}\n",
            m.notifications_rejected.load(std::sync::atomic::Ordering::Relaxed),
            m.notifications_received.load(std::sync::atomic::Ordering::Relaxed),
        ));
    }
    if let Some(held) = &app.held {
        let h = held.borrow().clone();
        text.push_str(&format!(
            "# HELP o365_fleet_assigned_tenants Tenants the fleet's group gave this instance.\n# TYPE o365_fleet_assigned_tenants gauge\no365_fleet_assigned_tenants {}\n\
# HELP o365_fleet_assigned_partitions Partitions of the assignment topic this instance holds.\n# TYPE o365_fleet_assigned_partitions gauge\no365_fleet_assigned_partitions {}\n\
# HELP o365_fleet_rebalances_total Rebalances of the fleet's group this instance took part in.\n# TYPE o365_fleet_rebalances_total counter\no365_fleet_rebalances_total {}\n\
# HELP o365_fleet_generation The fleet group's generation this instance is in (-1 before it joined).\n# TYPE o365_fleet_generation gauge\no365_fleet_generation {}\n",
            tenants.len(),
            h.partitions.len(),
            h.rebalances,
            h.generation
        ));
    }
    text.push_str("# HELP o365_tenant_failing Whether the tenant's last pass failed (1) or not (0).\n# TYPE o365_tenant_failing gauge\n");
    for t in &tenants {
        let s = t.status();
        text.push_str(&format!(
            "o365_tenant_failing{{tenant=\"{}\"}} {}\n",
            t.name,
            u8::from(s.state == TenantState::Failing)
        ));
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
        .into_response()
}

/// Who keeps the service from being ready: the tenants that have not finished (or failed) a
/// first pass yet, and those failing for longer than `ready_after`.
fn ready(
    statuses: &[TenantStatus],
    ready_after: chrono::Duration,
) -> (bool, Vec<String>, Vec<String>) {
    let now = chrono::Utc::now();
    let names = |keep: &dyn Fn(&TenantStatus) -> bool| -> Vec<String> {
        statuses
            .iter()
            .filter(|s| keep(s))
            .map(|s| s.name.clone())
            .collect()
    };
    let failing = names(&|s| s.state == TenantState::Failing && now - s.since >= ready_after);
    let starting = names(&|s| s.state == TenantState::Starting);
    (failing.is_empty() && starting.is_empty(), failing, starting)
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    let mut statuses = app.fleet.statuses().await;
    for s in &mut statuses {
        s.summary = None;
    }
    let (mut ok, failing, starting) = ready(&statuses, app.ready_after);
    let held = app.held.as_ref().map(|h| h.borrow().clone());
    if held.as_ref().is_some_and(|h| !h.joined) {
        // Not in the group yet: nobody knows which tenants are this instance's.
        ok = false;
    }
    let mut body = serde_json::json!({"ready": ok, "failing": failing, "starting": starting, "tenants": statuses});
    if let Some(h) = held {
        body["fleet"] = fleet_json(&h, &statuses);
    }
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What this instance holds in the fleet, for /readyz and /api/status.
fn fleet_json(h: &Held, statuses: &[TenantStatus]) -> serde_json::Value {
    serde_json::json!({
        "instance": h.instance,
        "group": h.group,
        "joined": h.joined,
        "generation": h.generation,
        "partition_count": h.partition_count,
        "partitions": h.partitions,
        "tenants": statuses.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        "rebalances": h.rebalances,
        "last_rebalance": h.last_rebalance,
    })
}

/// The same rule as `status --serve`: beyond loopback, everything but the probes is behind a
/// token, or nothing is served (judged before anything starts).
pub(super) fn check_exposure(args: &ServeArgs) -> anyhow::Result<()> {
    let addr = args.listen;
    if addr.ip().is_loopback() || args.auth_token_file.is_some() {
        return Ok(());
    }
    let what = if args.mcp {
        "/mcp, /metrics and the status page"
    } else {
        "/metrics and the status page (tenant names, volumes, errors)"
    };
    bail!("refusing to serve {what} on {addr} without authentication: give --auth-token-file FILE (a browser signs in at /login), or listen on 127.0.0.1")
}

/// The listener's routes: probes open, /metrics (and /mcp) behind the token when one is set.
/// The status page's data: the tenants this instance runs now (as the last SIGHUP or
/// rebalance left them), with their live state.
fn status_source(args: &ServeArgs, app: &Arc<App>) -> crate::status::routes::Source {
    use crate::status::model::{build, Live};
    let (fleet, sink, held) = (app.fleet.clone(), args.sink.clone(), app.held.clone());
    Arc::new(move || {
        let (fleet, sink) = (fleet.clone(), sink.clone());
        let held = held.clone();
        Box::pin(async move {
            let mut configured = fleet.settings().await;
            configured.sort_by(|a, b| a.name.cmp(&b.name));
            let statuses = fleet.statuses().await;
            let ts: Vec<_> = configured
                .iter()
                .filter_map(|s| {
                    let st = statuses.iter().find(|x| x.name == s.name)?;
                    let type_errors = st
                        .summary
                        .iter()
                        .flat_map(|sum| sum.types.iter())
                        .filter_map(|t| {
                            Some((t.content_type.clone(), t.errors.first()?.to_string()))
                        })
                        .collect();
                    let live = Live {
                        state: serde_json::to_value(st.state)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from)),
                        last_error: st.last_error.clone(),
                        failing_since: (st.state == o365_collect::TenantState::Failing)
                            .then_some(st.since),
                        last_pass: st.last_pass,
                        next_pass: st.next_pass,
                        type_errors,
                    };
                    Some((s.clone(), live))
                })
                .collect();
            let mut st = build(&ts, sink.as_deref())?;
            st.fleet = held.map(|h| fleet_json(&h.borrow(), &statuses));
            Ok(st)
        })
    })
}

pub(super) fn routes(
    g: &Global,
    args: &ServeArgs,
    app: Arc<App>,
    addr: SocketAddr,
) -> anyhow::Result<Router> {
    let token = match &args.auth_token_file {
        Some(p) => Some(crate::token_file::read_token(p)?),
        None => None,
    };
    let loopback = addr.ip().is_loopback();
    let mut guarded = Router::new()
        .route("/metrics", get(metrics))
        .with_state(app.clone())
        .merge(crate::status::routes::router(status_source(args, &app)));
    if args.mcp {
        guarded = guarded.merge(o365_mcp::router(
            crate::mcp::server(g, args.sink.clone())?,
            loopback,
        ));
    }
    if let Some(t) = &token {
        // One sign-in for the page, /metrics and /mcp: a bearer token, or a browser's
        // session from /login.
        guarded = crate::status::auth::require_token(guarded, t);
    }
    Ok(crate::status::auth::hardened(
        Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(readyz))
            .with_state(app)
            .merge(guarded),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_once_every_tenant_passed_and_until_one_fails_for_long_enough() {
        let st = |name: &str, state, ago: i64| TenantStatus {
            name: name.into(),
            tenant_id: None,
            state,
            since: chrono::Utc::now() - chrono::Duration::seconds(ago),
            last_pass: None,
            last_error: None,
            last_pass_seconds: None,
            passes: 0,
            next_pass: None,
            summary: None,
        };
        let grace = chrono::Duration::seconds(60);
        assert!(
            ready(
                &[
                    st("a", TenantState::Ok, 0),
                    st("b", TenantState::Failing, 10)
                ],
                grace
            )
            .0
        );
        let (ok, failing, _) = ready(
            &[
                st("a", TenantState::Ok, 0),
                st("b", TenantState::Failing, 61),
            ],
            grace,
        );
        assert!(!ok);
        assert_eq!(failing, ["b"]);
        // Not ready while a tenant has not finished its first pass (nor failed it).
        let (ok, failing, starting) = ready(
            &[
                st("a", TenantState::Ok, 0),
                st("c", TenantState::Starting, 600),
            ],
            grace,
        );
        assert!(!ok);
        assert!(failing.is_empty());
        assert_eq!(starting, ["c"]);
        assert!(ready(&[], grace).0, "an instance given no tenant is ready");
    }
}
