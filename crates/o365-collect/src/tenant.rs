//! One tenant of a fleet: how its loop ([`crate::passes`]) starts, and what it reports.

use std::sync::Arc;

use std::time::Duration;

use chrono::{DateTime, Utc};
use o365_actions::config::Settings;
use o365_api::Client;
use tokio::sync::Semaphore;

use crate::collector::Collector;
use crate::metrics::Metrics;
use crate::options::{Options, Stop};
use crate::passes::{Next, PassHook, PassLoop, Turn};
use crate::sinks::SinkSpec;
use crate::summary::Summary;
use crate::writer::WriterHandle;

/// Where a tenant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantState {
    /// Not through a pass yet.
    Starting,
    /// The last pass finished without an error.
    Ok,
    /// The last pass (or its pre-flight) failed.
    Failing,
    /// Stopped (removed from the configuration, or shutting down).
    Stopped,
}

/// What a tenant reports, for `/readyz`, summaries and logs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantStatus {
    /// Its name.
    pub name: String,
    /// Its tenant id.
    pub tenant_id: Option<String>,
    /// Where it stands.
    pub state: TenantState,
    /// In this state since.
    pub since: DateTime<Utc>,
    /// When the last pass ended.
    pub last_pass: Option<DateTime<Utc>>,
    /// The last error, if the last pass failed.
    pub last_error: Option<String>,
    /// How long the last pass took.
    pub last_pass_seconds: Option<f64>,
    /// Passes finished.
    pub passes: u64,
    /// When the next pass begins at the latest (a notification may start it sooner).
    pub next_pass: Option<DateTime<Utc>>,
    /// The last pass's summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
}

/// What a running tenant shares with the service: its metrics, its client, its status.
#[derive(Debug)]
pub struct TenantShared {
    /// Its name.
    pub name: String,
    /// Its metrics.
    pub metrics: Arc<Metrics>,
    client: std::sync::Mutex<Option<Client>>,
    status: std::sync::Mutex<TenantStatus>,
}

impl TenantShared {
    pub(crate) fn new(settings: &Settings) -> Self {
        Self {
            name: settings.name.clone(),
            metrics: Arc::new(Metrics::default()),
            client: std::sync::Mutex::new(None),
            status: std::sync::Mutex::new(TenantStatus {
                name: settings.name.clone(),
                tenant_id: settings.tenant_id.as_ref().map(|t| t.value.clone()),
                state: TenantState::Starting,
                since: Utc::now(),
                last_pass: None,
                last_error: None,
                last_pass_seconds: None,
                passes: 0,
                next_pass: None,
                summary: None,
            }),
        }
    }

    /// Its status now.
    pub fn status(&self) -> TenantStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Its client, once built.
    pub fn client(&self) -> Option<Client> {
        self.client.lock().ok().and_then(|c| c.clone())
    }

    fn update(&self, f: impl FnOnce(&mut TenantStatus)) {
        if let Ok(mut s) = self.status.lock() {
            let before = s.state;
            f(&mut s);
            if s.state != before {
                s.since = Utc::now();
            }
        }
    }

    fn failed(&self, error: String) {
        tracing::warn!(%error, "tenant pass failed");
        self.update(|s| {
            s.state = TenantState::Failing;
            s.last_error = Some(error);
        });
    }

    pub(crate) fn stopped(&self) {
        self.update(|s| s.state = TenantState::Stopped);
    }
}

/// How a fleet runs each tenant.
#[derive(Debug, Clone)]
pub struct TenantOptions {
    /// Collection options (the tenant's content types replace `types`).
    pub collect: Options,
    /// Keep collecting, one pass per `interval`, until stopped.
    pub follow: bool,
    /// Pause between passes.
    pub interval: Duration,
    /// Start subscriptions that are not enabled.
    pub auto_start: bool,
    /// Webhook notifications: registered for every tenant, each woken by its own.
    pub webhook: Option<crate::webhook::Webhooks>,
}

/// Everything one tenant's loop needs.
pub(crate) struct TenantRun {
    pub(crate) settings: Settings,
    pub(crate) shared: Arc<TenantShared>,
    pub(crate) opts: TenantOptions,
    pub(crate) spec: SinkSpec,
    pub(crate) writer: WriterHandle,
    pub(crate) global: Arc<Semaphore>,
    pub(crate) store: Option<Arc<o365_store::Store>>,
    pub(crate) stop: Stop,
    pub(crate) keys: Arc<crate::identity::Keys>,
}

impl TenantRun {
    /// Sign in, decide the tenant's key, then its loop: until stopped (or after one pass
    /// without `follow`).
    pub(crate) async fn run(self) {
        let s = &self.settings;
        let (client, configured) = match (s.client(), s.tenant()) {
            (Ok(c), Ok(t)) => (c, t.to_string()),
            (Err(e), _) | (_, Err(e)) => {
                self.shared.failed(format!("configuration: {e}"));
                if self.opts.follow {
                    // Nothing to retry until the configuration changes (a reload restarts it).
                    self.stop.wait().await;
                }
                return;
            }
        };
        // The tenant is its GUID, however it is written (a domain needs a sign-in to say it):
        // the key of its state, and one loop per tenant in this process.
        let (tenant, _claim) = loop {
            match self
                .keys
                .decide(
                    &self.spec,
                    &client,
                    &configured,
                    &s.name,
                    self.store.as_deref(),
                )
                .await
            {
                Ok(k) => break k,
                Err(e) => {
                    self.shared.failed(e.to_string());
                    if !self.opts.follow {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(self.opts.interval) => {}
                        _ = self.stop.wait() => return,
                    }
                }
            }
        };
        if let Ok(mut c) = self.shared.client.lock() {
            *c = Some(client.clone());
        }
        // Reading commands (`status`) find a local sink this tenant is collected into.
        if let (Some(st), Some(name)) = (&self.store, self.spec.remembered()) {
            let key = o365_api::ids::normal_guid(&tenant)
                .unwrap_or_else(|| tenant.trim().to_ascii_lowercase());
            if let Err(e) = st.remember_sink(&key, &name, Utc::now()) {
                tracing::warn!(error = %e, "could not remember the sink");
            }
        }
        let mut collect = self.opts.collect.clone();
        collect.types = s.content_types.value.clone();
        let collector = Collector::new(
            client.clone(),
            tenant.clone(),
            self.spec.clone(),
            collect.clone(),
        )
        .with_writer(self.writer.clone())
        .with_global_limit(self.global.clone())
        .with_metrics(self.shared.metrics.clone());
        let collector = match &self.store {
            Some(st) => collector.with_ledger(st.clone()),
            None => collector,
        };
        // Where collection begins, fixed before any request (see `Collector::fix_start`).
        if let Err(e) = collector.fix_start().await {
            tracing::warn!(error = %e, "where collection begins is not recorded yet (the first pass records it)");
        }
        // Graph's audit search beside the passes: a backfill, gap repairs.
        let beside = crate::backfill::beside::Beside::new(
            s.backfill_since.as_ref().map(|b| b.value),
            s.repair_gaps.value,
        );
        PassLoop::new(s, &collector, collect.types.clone())
            .with_store(self.store.clone())
            .auto_start(self.opts.auto_start)
            .with_webhook(self.opts.webhook.clone(), true)
            .follow(self.opts.follow.then_some(self.opts.interval))
            .beside(beside, self.spec.clone(), self.writer.clone())
            .run(&mut Shown(&self.shared), &self.stop)
            .await;
    }
}

/// A fleet's tenant shows each turn in its status (`/readyz`, the status page) and its log.
struct Shown<'a>(&'a TenantShared);

impl PassHook for Shown<'_> {
    async fn turn(&mut self, turn: Turn<'_>) -> Next {
        match turn {
            Turn::Refused(f) => self.0.failed(format!("{} (fix: {})", f.message, f.fix)),
            Turn::Failed { error, warnings } => {
                for w in warnings {
                    tracing::warn!(warning = %w);
                }
                self.0.failed(error.to_string());
            }
            Turn::Passed { summary, warnings } => {
                for w in warnings {
                    tracing::warn!(warning = %w);
                }
                let first_error = summary
                    .types
                    .iter()
                    .flat_map(|t| t.errors.iter())
                    .next()
                    .map(|e| e.to_string());
                tracing::info!(
                    events = summary.events_written,
                    blobs = summary.blobs_done,
                    seconds = summary.seconds,
                    ok = first_error.is_none(),
                    "pass finished"
                );
                self.0.update(|st| {
                    st.passes += 1;
                    st.last_pass = Some(Utc::now());
                    st.last_pass_seconds = Some(summary.seconds);
                    st.state = if first_error.is_some() {
                        TenantState::Failing
                    } else {
                        TenantState::Ok
                    };
                    if first_error.is_some() {
                        st.last_error = first_error;
                    }
                    st.summary = Some(summary.clone());
                });
            }
        }
        Next::Go
    }

    fn pausing(&mut self, next: Option<DateTime<Utc>>) {
        self.0.update(|st| st.next_pass = next);
    }
}
