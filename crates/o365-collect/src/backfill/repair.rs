//! Gaps that heal: each closed gap of the ledger within the audit search's reach backfilled for
//! exactly its span and content type, and the ledger told what came of it. Used by
//! `gaps --repair` and by `serve` with `repair_gaps`.

use std::str::FromStr as _;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use o365_api::{Client, ContentType};
use o365_store::{Repair, Store};

use super::{Backfill, BackfillError, BackfillOptions};
use crate::options::Stop;
use crate::sinks::SinkSpec;
use crate::writer::WriterHandle;

/// How far back the search reaches with Audit (Standard); older gaps are not asked.
pub const REACH_DAYS: i64 = 180;

/// How repairs run.
#[derive(Debug, Clone)]
pub struct RepairOptions {
    /// First wait before asking how a query goes.
    pub poll: StdDuration,
    /// A gap whose repair failed is tried again only this long after (0: at once).
    pub again_after: Duration,
}

/// What a round of repairs did.
#[derive(Debug, Default, Clone)]
pub struct Repaired {
    /// Gaps repaired now.
    pub repaired: usize,
    /// Gaps that could not be (the ledger says why).
    pub not_repaired: usize,
    /// Gaps still open (their subscription still stopped), said as text.
    pub open: Vec<String>,
}

/// Repair the closed gaps of `tenant` (its key in the ledger and the sink) through `client`'s
/// audit search into `spec` (through `writer` when given).
#[inline(never)]
pub fn repair_gaps<'a>(
    client: &'a Client,
    tenant: &'a str,
    spec: &'a SinkSpec,
    writer: Option<&'a WriterHandle>,
    store: &'a Store,
    opts: &'a RepairOptions,
    stop: &'a Stop,
) -> crate::Boxed<'a, Result<Repaired, BackfillError>> {
    Box::pin(repair(client, tenant, spec, writer, store, opts, stop))
}

/// [`repair_gaps`]'s work.
async fn repair(
    client: &Client,
    tenant: &str,
    spec: &SinkSpec,
    writer: Option<&WriterHandle>,
    store: &Store,
    opts: &RepairOptions,
    stop: &Stop,
) -> Result<Repaired, BackfillError> {
    let sql = |e: o365_store::StoreError| BackfillError::Ledger(e.to_string());
    let now = client.server_now();
    let not = |reason: String| Repair {
        at: Utc::now(),
        repaired: false,
        events_written: 0,
        already_there: 0,
        reason,
    };
    let search = client.audit_search();
    let mut out = Repaired::default();
    let history = o365_api::cloud::history_key(tenant, client.api_root());
    for gap in store.gaps(Some(&history)).map_err(sql)? {
        if stop.is_stopped() {
            break;
        }
        match &gap.repair {
            Some(r) if r.repaired => continue,
            Some(r) if Utc::now() - r.at < opts.again_after => continue,
            _ => {}
        }
        let Some(end) = gap.started_at else {
            out.open.push(format!(
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
                store
                    .record_repair(gap.id, &not(e.to_string()))
                    .map_err(sql)?;
                out.not_repaired += 1;
                continue;
            }
        };
        if gap.stopped_at < now - Duration::days(REACH_DAYS) {
            store
                .record_repair(
                    gap.id,
                    &not(format!(
                        "it began more than {REACH_DAYS} days ago, beyond the audit search's reach with Audit (Standard)"
                    )),
                )
                .map_err(sql)?;
            out.not_repaired += 1;
            continue;
        }
        let mut bo = BackfillOptions::new(gap.stopped_at, end, vec![ct]);
        bo.poll = opts.poll;
        let mut backfill = Backfill::new(search, tenant.to_string(), spec.clone(), bo);
        if let Some(w) = writer {
            backfill = backfill.with_writer(w.clone());
        }
        match backfill.run(stop).await {
            Ok(sum) if sum.unreached.is_empty() => {
                store
                    .record_repair(
                        gap.id,
                        &Repair {
                            at: Utc::now(),
                            repaired: true,
                            events_written: sum.events_written,
                            already_there: sum.events_already_there,
                            reason: String::new(),
                        },
                    )
                    .map_err(sql)?;
                tracing::info!(content_type = %ct, from = %gap.stopped_at, to = %end, events = sum.events_written, "data gap repaired from the audit search");
                out.repaired += 1;
            }
            Ok(sum) => {
                let why = sum
                    .unreached
                    .first()
                    .map(|u| u.error.clone())
                    .unwrap_or_default();
                store
                    .record_repair(gap.id, &not(format!("not all of it was reached: {why}")))
                    .map_err(sql)?;
                out.not_repaired += 1;
            }
            Err(BackfillError::Refused { message, forbidden }) => {
                let why = if forbidden {
                    format!("{message} — grant the app the Microsoft Graph application permission AuditLogsQuery.Read.All and admin consent")
                } else {
                    message.clone()
                };
                store.record_repair(gap.id, &not(why)).map_err(sql)?;
                return Err(BackfillError::Refused { message, forbidden });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
