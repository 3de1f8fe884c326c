//! `o365mgmt gaps --repair`: each recorded gap within the audit search's reach backfilled for
//! exactly its span and content type (see `o365_collect::backfill::repair`).

use std::process::ExitCode;

use anyhow::anyhow;
use chrono::Duration;
use o365_collect::backfill::repair::{repair_gaps, RepairOptions};
use o365_collect::backfill::BackfillError;
use o365_collect::Stop;

use crate::cli::Global;
use crate::pass::sink_spec;
use crate::setup::settings;
use crate::term::warn;

/// Repair the tenant's closed gaps; the exit status says whether every one could be.
pub async fn run(
    g: &Global,
    sink: Option<&str>,
    poll: Option<std::time::Duration>,
) -> anyhow::Result<ExitCode> {
    let s = settings(g)?;
    let spec = sink_spec(&s, sink)?;
    spec.check()?;
    let poll = poll.unwrap_or(o365_collect::backfill::DEFAULT_POLL);
    let store = crate::setup::open_store(&s)?;
    let client = s.client().map_err(|e| anyhow!("{e}"))?;
    let Some(tenant) =
        crate::progress::tenant_key(&s, &client, &spec, &store, "repair gaps").await?
    else {
        return Ok(ExitCode::from(3));
    };
    let opts = RepairOptions {
        poll,
        again_after: Duration::zero(),
    };
    let stop = Stop::default();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            crate::term::shutdown_signal().await;
            stop.stop();
        });
    }
    match repair_gaps(&client, &tenant, &spec, None, &store, &opts, &stop).await {
        Ok(r) => {
            for o in &r.open {
                warn(o);
            }
            Ok(if r.not_repaired == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(BackfillError::Refused { message, .. }) => {
            warn(&format!("cannot repair: {message}"));
            warn("fix: grant the app the Microsoft Graph application permission AuditLogsQuery.Read.All and admin consent (Entra admin center > App registrations > API permissions)");
            Ok(ExitCode::from(3))
        }
        Err(e) => Err(e.into()),
    }
}
