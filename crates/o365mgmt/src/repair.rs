//! `o365mgmt gaps --repair`: each recorded gap within the audit search's reach backfilled for
//! exactly its span and content type, and the ledger told what came of it.

use std::process::ExitCode;
use std::str::FromStr as _;

use anyhow::anyhow;
use chrono::Duration;
use o365_api::ContentType;
use o365_collect::backfill::{Backfill, BackfillError, BackfillOptions};
use o365_collect::Stop;
use o365_store::Repair;

use crate::cli::Global;
use crate::pass::{duration, sink_spec};
use crate::setup::settings;
use crate::warn;

/// How far back the search reaches with Audit (Standard); older gaps are not asked.
const REACH_DAYS: i64 = 180;

/// Repair the tenant's closed gaps; the exit status says whether every one could be.
pub async fn run(g: &Global, sink: Option<&str>, poll: Option<&str>) -> anyhow::Result<ExitCode> {
    let s = settings(g)?;
    let spec = sink_spec(&s, sink)?;
    spec.check()?;
    let poll = match poll {
        Some(p) => duration("--poll", p, Duration::seconds(1), Duration::minutes(10))?.to_std()?,
        None => std::time::Duration::from_secs(5),
    };
    let store = crate::setup::open_store(&s)?;
    let client = s.client().map_err(|e| anyhow!("{e}"))?;
    let Some(tenant) =
        crate::collect::tenant_key(&s, &client, &spec, &store, "repair gaps").await?
    else {
        return Ok(ExitCode::from(3));
    };
    let now = client.server_now();
    let not = |reason: String| Repair {
        at: chrono::Utc::now(),
        repaired: false,
        events_written: 0,
        already_there: 0,
        reason,
    };
    let search = client.audit_search();
    let mut code = ExitCode::SUCCESS;
    for gap in store.gaps(Some(&tenant))? {
        if gap.repair.as_ref().is_some_and(|r| r.repaired) {
            continue;
        }
        let Some(end) = gap.started_at else {
            warn(&format!(
                "{} from {}: still stopped; it is repaired once its subscription is started again",
                gap.content_type,
                gap.stopped_at.to_rfc3339()
            ));
            continue;
        };
        let Ok(ct) = ContentType::from_str(&gap.content_type) else {
            continue;
        };
        let search = match &search {
            Ok(s) => s.clone(),
            Err(e) => {
                store.record_repair(gap.id, &not(e.to_string()))?;
                code = ExitCode::from(1);
                continue;
            }
        };
        if gap.stopped_at < now - Duration::days(REACH_DAYS) {
            store.record_repair(
                gap.id,
                &not(format!(
                    "it began more than {REACH_DAYS} days ago, beyond the audit search's reach with Audit (Standard)"
                )),
            )?;
            continue;
        }
        let mut opts = BackfillOptions::new(gap.stopped_at, end, vec![ct]);
        opts.poll = poll;
        let backfill = Backfill::new(search, tenant.clone(), spec.clone(), opts);
        match backfill.run(&Stop::default()).await {
            Ok(sum) if sum.unreached.is_empty() => {
                store.record_repair(
                    gap.id,
                    &Repair {
                        at: chrono::Utc::now(),
                        repaired: true,
                        events_written: sum.events_written,
                        already_there: sum.events_already_there,
                        reason: String::new(),
                    },
                )?;
            }
            Ok(sum) => {
                let why = sum
                    .unreached
                    .first()
                    .map(|u| u.error.clone())
                    .unwrap_or_default();
                store.record_repair(gap.id, &not(format!("not all of it was reached: {why}")))?;
                code = ExitCode::from(1);
            }
            Err(BackfillError::Refused { message, forbidden }) => {
                let why = if forbidden {
                    format!("{message} — grant the app the Microsoft Graph application permission AuditLogsQuery.Read.All and admin consent")
                } else {
                    message
                };
                warn(&format!("cannot repair: {why}"));
                store.record_repair(gap.id, &not(why))?;
                return Ok(ExitCode::from(3));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(code)
}
