//! `o365mgmt serve` (the long-running service) and `collect --all-tenants` (every tenant at
//! once): a fleet of tenant loops into one sink.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use o365_actions::config::Settings;
use o365_collect::sinks::Held;
use o365_collect::{Fleet, Shard, SinkSpec, TenantOptions, TenantState, TenantStatus};

use crate::cli::{CollectArgs, Global, Output, ServeArgs};
use crate::pass::{duration, options, self_usage, sink_spec};
use crate::setup::{fleet, open_store};
use crate::{out, warn};

/// Every configured tenant (warnings shown), or why none is.
fn configured(g: &Global) -> anyhow::Result<Vec<Settings>> {
    let f = fleet(g)?;
    for w in &f.warnings {
        warn(w);
    }
    if f.tenants.is_empty() {
        bail!("no tenant is configured: set tenant_id (and client_id, a secret) at the top level of the config file, or add [[tenants]] tables");
    }
    Ok(f.tenants)
}

/// How this instance finds its share of the tenants.
#[derive(Clone)]
enum Share {
    /// A fixed share of a stable hash (`--shard`, local sinks).
    Shard(Shard),
    /// What the fleet's Kafka group gives this instance, as it changes.
    Group(tokio::sync::watch::Receiver<Held>),
}

impl Share {
    /// The configured tenants that are this instance's now.
    fn mine(&self, all: Vec<Settings>) -> Vec<Settings> {
        let n = all.len();
        let mine: Vec<Settings> = match self {
            Share::Shard(shard) => all.into_iter().filter(|t| shard.owns(&t.name)).collect(),
            Share::Group(held) => {
                let held = held.borrow().clone();
                all.into_iter()
                    .filter(|t| t.tenant().is_ok_and(|id| held.holds(id)))
                    .collect()
            }
        };
        tracing::info!(
            configured = n,
            here = mine.len(),
            "tenants of this instance"
        );
        mine
    }

    fn describe(&self) -> String {
        match self {
            Share::Shard(s) => s.to_string(),
            Share::Group(held) => {
                let h = held.borrow();
                format!("group {} as {}", h.group, h.instance)
            }
        }
    }
}

/// The tenants of this instance: every configured one in its shard.
fn tenants(g: &Global, shard: Shard) -> anyhow::Result<Vec<Settings>> {
    Ok(Share::Shard(shard).mine(configured(g)?))
}

/// This instance's name in a fleet: `--instance-id`, else the host name.
fn instance_id(given: Option<&str>) -> anyhow::Result<String> {
    let id = match given {
        Some(v) => v.trim().to_string(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "o365mgmt".into()),
    };
    let ok = (1..=200).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if !ok {
        bail!("--instance-id {id:?}: use 1 to 200 letters, digits, '.', '_' or '-', unique per instance (e.g. the pod or host name)");
    }
    Ok(id)
}

/// Open the fleet's sink, state and options; `settings` gives the process-wide settings.
fn start(
    settings: &Settings,
    spec: SinkSpec,
    opts: TenantOptions,
    max_in_flight: usize,
) -> anyhow::Result<Fleet> {
    spec.check()?;
    let store = open_store(settings)?;
    Ok(Fleet::start(spec, opts, Some(store), max_in_flight)?)
}

/// `collect --all-tenants`: one pass of every tenant (or follow them), then a summary each.
pub async fn collect_all(g: &Global, args: &CollectArgs, fmt: Output) -> anyhow::Result<ExitCode> {
    if g.tenant.is_some() {
        bail!("--all-tenants collects every tenant: leave out --tenant");
    }
    let (collect, mut interval) = options(&args.pass)?;
    if args.webhook.webhook.is_some() {
        if !args.run.follow {
            bail!("--webhook receives notifications while collecting goes on: add --follow");
        }
        if args.pass.interval.is_none() {
            interval = crate::webhook::SAFETY_NET_INTERVAL;
        }
    }
    let tenants = tenants(g, Shard::ALL)?;
    let webhook = crate::webhook::start(&args.webhook, Default::default()).await?;
    let opts = TenantOptions {
        collect,
        follow: args.run.follow,
        interval,
        auto_start: args.auto_start,
        webhook,
    };
    let spec = sink_spec(&tenants[0], args.sink.as_deref())?;
    let fleet = Arc::new(start(&tenants[0], spec, opts, 64)?);
    fleet.apply(tenants).await;
    if args.run.follow {
        crate::shutdown_signal().await;
    } else {
        let f = fleet.clone();
        tokio::select! {
            _ = f.wait() => {}
            _ = crate::shutdown_signal() => {}
        }
    }
    let statuses = fleet.statuses().await;
    finish(&fleet).await?;
    let ok = statuses.iter().all(|s| s.state == TenantState::Ok);
    let (cpu, rss) = self_usage();
    match fmt {
        Output::Json => out(&format!(
            "{}\n",
            serde_json::json!({"tenants": statuses, "cpu_seconds": cpu, "peak_rss_bytes": rss})
        )),
        Output::Text => {
            let mut t = String::new();
            for s in &statuses {
                let (events, blobs) = s
                    .summary
                    .as_ref()
                    .map(|x| (x.events_written, x.blobs_done))
                    .unwrap_or_default();
                t.push_str(&format!(
                    "{:<20} {:<9} events {events:>9}  blobs {blobs:>6}{}\n",
                    s.name,
                    format!("{:?}", s.state).to_lowercase(),
                    s.last_error
                        .as_ref()
                        .map(|e| format!("  error: {e}"))
                        .unwrap_or_default()
                ));
            }
            out(&t);
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What the HTTP handlers share.
struct App {
    fleet: Arc<Fleet>,
    ready_after: chrono::Duration,
    webhook: Option<o365_collect::webhook::Webhooks>,
    /// What the fleet's group gives this instance (a Kafka sink), as it changes.
    held: Option<tokio::sync::watch::Receiver<Held>>,
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

/// Ready unless a tenant has been failing for longer than `ready_after`.
fn ready(statuses: &[TenantStatus], ready_after: chrono::Duration) -> (bool, Vec<String>) {
    let now = chrono::Utc::now();
    let failing: Vec<String> = statuses
        .iter()
        .filter(|s| s.state == TenantState::Failing && now - s.since >= ready_after)
        .map(|s| s.name.clone())
        .collect();
    (failing.is_empty(), failing)
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    let mut statuses = app.fleet.statuses().await;
    for s in &mut statuses {
        s.summary = None;
    }
    let (mut ok, failing) = ready(&statuses, app.ready_after);
    let held = app.held.as_ref().map(|h| h.borrow().clone());
    if held.as_ref().is_some_and(|h| !h.joined) {
        // Not in the group yet: nobody knows which tenants are this instance's.
        ok = false;
    }
    let mut body = serde_json::json!({"ready": ok, "failing": failing, "tenants": statuses});
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
fn check_exposure(args: &ServeArgs) -> anyhow::Result<()> {
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

fn routes(g: &Global, args: &ServeArgs, app: Arc<App>, addr: SocketAddr) -> anyhow::Result<Router> {
    let token = match &args.auth_token_file {
        Some(p) => Some(crate::mcp::read_token(p)?),
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

/// `o365mgmt serve`.
pub async fn run(g: &Global, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    check_exposure(args)?;
    let shard = match &args.shard {
        Some(s) => Some(Shard::parse(s).map_err(|e| anyhow!(e))?),
        None => None,
    };
    let (collect, mut interval) = options(&args.pass)?;
    if args.webhook.webhook.is_some() && args.pass.interval.is_none() {
        // Notifications bring new blobs; polling is the safety net.
        interval = crate::webhook::SAFETY_NET_INTERVAL;
    }
    let ready_after = match &args.ready_after {
        Some(v) => duration(
            "--ready-after",
            v,
            chrono::Duration::seconds(1),
            chrono::Duration::days(7),
        )?,
        None => chrono::Duration::minutes(10),
    };
    let all = configured(g)?;
    let process = all.first().context("no tenant is configured")?.clone();
    let spec = sink_spec(&process, args.sink.as_deref())?;
    // A Kafka sink shares the tenants among the instances by Kafka's group protocol.
    let instance = instance_id(args.instance_id.as_deref())?;
    let (spec, share) = match spec.in_fleet(&instance) {
        Some(_) if shard.is_some() => bail!(
            "--shard is for the local sinks: with a Kafka sink the instances share the tenants through Kafka's group protocol (give each instance its own --instance-id); leave out --shard"
        ),
        Some((spec, held)) => (spec, Share::Group(held)),
        None if args.instance_id.is_some() => bail!(
            "--instance-id names an instance of a fleet that shares tenants through Kafka: give a kafka:// --sink, or leave it out (use --shard K/N with the local sinks)"
        ),
        None => (spec, Share::Shard(shard.unwrap_or(Shard::ALL))),
    };
    let webhook = crate::webhook::start(&args.webhook, Default::default()).await?;
    let opts = TenantOptions {
        collect,
        follow: true,
        interval,
        auto_start: args.auto_start,
        webhook: webhook.clone(),
    };
    let max = args.max_in_flight.unwrap_or(64) as usize;
    let fleet = Arc::new(start(&process, spec, opts, max)?);
    let held = match &share {
        Share::Group(h) => Some(h.clone()),
        Share::Shard(_) => None,
    };
    let app = Arc::new(App {
        fleet: fleet.clone(),
        ready_after,
        webhook,
        held,
    });
    let routes = routes(g, args, app, args.listen)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen {}", args.listen))?;
    let bound = listener.local_addr()?;
    let applied = fleet.apply(share.mine(all)).await;
    let mut first =
        serde_json::json!({"listen": format!("http://{bound}"), "tenants": applied.added});
    match &share {
        Share::Shard(s) => first["shard"] = s.to_string().into(),
        Share::Group(h) => {
            let h = h.borrow();
            first["instance"] = h.instance.clone().into();
            first["group"] = h.group.clone().into();
        }
    }
    out(&format!("{first}\n"));
    let stop = o365_collect::Stop::default();
    let server = tokio::spawn({
        let stop = stop.clone();
        async move {
            o365_http::serve(
                listener,
                routes,
                async move { stop.wait().await },
                Default::default(),
            )
            .await
        }
    });
    follow_until_stopped(g, share, &fleet).await;
    tracing::info!("stopping: blobs in flight finish, progress is saved");
    let result = finish(&fleet).await;
    stop.stop();
    let _ = server.await;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Stop every tenant and make everything durable. A second SIGINT or SIGTERM (a sink that
/// cannot finish: a broker gone) stops at once, with exit code 1: what was not committed is
/// fetched again at the next start, so nothing is lost.
async fn finish(fleet: &Fleet) -> anyhow::Result<()> {
    tokio::select! {
        r = fleet.shutdown() => r.context("the sink could not finish"),
        _ = crate::shutdown_signal() => {
            tracing::error!("second signal: stopping now; blobs not committed yet are fetched again at the next start");
            let _ = std::io::Write::flush(&mut std::io::stdout());
            std::process::exit(1);
        }
    }
}

/// Until SIGINT or SIGTERM: reload the tenants on SIGHUP, and follow what the fleet's group
/// gives this instance (tenants of revoked partitions stop, those of assigned ones start).
async fn follow_until_stopped(g: &Global, share: Share, fleet: &Fleet) {
    let mut held = match &share {
        Share::Group(h) => Some(h.clone()),
        Share::Shard(_) => None,
    };
    let group_changed = |held: &mut Option<tokio::sync::watch::Receiver<Held>>| {
        let mut h = held.clone();
        async move {
            match &mut h {
                Some(h) => {
                    if h.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        }
    };
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let reload = async {
            match &mut hup {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let reload = std::future::pending::<()>();
        tokio::select! {
            _ = crate::shutdown_signal() => return,
            _ = reload => match configured(g) {
                Ok(all) => {
                    let applied = fleet.apply(share.mine(all)).await;
                    tracing::info!(added = ?applied.added, removed = ?applied.removed, restarted = ?applied.restarted, unchanged = applied.unchanged.len(), "configuration reloaded");
                }
                Err(e) => tracing::error!(error = %format!("{e:#}"), "configuration not reloaded: the tenants keep running as they were"),
            },
            _ = group_changed(&mut held) => {
                if let Some(h) = &mut held {
                    h.borrow_and_update();
                }
                match configured(g) {
                    Ok(all) => {
                        let applied = fleet.apply(share.mine(all)).await;
                        tracing::info!(share = %share.describe(), added = ?applied.added, removed = ?applied.removed, "the fleet's group changed this instance's share");
                    }
                    Err(e) => tracing::error!(error = %format!("{e:#}"), "configuration unreadable: the tenants keep running as they were"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_until_a_tenant_fails_for_long_enough() {
        let st = |name: &str, state, ago: i64| TenantStatus {
            name: name.into(),
            tenant_id: None,
            state,
            since: chrono::Utc::now() - chrono::Duration::seconds(ago),
            last_pass: None,
            last_error: None,
            last_pass_seconds: None,
            passes: 0,
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
        let (ok, failing) = ready(
            &[
                st("a", TenantState::Ok, 0),
                st("b", TenantState::Failing, 61),
            ],
            grace,
        );
        assert!(!ok);
        assert_eq!(failing, ["b"]);
    }
}
