//! One tenant's loop, the same for every command that collects: the pre-flight, the webhook
//! registered again, a pass, Graph's work beside it, a pause until the interval ends or a
//! notification comes — once, or until stopped. `collect` (with or without `--follow`),
//! `alerts --follow`, `collect --all-tenants` and each tenant of `serve` run this loop; what
//! each does with a turn's outcome (print it, deliver alerts, show it on `/readyz`) is its
//! [`PassHook`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use o365_actions::config::Settings;
use o365_actions::result::Failure;
use o365_api::{Client, ContentType};
use tokio::sync::Notify;

use crate::backfill::beside::{Beside, Round};
use crate::collector::{CollectError, Collector};
use crate::options::Stop;
use crate::summary::Summary;
use crate::webhook::Webhooks;

/// What one turn of the loop brought, for its hook.
#[derive(Debug)]
pub enum Turn<'a> {
    /// The pre-flight found that nothing can be collected now (sign-in or listing failed):
    /// no pass ran.
    Refused(&'a Failure),
    /// A pass ended; its errors, if any, are in the summary. `warnings` are the pre-flight's
    /// (stops seen, types not subscribed, what auto-start did).
    Passed {
        /// The pass's summary.
        summary: &'a Summary,
        /// What the pre-flight had to say.
        warnings: &'a [String],
    },
    /// The pass could not run (its sink or state failed); `warnings` as for `Passed`.
    Failed {
        /// Why.
        error: &'a CollectError,
        /// What the pre-flight had to say.
        warnings: &'a [String],
    },
}

/// What the loop does after a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Go on (pause, then the next pass) when the loop follows the feed.
    Go,
    /// End the loop now.
    Stop,
}

/// What a command does with each turn of its tenant's loop.
pub trait PassHook: Send {
    /// After each turn: render it, act on it, and say whether the loop goes on.
    fn turn(&mut self, turn: Turn<'_>) -> impl Future<Output = Next> + Send;

    /// The loop pauses until `next` at the latest (a notification may end the pause sooner).
    fn pausing(&mut self, _next: Option<DateTime<Utc>>) {}
}

/// How a notification wakes the loop.
enum Wake {
    /// No webhook: only the interval ends a pause.
    None,
    /// A single collector's receiver: every notification wakes it.
    Any(Webhooks),
    /// A receiver shared by a fleet: this tenant's notifications, routed by its GUID once
    /// signed in.
    Routed(Webhooks, Option<Arc<Notify>>),
}

/// One tenant's loop; see the module's documentation.
pub struct PassLoop<'a> {
    settings: &'a Settings,
    collector: &'a Collector,
    store: Option<Arc<o365_store::Store>>,
    types: Vec<ContentType>,
    auto_start: bool,
    wake: Wake,
    follow: Option<Duration>,
    beside: Option<(Beside, crate::sinks::SinkSpec, crate::writer::WriterHandle)>,
}

impl<'a> PassLoop<'a> {
    /// The loop of `collector`'s tenant (as `settings` configure it), collecting `types`:
    /// one turn unless [`Self::follow`].
    pub fn new(settings: &'a Settings, collector: &'a Collector, types: Vec<ContentType>) -> Self {
        Self {
            settings,
            collector,
            store: None,
            types,
            auto_start: false,
            wake: Wake::None,
            follow: None,
            beside: None,
        }
    }

    /// The state where the pre-flight records what it sees.
    pub fn with_store(mut self, store: Option<Arc<o365_store::Store>>) -> Self {
        self.store = store;
        self
    }

    /// Start the subscriptions that are not enabled.
    pub fn auto_start(mut self, yes: bool) -> Self {
        self.auto_start = yes;
        self
    }

    /// Register the webhook before each pass and wake on its notifications: all of them
    /// (`routed` false: a single collector's receiver), or this tenant's only (a fleet's).
    pub fn with_webhook(mut self, webhooks: Option<Webhooks>, routed: bool) -> Self {
        self.wake = match webhooks {
            None => Wake::None,
            Some(w) if routed => Wake::Routed(w, None),
            Some(w) => Wake::Any(w),
        };
        self
    }

    /// Keep going, a pass every `interval` (sooner when notified), until stopped.
    pub fn follow(mut self, interval: Option<Duration>) -> Self {
        self.follow = interval;
        self
    }

    /// Graph's work beside the passes (a backfill, gap repairs), written through `writer`.
    pub(crate) fn beside(
        mut self,
        beside: Beside,
        spec: crate::sinks::SinkSpec,
        writer: crate::writer::WriterHandle,
    ) -> Self {
        self.beside = Some((beside, spec, writer));
        self
    }

    /// Run the loop, `hook` told of each turn, until a single turn is done, `stop` comes or
    /// the hook says [`Next::Stop`].
    pub async fn run(mut self, hook: &mut impl PassHook, stop: &Stop) {
        let client: &Client = self.collector.client();
        let tenant = self.collector.tenant().to_string();
        loop {
            let started = tokio::time::Instant::now();
            let next = match crate::preflight::check(
                self.settings,
                self.store.as_ref(),
                client,
                &tenant,
                &self.types,
                self.auto_start,
            )
            .await
            {
                Err(f) => hook.turn(Turn::Refused(&f)).await,
                Ok(p) => {
                    self.register(client).await;
                    match self.collector.run_once(stop).await {
                        Ok(summary) => {
                            hook.turn(Turn::Passed {
                                summary: &summary,
                                warnings: &p.warnings,
                            })
                            .await
                        }
                        Err(error) => {
                            hook.turn(Turn::Failed {
                                error: &error,
                                warnings: &p.warnings,
                            })
                            .await
                        }
                    }
                }
            };
            let interval = self.follow;
            if let Some((beside, spec, writer)) = &mut self.beside {
                beside
                    .after_pass(Round {
                        client: client.clone(),
                        tenant: tenant.clone(),
                        types: self.types.clone(),
                        spec: spec.clone(),
                        writer: writer.clone(),
                        store: self.store.clone(),
                        stop: stop.clone(),
                        poll: interval
                            .unwrap_or_default()
                            .clamp(Duration::from_secs(1), Duration::from_secs(5)),
                    })
                    .await;
            }
            let Some(interval) = interval else { break };
            if next == Next::Stop || stop.is_stopped() {
                break;
            }
            hook.pausing(
                chrono::Duration::from_std(interval)
                    .ok()
                    .and_then(|d| Utc::now().checked_add_signed(d)),
            );
            let notified = async {
                match &self.wake {
                    Wake::Any(w) => w.receiver.notified().await,
                    Wake::Routed(_, Some(n)) => n.notified().await,
                    Wake::Routed(_, None) | Wake::None => std::future::pending().await,
                }
            };
            if !crate::webhook::until_next_pass(started, interval, notified, stop).await {
                break;
            }
        }
        // Stopping a service abandons a round in flight; a single pass waits for it.
        if let Some((beside, ..)) = self.beside {
            beside.finish(self.follow.is_some()).await;
        }
    }

    /// Register the webhook again (the service may have disabled or expired it meanwhile), and
    /// route this tenant's notifications once its GUID is known.
    async fn register(&mut self, client: &Client) {
        let metrics = self.collector.metrics();
        let w = match &mut self.wake {
            Wake::None => return,
            Wake::Any(w) => w,
            Wake::Routed(w, wake) => {
                if wake.is_none() {
                    // Notifications name the tenant by GUID: known once signed in.
                    if let Ok(t) = client.token_info().await {
                        *wake = Some(w.receiver.route(&t.tenant_id, metrics.clone()));
                    }
                }
                w
            }
        };
        if let Err(e) = crate::webhook::register(client, &self.types, &w.spec, &metrics).await {
            tracing::warn!(error = %e, "could not register the webhook (polling goes on)");
        }
    }
}
