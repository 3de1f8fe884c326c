//! `o365mgmt serve` (the long-running service) and `collect --all-tenants` (every tenant at
//! once): a fleet of tenant loops into one sink.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use o365_actions::config::Settings;
use o365_collect::sinks::Held;
use o365_collect::{Fleet, Shard, SinkSpec, TenantOptions, TenantState};

use crate::cli::{CollectArgs, Global, Output, ServeArgs};
use crate::pass::{options, self_usage, sink_spec};
use crate::setup::{fleet, open_store};
use crate::term::{out, warn};

mod http;
use http::{check_exposure, routes, App};

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

    /// Refuse what this share cannot run: in a Kafka fleet a tenant is placed by the hash of
    /// its GUID, which every instance must know without signing in.
    fn check(&self, all: &[Settings]) -> anyhow::Result<()> {
        if let Share::Group(_) = self {
            for t in all {
                if let Ok(id) = t.tenant() {
                    if !o365_api::is_guid(id) {
                        bail!(
                            "tenant {}: tenant_id = {id:?}: a fleet on Kafka places each tenant by its GUID, which every instance must know before signing in; give the tenant's GUID (`o365mgmt ping` shows it as tenant_id)",
                            t.name
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Every configured tenant, checked for this share.
    fn configured(&self, g: &Global) -> anyhow::Result<Vec<Settings>> {
        let all = configured(g)?;
        self.check(&all)?;
        Ok(all)
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
    let (collect, interval) = options(&args.pass);
    let interval = crate::webhook::pass_interval(
        &args.webhook,
        interval,
        args.pass.interval.is_some(),
        args.run.follow,
    )?;
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
    let fleet = Arc::new(start(
        &tenants[0],
        spec,
        opts,
        crate::arg::DEFAULT_MAX_IN_FLIGHT as usize,
    )?);
    fleet.apply(tenants).await;
    if args.run.follow {
        crate::term::shutdown_signal().await;
    } else {
        let f = fleet.clone();
        tokio::select! {
            _ = f.wait() => {}
            _ = crate::term::shutdown_signal() => {}
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

/// `o365mgmt serve`.
pub async fn run(g: &Global, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    check_exposure(args)?;
    let shard = match &args.shard {
        Some(s) => Some(Shard::parse(s).map_err(|e| anyhow!(e))?),
        None => None,
    };
    let (collect, interval) = options(&args.pass);
    let interval =
        crate::webhook::pass_interval(&args.webhook, interval, args.pass.interval.is_some(), true)?;
    let ready_after = args.ready_after.unwrap_or(crate::arg::DEFAULT_READY_AFTER);
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
    share.check(&all)?;
    let webhook = crate::webhook::start(&args.webhook, Default::default()).await?;
    let opts = TenantOptions {
        collect,
        follow: true,
        interval,
        auto_start: args.auto_start,
        webhook: webhook.clone(),
    };
    let max = args
        .max_in_flight
        .unwrap_or(crate::arg::DEFAULT_MAX_IN_FLIGHT) as usize;
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
        _ = crate::term::shutdown_signal() => {
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
            _ = crate::term::shutdown_signal() => return,
            _ = reload => match share.configured(g) {
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
                match share.configured(g) {
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
