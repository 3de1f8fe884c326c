//! The runner: one integration instance (one tenant), its client and state, and what every
//! action does before and after its own work.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use o365_api::{Client, ContentType};
use o365_store::{JournalEntry, Store};

use crate::config::{ConfigError, Settings};
use crate::details::Details;
use crate::input::{self, ActionKind, CaseContext, Rejected, Request};
use crate::result::{diagnose, ActionResult, Failure, FailureKind};

/// Told how a long action goes: steps done so far, the steps there will be when known, and
/// what was done.
pub type Progress = Arc<dyn Fn(u64, Option<u64>, String) + Send + Sync>;

/// Runs actions for one integration instance (one tenant).
pub struct Runner {
    pub(crate) settings: Settings,
    pub(crate) client: Result<Client, ConfigError>,
    pub(crate) store: Option<Arc<Store>>,
    via: String,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("settings", &self.settings)
            .field("store", &self.store)
            .field("via", &self.via)
            .finish()
    }
}

impl Runner {
    /// A runner; a configuration that cannot build a client makes every action fail with it.
    /// `via` names the caller in the journal (`cli`, `action`, `mcp`, `demo`).
    pub fn new(settings: Settings, store: Option<Arc<Store>>, via: &str) -> Self {
        let client = settings.client_with(o365_api::RetryPolicy::interactive());
        Self {
            settings,
            client,
            store,
            via: via.into(),
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The client, if the configuration allows one.
    pub fn client(&self) -> Result<&Client, &ConfigError> {
        self.client.as_ref()
    }

    /// The state store, if any.
    pub fn store(&self) -> Option<&Arc<Store>> {
        self.store.as_ref()
    }

    pub(crate) fn tenant(&self) -> Option<String> {
        self.settings.tenant_id.as_ref().map(|t| t.value.clone())
    }

    /// A sign-in named the tenant's GUID: when it is configured by a domain, remember which
    /// tenant that is, so the ledger and the collector's state name it alike.
    pub(crate) fn remember_tenant(&self, tid: &str) {
        if let (Some(store), Some(t)) = (&self.store, self.tenant()) {
            if o365_api::ids::normal_guid(&t).is_none() {
                let tid = o365_api::ids::normal_guid(tid).unwrap_or_else(|| tid.to_string());
                if let Err(e) = store.remember_tenant(&t, &tid, chrono::Utc::now()) {
                    tracing::warn!(error = %e, "could not remember which tenant {t} is");
                }
            }
        }
    }

    /// The tenant's key in the ledger (see [`ledger_key`]).
    pub(crate) fn ledger_tenant(&self) -> Option<String> {
        ledger_key(&self.settings, self.store.as_deref())
    }

    /// Run a parsed request.
    pub async fn run(&self, req: Request) -> ActionResult {
        self.run_with_progress(req, None).await
    }

    /// Run a parsed request, telling `progress` how a long one goes (List Content: each page
    /// listed).
    pub async fn run_with_progress(
        &self,
        req: Request,
        progress: Option<Progress>,
    ) -> ActionResult {
        match req {
            Request::Ping(c) => self.ping(c).await,
            Request::Start(c, t) => self.start(c, t).await,
            Request::Stop(c, t) => self.stop(c, t).await,
            Request::List(c) => self.list(c).await,
            Request::Content {
                ctx,
                content_type,
                start,
                end,
            } => self.content(ctx, content_type, start, end, progress).await,
        }
    }

    /// Run a JSON request (the `action` command, MCP): a rejected request becomes a `Failed` result.
    pub async fn run_json(&self, v: &serde_json::Value, kind: Option<ActionKind>) -> ActionResult {
        match input::parse_request(v, kind) {
            Ok(r) => self.run(r).await,
            Err(rej) => self.rejected(*rej),
        }
    }

    /// The result for a request that failed validation (nothing was sent; nothing journaled).
    pub fn rejected(&self, rej: Rejected) -> ActionResult {
        let mut r = ActionResult::failed(rej.kind, &rej.ctx, Failure::input(&rej.error));
        r.tenant_id = self.tenant();
        r
    }

    /// A failed result whose cause is known before anything is sent.
    pub(crate) fn refuse(
        &self,
        kind: ActionKind,
        ctx: &CaseContext,
        started: DateTime<Utc>,
        f: Failure,
    ) -> ActionResult {
        let mut r = ActionResult::new(kind.display(), ctx, started);
        r.tenant_id = self.tenant();
        r.fail(Some(kind), f);
        r
    }

    /// Validate the context and the client; on failure the result is ready to return.
    pub(crate) fn prepare(
        &self,
        kind: ActionKind,
        ctx: &mut CaseContext,
        started: DateTime<Utc>,
    ) -> Result<&Client, ActionResult> {
        if let Err(e) = ctx.validate(&self.settings.scopes.value) {
            return Err(self.refuse(kind, ctx, started, Failure::input(&e)));
        }
        self.client
            .as_ref()
            .map_err(|e| self.refuse(kind, ctx, started, Failure::config(e)))
    }

    /// Mark `r` failed by a client error, with its diagnosis.
    pub(crate) fn failed_by(&self, r: &mut ActionResult, kind: ActionKind, e: &o365_api::Error) {
        r.fail(
            Some(kind),
            diagnose(e, self.settings.secret_looks_like_id()),
        );
    }

    /// Note that the journal or ledger could not record what the action did. The result says
    /// so loudly (exit 1): a lost gap must never look like success.
    pub(crate) fn state_not_recorded(
        &self,
        r: &mut ActionResult,
        what: &str,
        e: &dyn std::fmt::Display,
    ) {
        let message = format!("the {what} could not be written: {e}");
        tracing::error!(%message);
        r.warnings.push(message.clone());
        if r.error.is_none() {
            r.error = Some(Failure::new(
                FailureKind::State,
                "state_not_recorded",
                message,
                "the service-side change (if any) is done, but this tool's record of it is not: repair or move the state file (--state), then run `o365mgmt subscriptions` so the current states are recorded".into(),
            ));
        }
    }

    /// Stamp duration and exit code, and write the journal row.
    pub(crate) fn finish(
        &self,
        mut r: ActionResult,
        t0: Instant,
        types: &[ContentType],
    ) -> ActionResult {
        r.duration_ms = t0.elapsed().as_millis() as u64;
        r.tenant_id = self.tenant();
        if let Some(store) = &self.store {
            let outcomes = match &r.details {
                Details::Change(d) => serde_json::to_value(&d.subscriptions),
                Details::List(d) => serde_json::to_value(&d.subscriptions),
                _ => Ok(r
                    .error
                    .as_ref()
                    .map(|e| serde_json::json!({"error": e}))
                    .unwrap_or(serde_json::json!([]))),
            }
            .unwrap_or_default();
            let entry = JournalEntry {
                id: 0,
                at: DateTime::parse_from_rfc3339(&r.started_at)
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|_| Utc::now()),
                tenant: r.tenant_id.clone().unwrap_or_default(),
                action: r.action.clone(),
                via: self.via.clone(),
                case_id: r.case_id.clone(),
                alert_group_identifiers: r.alert_group_identifiers.clone(),
                scope: r.scope.clone(),
                target_entities: serde_json::to_value(&r.target_entities).unwrap_or_default(),
                content_types: types.iter().map(|t| t.as_str().to_string()).collect(),
                status: r.status.as_str().into(),
                result_value: r.result_value,
                output_message: r.output_message.clone(),
                outcomes,
                duration_ms: r.duration_ms,
            };
            if let Err(e) = store.record_action(&entry) {
                self.state_not_recorded(&mut r, "journal", &e);
            }
        }
        r.exit_code = r.compute_exit_code();
        r
    }

    /// Every gap recorded for this tenant (or all tenants when none is configured).
    pub fn gaps(&self) -> Result<Vec<crate::result::GapReport>, o365_store::StoreError> {
        let Some(store) = &self.store else {
            return Ok(vec![]);
        };
        let now = self
            .client
            .as_ref()
            .map(|c| c.server_now())
            .unwrap_or_else(|_| Utc::now());
        Ok(store
            .gaps(self.ledger_tenant().as_deref())?
            .iter()
            .map(|g| crate::result::GapReport::from_gap(g, now))
            .collect())
    }
}

/// The configured tenant's key in the ledger: its GUID in one spelling (lower case; a domain's
/// GUID as its last sign-in named it), so the ledger and the collector's checkpoints name a
/// tenant alike however it is written — and, off the four clouds, where it is served
/// (`o365_api::cloud::history_key`), so two emulators never share one history.
pub fn ledger_key(settings: &Settings, store: Option<&Store>) -> Option<String> {
    let t = settings.tenant_id.as_ref()?.value.clone();
    let guid = o365_api::ids::normal_guid(&t)
        .or_else(|| store.and_then(|s| s.tenant_of(&t).ok().flatten()))
        .unwrap_or(t);
    Some(o365_api::cloud::history_key(
        &guid,
        &settings.api_root.value,
    ))
}
