//! Start and Stop Subscription: one call per content type, concurrently, each recorded in the
//! data-gap ledger.

use std::time::Instant;

use chrono::Utc;
use o365_api::{ContentType, StartOutcome};
use o365_store::{SubscriptionState, TransitionCause};

use crate::details::{ChangeDetails, Details, GapReport, Outcome, TypeError, TypeOutcome};
use crate::input::{ActionKind, CaseContext, InputError};
use crate::result::{diagnose, ActionResult, Failure, FailureKind};
use crate::{human_seconds, Runner, STOP_WARNING};

/// A failure that stops the whole action when every type meets it: nothing answered, or the
/// service throttled every call.
fn stops_the_action(f: &Failure) -> bool {
    f.kind == FailureKind::Connectivity || f.cause == "throttled"
}

impl Runner {
    /// Start subscriptions, one call per type, concurrently.
    pub async fn start(&self, ctx: CaseContext, types: Vec<ContentType>) -> ActionResult {
        self.change(ActionKind::StartSubscription, ctx, types).await
    }

    /// Stop subscriptions, one call per type, concurrently. Content of the stopped time is lost.
    pub async fn stop(&self, ctx: CaseContext, types: Vec<ContentType>) -> ActionResult {
        self.change(ActionKind::StopSubscription, ctx, types).await
    }

    async fn change(
        &self,
        kind: ActionKind,
        mut ctx: CaseContext,
        types: Vec<ContentType>,
    ) -> ActionResult {
        let t0 = Instant::now();
        let started = Utc::now();
        let start = kind == ActionKind::StartSubscription;
        if types.is_empty() {
            let field = if start {
                "start_a_subscription_for"
            } else {
                "stop_a_subscription_for"
            };
            let e = InputError::new(
                field,
                Some("[]".into()),
                format!(
                    "name at least one content type: {}",
                    ContentType::ALL.map(|c| c.as_str()).join(", ")
                ),
            );
            return self.refuse(kind, &ctx, started, Failure::input(&e));
        }
        let client = match self.prepare(kind, &mut ctx, started) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut r = ActionResult::new(kind.display(), &ctx, started);
        let mut d = ChangeDetails {
            subscriptions: vec![],
            gaps: vec![],
            warning: None,
        };
        // One sign-in first: if it fails, every type would fail the same way.
        if let Err(e) = client.token_info().await {
            self.failed_by(&mut r, kind, &e);
            r.details = Details::Change(d);
            return self.finish(r, t0, &types);
        }
        // The service asks for 15 minutes between starts: a start goes out only for types the
        // listing does not show enabled (if the listing fails, every type is started).
        let enabled = if start {
            match client.list_subscriptions().await {
                Ok(subs) => subs
                    .iter()
                    .filter(|s| s.is_enabled())
                    .filter_map(|s| s.content_type.parse::<ContentType>().ok())
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not list the subscriptions first: starting every type asked for");
                    vec![]
                }
            }
        } else {
            vec![]
        };
        let enabled = &enabled;
        let calls = types.iter().map(|&ct| async move {
            if start && enabled.contains(&ct) {
                (ct, Ok(Some(StartOutcome::AlreadyEnabled)))
            } else if start {
                (ct, client.start_subscription(ct, None).await.map(Some))
            } else {
                (ct, client.stop_subscription(ct).await.map(|()| None))
            }
        });
        let answers = futures::future::join_all(calls).await;
        let now = client.server_now();
        let tenant = self.ledger_tenant().unwrap_or_default();
        let mut stopping = 0;
        let mut first_error: Option<o365_api::Error> = None;
        for (ct, res) in answers {
            let name = ct.as_str();
            let mut o = TypeOutcome {
                content_type: name.into(),
                outcome: Outcome::Failed,
                status: None,
                webhook: None,
                error: None,
                message: String::new(),
            };
            let mut record = None;
            match res {
                Ok(Some(StartOutcome::Started(s))) => {
                    o.outcome = Outcome::Started;
                    o.status = Some(if s.status.is_empty() {
                        "enabled".into()
                    } else {
                        s.status
                    });
                    o.webhook = s
                        .webhook
                        .map(|w| serde_json::to_value(w).unwrap_or_default());
                    o.message = format!("Successfully created O365 Management API subscription for the {name} content type!");
                    record = Some((SubscriptionState::Enabled, TransitionCause::Action));
                }
                Ok(Some(StartOutcome::AlreadyEnabled)) => {
                    o.outcome = Outcome::AlreadyEnabled;
                    o.status = Some("enabled".into());
                    o.message = format!("The O365 Management API subscription for the {name} content type is already enabled: nothing to do.");
                    record = Some((SubscriptionState::Enabled, TransitionCause::Observed));
                }
                Ok(None) => {
                    o.outcome = Outcome::Stopped;
                    o.status = Some("disabled".into());
                    o.message = format!("Successfully stopped O365 Management API subscription for the {name} content type!");
                    record = Some((SubscriptionState::Disabled, TransitionCause::Action));
                }
                Err(e) if !start && e.is_not_subscribed() => {
                    o.outcome = Outcome::NotSubscribed;
                    o.status = Some(if e.is_subscription_disabled() {
                        "disabled".into()
                    } else {
                        "none".into()
                    });
                    o.message = format!("There is no active O365 Management API subscription for the {name} content type: nothing to stop.");
                }
                Err(e) => {
                    let f = diagnose(&e, self.settings.secret_looks_like_id());
                    if stops_the_action(&f) {
                        stopping += 1;
                    }
                    o.error = Some(TypeError {
                        code: f.code.clone(),
                        http_status: f.http_status,
                        message: format!("{e}"),
                    });
                    o.message = format!("Failed to execute command! Error is {name}: {e}");
                    first_error.get_or_insert(e);
                }
            }
            if let (Some((state, cause)), Some(store)) = (record, &self.store) {
                // "Already enabled" is only worth a row when we believed otherwise.
                let recorded = match cause {
                    TransitionCause::Action => store
                        .transition(&tenant, ct, state, cause, now, Some(&ctx.case_id))
                        .map(|closed| closed.into_iter().collect::<Vec<_>>()),
                    TransitionCause::Observed => store
                        .observe(&tenant, ct, state, now, Some(&ctx.case_id))
                        .map(|o| o.closed.into_iter().collect()),
                };
                match recorded {
                    Ok(closed) => d
                        .gaps
                        .extend(closed.iter().map(|g| GapReport::from_gap(g, now))),
                    Err(e) => self.state_not_recorded(&mut r, "data-gap ledger", &e),
                }
            }
            d.subscriptions.push(o);
        }
        r.result_value = d.subscriptions.iter().all(|o| o.outcome != Outcome::Failed);
        let mut lines: Vec<String> = d.subscriptions.iter().map(|o| o.message.clone()).collect();
        for g in &d.gaps {
            lines.push(format!(
                "Data gap for {}: no content exists for [{}, {}) ({}), while the subscription was stopped.",
                g.content_type,
                g.stopped_at,
                g.started_at.as_deref().unwrap_or("now"),
                human_seconds(g.seconds)
            ));
        }
        if !start {
            if d.subscriptions
                .iter()
                .any(|o| o.outcome == Outcome::Stopped)
            {
                lines.push(format!("Warning: {STOP_WARNING}"));
            }
            d.warning = Some(STOP_WARNING.into());
        }
        r.output_message = lines.join("\n");
        if stopping == types.len() {
            if let Some(e) = &first_error {
                self.failed_by(&mut r, kind, e);
            }
        }
        r.details = Details::Change(d);
        self.finish(r, t0, &types)
    }
}
