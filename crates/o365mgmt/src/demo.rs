//! `o365mgmt demo`: a guided tour of the integration on an embedded emulator. It runs the same
//! actions as `o365mgmt ping`, `start-subscription`, ... and shows each command it stands for.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use o365_actions::config::{Loader, Source};
use o365_actions::input::CaseContext;
use o365_actions::result::{ActionResult, Outcome, Status};
use o365_actions::Details;
use o365_actions::Runner;
use o365_api::ContentType;

/// Print a line; a closed stdout (e.g. `| head`) is not an error worth a panic.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

fn step(n: u32, what: &str, command: &str) {
    say!("\n[{n}] {what}");
    say!("    $ o365mgmt {command}");
}

fn show(r: &ActionResult) {
    for line in r.output_message.lines() {
        say!("    {line}");
    }
    for w in &r.warnings {
        say!("    warning: {w}");
    }
}

fn case(id: &str) -> CaseContext {
    CaseContext {
        case_id: id.into(),
        alert_group_identifiers: vec!["demo-alerts".into()],
        ..CaseContext::manual()
    }
}

/// Run the tour; exit 0 when every step behaved as it should. Nothing is written outside a temp
/// directory unless `state` is given.
pub async fn run(state: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let emu = o365_emulator::Emulator::start(o365_emulator::EmulatorConfig::default()).await?;
    let info = emu.info();
    let tmp = tempfile::Builder::new()
        .prefix("o365mgmt-demo-")
        .tempdir()?;
    let state = state.unwrap_or_else(|| tmp.path().join("state.sqlite"));
    say!("o365mgmt demo: the SOAR integration's actions against an embedded emulator of");
    say!(
        "login.microsoftonline.com + manage.office.com, listening on {}.",
        info.api_root
    );
    say!(
        "Tenant {} (app {}); journal and gap ledger in {}.",
        info.tenant_id,
        info.client_id,
        state.display()
    );
    say!("Against a real tenant, put tenant_id, client_id and client_secret in o365mgmt.toml");
    say!("(or O365_TENANT_ID, O365_CLIENT_ID, O365_CLIENT_SECRET) and run the same commands.");

    let mut l = Loader::new();
    for (k, v) in [
        ("api_root", info.api_root.as_str()),
        ("login_endpoint", info.login_endpoint.as_str()),
        ("tenant_id", info.tenant_id.as_str()),
        ("client_id", info.client_id.as_str()),
        ("client_secret", info.client_secret.as_str()),
    ] {
        l.set(k, v, Source::Flag("demo"));
    }
    let settings = l.resolve()?;
    let store = Arc::new(o365_store::Store::open(&state)?);
    let runner = Runner::new(settings, Some(store.clone()), "demo");

    step(
        1,
        "Ping: sign in AND list subscriptions, so green means the other actions will work",
        "ping",
    );
    let r = runner.ping(case("demo-1")).await;
    show(&r);
    let roles = match &r.details {
        Details::Ping(d) => d.roles.clone().unwrap_or_default(),
        _ => vec![],
    };
    say!("    roles in the token: {}", serde_json::json!(roles));
    if r.status != Status::Completed || !r.result_value {
        bail!("ping failed: {}", r.output_message);
    }

    step(
        2,
        "Start all five content types at once (one call each, concurrently)",
        "start-subscription --all",
    );
    let r = runner
        .start(case("demo-2"), ContentType::ALL.to_vec())
        .await;
    show(&r);
    if !r.result_value {
        bail!("start failed: {}", r.output_message);
    }

    step(
        3,
        "Start one again: 'already enabled' (AF20024) is success, not a failure",
        "start-subscription audit.exchange",
    );
    let r = runner
        .start(case("demo-3"), vec![ContentType::Exchange])
        .await;
    show(&r);
    let outcome = match &r.details {
        Details::Change(d) => d.subscriptions.first().map(|o| o.outcome),
        _ => None,
    };
    if outcome != Some(Outcome::AlreadyEnabled) {
        bail!("expected already_enabled, got {}", r.json_result());
    }

    step(4, "List the subscriptions", "subscriptions");
    let r = runner.list(case("demo-4")).await;
    show(&r);

    step(
        5,
        "Stop Audit.Exchange: the ledger records when",
        "stop-subscription Audit.Exchange",
    );
    let r = runner
        .stop(case("demo-5"), vec![ContentType::Exchange])
        .await;
    show(&r);

    say!("\n    ... three hours pass (the emulator's clock moves; tokens expire and are renewed) ...");
    reqwest::Client::new()
        .post(format!("{}/clock/advance", info.control_root))
        .json(&serde_json::json!({ "seconds": 3 * 3600 }))
        .send()
        .await
        .context("moving the emulator's clock")?
        .error_for_status()?;

    step(
        6,
        "Start it again: the result reports the data gap for the time it was stopped",
        "start-subscription Audit.Exchange",
    );
    let r = runner
        .start(case("demo-6"), vec![ContentType::Exchange])
        .await;
    show(&r);
    let gaps = match &r.details {
        Details::Change(d) => d.gaps.len(),
        _ => 0,
    };
    if gaps != 1 {
        bail!("expected one gap, got {}", r.json_result());
    }

    step(
        7,
        "Content available to collect for Audit.General (the last 24 hours)",
        "content list --content-type Audit.General",
    );
    let r = runner
        .content(case("demo-7"), ContentType::General, None, None, None)
        .await;
    show(&r);

    step(
        8,
        "Collect the audit log into SQLite: effectively once, de-duplicated on the event Id",
        "collect --all",
    );
    let client = runner.client().map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    let events_db = state
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("events.sqlite");
    let collector = o365_collect::Collector::new(
        client,
        info.tenant_id.clone(),
        o365_collect::SinkSpec::sqlite(events_db.clone()),
        o365_collect::Options::new(ContentType::ALL.to_vec()),
    )
    .with_ledger(store.clone());
    let s = collector.run_once(&o365_collect::Stop::default()).await?;
    say!(
        "    {} events from {} blobs ({} duplicates dropped) in {:.2} s, {} requests, into {}",
        s.events_written,
        s.blobs_done,
        s.duplicates,
        s.seconds,
        s.requests,
        events_db.display()
    );
    let again = collector.run_once(&o365_collect::Stop::default()).await?;
    say!(
        "    a second pass re-lists recent windows for late blobs: {} new events, {} blobs already done",
        again.events_written,
        again.types.iter().map(|t| t.blobs_skipped).sum::<u64>()
    );
    if s.events_written == 0 || again.blobs_done > 5 {
        bail!("collection did not behave: {s:?} / {again:?}");
    }
    const TOP: &str =
        "SELECT operation, count(*) FROM events GROUP BY operation ORDER BY 2 DESC, 1 LIMIT 3";
    say!("    read them with SQL, e.g. the commonest operations:\n    $ sqlite3 events.sqlite \"{TOP}\"");
    for (operation, n) in top_rows(&events_db, TOP)? {
        say!("      {operation:<32} {n}");
    }

    step(
        9,
        "The gap ledger and the journal",
        "gaps; o365mgmt journal",
    );
    for g in runner.gaps()? {
        say!(
            "    gap: [{}, {}) {} ({}, source {})",
            g.stopped_at,
            g.started_at.as_deref().unwrap_or("now"),
            g.content_type,
            o365_actions::human_seconds(g.seconds),
            g.source
        );
    }
    let rows = store.journal(None, 100)?;
    say!(
        "    {} actions journaled, e.g. {} for case {}: {}",
        rows.len(),
        rows[0].action,
        rows[0].case_id,
        if rows[0].result_value { "ok" } else { "not ok" }
    );

    say!("\nDone. Next: `o365mgmt emulator` runs the emulator on its own; `o365mgmt --help` lists every command.");
    emu.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// The rows of `query` (a name and a count) over the demo's events file.
fn top_rows(path: &std::path::Path, query: &str) -> anyhow::Result<Vec<(String, i64)>> {
    let conn = o365_store::files::open_sqlite_read_only(path)?;
    let mut st = conn.prepare(query)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                r.get(1)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
