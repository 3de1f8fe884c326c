//! List Subscriptions (and record what is seen, so stops made elsewhere show up as gaps).

use std::time::Instant;

use chrono::Utc;
use o365_api::{ContentType, Subscription};

use crate::details::{Details, GapReport, ListDetails};
use crate::input::{ActionKind, CaseContext};
use crate::result::ActionResult;
use crate::Runner;

impl Runner {
    /// List subscriptions, the types not enabled, and the open gaps.
    pub async fn list(&self, mut ctx: CaseContext) -> ActionResult {
        let t0 = Instant::now();
        let started = Utc::now();
        let kind = ActionKind::ListSubscriptions;
        let client = match self.prepare(kind, &mut ctx, started) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut r = ActionResult::new(kind.display(), &ctx, started);
        match client.list_subscriptions().await {
            Ok(subs) => {
                self.observe(client, &subs, &mut r);
                let not_enabled: Vec<String> = ContentType::ALL
                    .iter()
                    .filter(|ct| !Subscription::enabled_in(&subs, **ct))
                    .map(|c| c.as_str().to_string())
                    .collect();
                let enabled = ContentType::ALL.len() - not_enabled.len();
                r.result_value = true;
                r.output_message = format!(
                    "Found {} O365 Management API subscription(s); {enabled} of 5 content types enabled{}.",
                    subs.len(),
                    if not_enabled.is_empty() { String::new() } else { format!(" (not enabled: {})", not_enabled.join(", ")) }
                );
                let open_gaps: Vec<GapReport> = match (&self.store, self.ledger_tenant()) {
                    (Some(s), Some(t)) => s
                        .gaps(Some(&t))
                        .unwrap_or_default()
                        .iter()
                        .filter(|g| g.started_at.is_none())
                        .map(|g| GapReport::from_gap(g, client.server_now()))
                        .collect(),
                    _ => vec![],
                };
                r.details = Details::List(ListDetails {
                    subscriptions: subs,
                    not_enabled: Some(not_enabled),
                    open_gaps: Some(open_gaps),
                });
            }
            Err(e) => {
                self.failed_by(&mut r, kind, &e);
                r.details = Details::List(ListDetails {
                    subscriptions: vec![],
                    not_enabled: None,
                    open_gaps: None,
                });
            }
        }
        self.finish(r, t0, &[])
    }
}
