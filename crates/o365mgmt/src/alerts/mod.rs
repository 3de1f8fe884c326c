//! `o365mgmt alerts`: the connectors' alerts from the effectively-once collector. Records
//! become alerts in a spool (`alerts.jsonl` next to the state file: every alert once, its own
//! checkpoint), and after each pass the alerts not yet delivered go to `--sink`, at most
//! "Max events to fetch" per run, the rest in the next.

mod map;
mod params;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use o365_collect::forward::{Forwarder, Selection, Target};
use o365_collect::sinks::jsonl::JsonlKind;
use o365_collect::SinkSpec;

use crate::cli::{AlertsArgs, CollectArgs, Global, Output};
use crate::term::warn;
pub use map::AlertMap;

/// A tenant's spool: every alert made for it, in order (`alerts-TENANT.jsonl` next to the
/// state file, by the tenant's GUID `tid`: two tenants never share one, whatever their names,
/// and one tenant has one however it is written).
pub fn spool_path(s: &o365_actions::config::Settings, tid: &str) -> PathBuf {
    crate::pass::data_dir(s).join(format!("alerts-{}.jsonl", safe(tid)))
}

/// The tenant's GUID without signing in: the configured one, or the one the last sign-in gave
/// for a configured domain (else the domain).
fn known_tid(s: &o365_actions::config::Settings) -> String {
    let t = s.tenant().unwrap_or(&s.name);
    o365_api::ids::normal_guid(t)
        .or_else(|| {
            crate::setup::read_store(s)
                .ok()
                .flatten()
                .and_then(|st| st.tenant_of(t).ok().flatten())
        })
        .unwrap_or_else(|| t.trim().to_ascii_lowercase())
}

/// A name made safe for a file name.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The spools earlier versions kept: `alerts.jsonl` (shared by whatever tenant was
/// configured), `alerts-NAME.jsonl` per `[[tenants]]` entry, and `alerts-DOMAIN.jsonl` for a
/// tenant configured by its domain.
fn old_spool_paths(s: &o365_actions::config::Settings) -> Vec<PathBuf> {
    let dir = crate::pass::data_dir(s);
    let mut v = vec![dir.join(if s.name == o365_actions::config::DEFAULT_TENANT {
        "alerts.jsonl".to_string()
    } else {
        format!("alerts-{}.jsonl", safe(&s.name))
    })];
    if let Ok(t) = s.tenant() {
        if o365_api::ids::normal_guid(t).is_none() {
            v.push(dir.join(format!(
                "alerts-{}.jsonl",
                safe(&t.trim().to_ascii_lowercase())
            )));
        }
    }
    v
}

/// Take an earlier version's spool over when it holds this tenant's alerts only (it, its
/// checkpoint and its forwarding cursors are renamed: nothing is made or delivered again); one
/// that holds other tenants' alerts too is left where it is, and said so.
fn adopt_old_spools(s: &o365_actions::config::Settings, new: &std::path::Path, tid: &str) {
    for old in old_spool_paths(s) {
        adopt_old_spool(s, &old, new, tid);
    }
}

fn adopt_old_spool(
    s: &o365_actions::config::Settings,
    old: &std::path::Path,
    new: &std::path::Path,
    tid: &str,
) {
    if old == new || !old.exists() || new.exists() {
        return;
    }
    let Ok(tenant) = s.tenant() else { return };
    let checkpoint = o365_collect::checkpoint::beside(old);
    let tenants = match o365_collect::checkpoint::Checkpoint::open_read_only(&checkpoint) {
        Ok(Some(cp)) => cp.tenants().unwrap_or_default(),
        _ => vec![],
    };
    if !tenants
        .iter()
        .all(|t| t.eq_ignore_ascii_case(tenant) || t.eq_ignore_ascii_case(tid))
    {
        warn(&format!(
            "{} holds the alerts of {} tenants ({}), made by an earlier version that kept one spool for every tenant: it is no longer used; this tenant's alerts are kept in {}",
            old.display(),
            tenants.len(),
            tenants.join(", "),
            new.display()
        ));
        return;
    }
    let with = |p: &std::path::Path, suffix: &str| {
        let mut o = p.as_os_str().to_owned();
        o.push(suffix);
        PathBuf::from(o)
    };
    for suffix in [
        "",
        ".checkpoint.sqlite",
        ".checkpoint.sqlite-wal",
        ".checkpoint.sqlite-shm",
        ".forward.sqlite",
        ".forward.sqlite-wal",
        ".forward.sqlite-shm",
    ] {
        let (from, to) = (with(old, suffix), with(new, suffix));
        if from.exists() {
            if let Err(e) = std::fs::rename(&from, &to) {
                tracing::warn!(from = %from.display(), to = %to.display(), error = %e, "the earlier spool could not be taken over");
                return;
            }
        }
    }
    tracing::info!(from = %old.display(), to = %new.display(), "the earlier spool of this tenant taken over");
}

/// Reads each tenant's recent alerts from its spool, for MCP.
pub fn reader(tenants: &[o365_actions::config::Settings]) -> o365_mcp::AlertsReader {
    let spools: std::collections::HashMap<String, PathBuf> = tenants
        .iter()
        .map(|s| (s.name.clone(), spool_path(s, &known_tid(s))))
        .collect();
    Arc::new(move |tenant: &str, q: &o365_mcp::AlertQuery| {
        let Some(spool) = spools.get(tenant) else {
            return Err(format!("no tenant {tenant:?}"));
        };
        o365_collect::forward::recent(spool, q.limit, |a| q.keeps(a)).map_err(|e| e.to_string())
    })
}

/// What a run delivers of the spool, which holds the alerts of every earlier run: only its
/// connectors' alerts, and, when it asks for masking, DLP findings masked whatever run made
/// them. `None` (both connectors, unmasked) delivers the spool as it is.
fn selection(which: o365_connectors::params::Which, mask: bool) -> Option<Selection> {
    use o365_connectors::params::Which;
    let (wanted, name): (&'static [&'static str], &str) = match which {
        Which::Both if !mask => return None,
        Which::Both => (&["dlp", "audit-general"], "both"),
        Which::Dlp => (&["dlp"], "dlp"),
        Which::Audit => (&["audit-general"], "audit-general"),
    };
    let key = format!(
        "connector={name}{}",
        if mask { "&mask-findings" } else { "" }
    );
    Some(Selection {
        key,
        keep: Arc::new(move |line: &[u8]| {
            let mut v: serde_json::Value = serde_json::from_slice(line).ok()?;
            let connector = v["connector"].as_str()?;
            if !wanted.contains(&connector) {
                return None;
            }
            if mask && connector == "dlp" && o365_connectors::dlp::mask_alert(&mut v) {
                return serde_json::to_vec(&v).ok();
            }
            Some(line.to_vec())
        }),
    })
}

/// Run `alerts`: collect the connectors' content types into the spool, deliver after each pass.
pub async fn run(g: &Global, a: &AlertsArgs, fmt: Output) -> anyhow::Result<ExitCode> {
    let mut l = crate::setup::loader(g)?;
    let set = params::resolve(&mut l, a)?;
    let s = l.resolve()?;
    let target = Target::parse(&set.sink).map_err(|e| anyhow!("--sink {:?}: {e}", set.sink))?;
    // The tenant's GUID names its spool and its alerts (a domain needs a sign-in to say it).
    let client = s.client().map_err(|e| anyhow!("{e}"))?;
    let tid = match client.tenant_guid().await {
        Ok(t) => t,
        Err(e) => {
            let configured = s.tenant().map_err(|e| anyhow!("{e}"))?;
            warn(&format!(
                "cannot collect: the sign-in that names tenant {configured} failed: {e}"
            ));
            return Ok(ExitCode::from(3));
        }
    };
    let spool = spool_path(&s, &tid);
    adopt_old_spools(&s, &spool, &tid);
    let m = Arc::new(AlertMap::new(
        (tid, s.name.clone()),
        set.params.dlp.clone(),
        set.params.audit.clone(),
        target.writes_stdout(),
    ));
    // The webhook trusts what the API client trusts and takes its route (`ca_file`, `proxy`).
    let trust = s.trust()?;
    let select = selection(params::which(a), set.params.dlp.mask);
    let forwarder = {
        let (spool, target) = (spool.clone(), target.clone());
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            Forwarder::open_selected(&spool, target, &trust, rt, select)
        })
        .await??
    };
    let forwarder = Arc::new(Mutex::new(forwarder));
    let max = set.params.max_alerts;
    let after: crate::collect::AfterPass = {
        let (forwarder, m) = (forwarder.clone(), m.clone());
        Arc::new(move || {
            let mut f = forwarder.lock().unwrap_or_else(|p| p.into_inner());
            let r = f
                .forward(max)
                .map_err(|e| anyhow!("delivering alerts to {}: {e}", f.name()))?;
            crate::term::note(&format!(
                "alerts: {} made ({} records filtered out, {} skipped: they make no alert); {} delivered to {}, {} waiting{}",
                m.alerts.swap(0, Ordering::Relaxed),
                m.filtered.swap(0, Ordering::Relaxed),
                m.skipped.swap(0, Ordering::Relaxed),
                r.delivered,
                f.name(),
                r.waiting,
                match (max, r.waiting) {
                    (Some(n), w) if w > 0 => format!(" (at most {n} per run: the rest come next run)"),
                    _ => String::new(),
                }
            ));
            Ok(())
        })
    };
    let types: Vec<String> = match params::which(a) {
        o365_connectors::params::Which::Dlp => vec!["DLP.All".into()],
        o365_connectors::params::Which::Audit => vec!["Audit.General".into()],
        o365_connectors::params::Which::Both => vec!["DLP.All".into(), "Audit.General".into()],
    };
    let mut pass = a.pass.clone();
    if pass.since.is_none() {
        pass.since = set.since.map(crate::arg::When::Back);
    }
    let args = CollectArgs {
        command: None,
        types,
        all: false,
        all_tenants: false,
        run: a.run,
        pass,
        sink: None,
        auto_start: a.auto_start,
        metrics_addr: None,
        webhook: Default::default(),
    };
    let spec = SinkSpec::new(JsonlKind::mapped(spool, m));
    crate::collect::run_into(g, &args, fmt, Some(spec), Some(after)).await
}
