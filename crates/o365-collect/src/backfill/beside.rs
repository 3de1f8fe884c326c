//! What a tenant's loop runs beside its passes through Graph's audit search, one round at a
//! time (a search takes minutes to hours): a backfill `backfill_since` back, until it is done,
//! and repairs of the ledger's closed gaps (`repair_gaps`). Both write through the loop's writer:
//! the same producer as the feed's events (in a Kafka fleet, fenced by the same generation),
//! de-duplicated against what the feed writes at the same moment.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use o365_api::{Client, ContentType};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use super::repair::{repair_gaps, RepairOptions};
use super::{Backfill, BackfillOptions};
use crate::options::Stop;
use crate::sinks::SinkSpec;
use crate::writer::WriterHandle;

/// A failed backfill is tried again this long after.
const AGAIN_AFTER: StdDuration = StdDuration::from_secs(3600);

/// What a round needs.
pub(crate) struct Round {
    pub(crate) client: Client,
    pub(crate) tenant: String,
    pub(crate) types: Vec<ContentType>,
    pub(crate) spec: SinkSpec,
    pub(crate) writer: WriterHandle,
    pub(crate) store: Option<Arc<o365_store::Store>>,
    pub(crate) stop: Stop,
    pub(crate) poll: StdDuration,
}

/// The Graph work of one tenant's loop.
pub(crate) struct Beside {
    backfill: Option<Duration>,
    repair: bool,
    task: Option<JoinHandle<bool>>,
    backfilled: bool,
    not_before: Option<Instant>,
}

impl Beside {
    /// For a tenant with these settings (`None` / `false`: nothing to do).
    pub(crate) fn new(backfill: Option<Duration>, repair: bool) -> Self {
        Self {
            backfill,
            repair,
            task: None,
            backfilled: backfill.is_none(),
            not_before: None,
        }
    }

    /// After a pass: start a round unless one runs.
    pub(crate) async fn after_pass(&mut self, r: Round) {
        if self.task.as_ref().is_some_and(|t| t.is_finished()) {
            if let Some(t) = self.task.take() {
                let ok = t.await.unwrap_or(false);
                self.backfilled |= ok;
                if !ok && !self.backfilled {
                    self.not_before = Some(Instant::now() + AGAIN_AFTER);
                }
            }
        }
        if self.task.is_some() {
            return;
        }
        let backfill = (!self.backfilled && self.not_before.is_none_or(|t| Instant::now() >= t))
            .then_some(self.backfill)
            .flatten();
        if backfill.is_none() && !(self.repair && r.store.is_some()) {
            return;
        }
        let repair = self.repair;
        self.task = Some(tokio::spawn(round(r, backfill, repair).in_current_span()));
    }

    /// Stop: a round in flight is abandoned when `abort` (a window not written whole is asked
    /// again later), else waited for.
    pub(crate) async fn finish(self, abort: bool) {
        if let Some(t) = self.task {
            if abort {
                t.abort();
            }
            let _ = t.await;
        }
    }
}

/// One round: the backfill (if asked), then the repairs (if asked). Whether the backfill is
/// done (true when none was asked).
async fn round(r: Round, backfill: Option<Duration>, repair: bool) -> bool {
    let mut done = true;
    if let Some(back) = backfill {
        done = match r.client.audit_search() {
            Err(e) => {
                tracing::warn!(error = %e, "backfill_since: not possible here");
                false
            }
            Ok(search) => {
                let now = r.client.server_now();
                let mut opts = BackfillOptions::new(now - back, now, r.types.clone());
                opts.poll = r.poll;
                let b = Backfill::new(search, r.tenant.clone(), r.spec.clone(), opts)
                    .with_writer(r.writer.clone());
                match b.run(&r.stop).await {
                    Ok(s) if s.unreached.is_empty() => {
                        tracing::info!(
                            events = s.events_written,
                            already_there = s.events_already_there,
                            windows = s.windows,
                            "backfill done"
                        );
                        true
                    }
                    Ok(s) => {
                        tracing::warn!(not_reached = s.unreached.len(), first = ?s.unreached.first().map(|u| &u.error), "backfill not finished: the rest is asked again in an hour");
                        false
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "backfill failed: asked again in an hour");
                        false
                    }
                }
            }
        };
    }
    if let (true, Some(store)) = (repair, &r.store) {
        let opts = RepairOptions {
            poll: r.poll,
            again_after: Duration::hours(1),
        };
        match repair_gaps(
            &r.client,
            &r.tenant,
            &r.spec,
            Some(&r.writer),
            store,
            &opts,
            &r.stop,
        )
        .await
        {
            Ok(x) if x.repaired + x.not_repaired > 0 => {
                tracing::info!(
                    repaired = x.repaired,
                    not_repaired = x.not_repaired,
                    "data gaps repaired from the audit search"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "data gaps not repaired"),
        }
    }
    done
}
