//! The Office 365 Management API integration contract: Ping, Start Subscription, Stop Subscription,
//! List Subscriptions (and List Content), each returning the SOAR result object, with every run
//! journaled and every subscription stop recorded in the data-gap ledger.
//!
//! ```no_run
//! use o365_actions::{config::Settings, input::CaseContext, Runner};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings::loader(None, None)?.resolve()?;
//! let runner = Runner::new(settings, None, "example");
//! let types = o365_actions::input::content_types("types", &["Audit.Exchange,DLP.All"])?;
//! let result = runner.start(CaseContext::manual(), types).await;
//! println!("{}", serde_json::to_string_pretty(&result)?);
//! # Ok(()) }
//! ```
#![allow(clippy::result_large_err)]

pub mod config;
pub mod input;
pub mod result;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use o365_api::{Client, ContentType, StartOutcome};
use o365_store::{JournalEntry, Store};
use serde_json::json;

use config::{ConfigError, Settings};
use input::{CaseContext, InputError, Rejected, Request};
use result::{
    diagnose, ActionResult, Failure, FailureKind, GapReport, Outcome, Status, TypeError,
    TypeOutcome,
};

pub use input::ActionKind;

/// Warning carried by every stop.
pub const STOP_WARNING: &str = "Content produced while a subscription is stopped is never made available: it is lost for good, and no later start or collection can recover it.";

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Runs actions for one integration instance (one tenant).
pub struct Runner {
    settings: Settings,
    client: Result<Client, ConfigError>,
    store: Option<Arc<Store>>,
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
        let client = settings.client_with(Settings::interactive_retry());
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

    fn tenant(&self) -> Option<String> {
        self.settings.tenant_id.as_ref().map(|t| t.value.clone())
    }

    /// Run a parsed request.
    pub async fn run(&self, req: Request) -> ActionResult {
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
            } => self.content(ctx, content_type, start, end).await,
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
        let name = rej.kind.map(|k| k.display()).unwrap_or("Unknown");
        let mut r = ActionResult::new(name, &rej.ctx, Utc::now());
        self.fail_input(&mut r, rej.kind, rej.error);
        r
    }

    fn fail_input(&self, r: &mut ActionResult, kind: Option<ActionKind>, e: InputError) {
        let prefix = match kind {
            Some(ActionKind::Ping) => "Failed to connect to the O365 Management API! Error is",
            _ => "Failed to execute command! Error is",
        };
        r.status = Status::Failed;
        r.result_value = false;
        r.output_message = format!("{prefix} {e}");
        r.tenant_id = self.tenant();
        r.error = Some(Failure {
            kind: FailureKind::Input,
            cause: "invalid_input".into(),
            message: e.to_string(),
            fix: e.problem.clone(),
            code: None,
            http_status: None,
            field: Some(e.field),
        });
        r.exit_code = r.compute_exit_code();
    }

    /// Validate the context and the client; on failure the result is ready to return.
    fn prepare(
        &self,
        kind: ActionKind,
        ctx: &mut CaseContext,
        started: DateTime<Utc>,
    ) -> Result<&Client, ActionResult> {
        let mut r = ActionResult::new(kind.display(), ctx, started);
        if let Err(e) = ctx.validate(&self.settings.scopes.value) {
            self.fail_input(&mut r, Some(kind), e);
            return Err(r);
        }
        match &self.client {
            Ok(c) => Ok(c),
            Err(e) => {
                r.status = Status::Failed;
                r.output_message = match kind {
                    ActionKind::Ping => {
                        format!("Failed to connect to the O365 Management API! Error is {e}")
                    }
                    _ => format!("Failed to execute command! Error is {e}"),
                };
                r.tenant_id = self.tenant();
                r.error = Some(Failure {
                    kind: FailureKind::Config,
                    cause: "config".into(),
                    message: e.to_string(),
                    fix: e.problem.clone(),
                    code: None,
                    http_status: None,
                    field: Some(e.field.clone()),
                });
                r.exit_code = r.compute_exit_code();
                Err(r)
            }
        }
    }

    fn failed_by(&self, r: &mut ActionResult, kind: ActionKind, e: &o365_api::Error) {
        let f = diagnose(e, self.settings.secret_looks_like_id());
        r.status = Status::Failed;
        r.result_value = false;
        r.output_message = match kind {
            ActionKind::Ping => {
                format!("Failed to connect to the O365 Management API! Error is {e}")
            }
            _ => format!("Failed to execute command! Error is {e}"),
        };
        r.error = Some(f);
    }

    /// Stamp duration and exit code, and write the journal row.
    fn finish(&self, mut r: ActionResult, t0: Instant, types: &[ContentType]) -> ActionResult {
        r.duration_ms = t0.elapsed().as_millis() as u64;
        r.tenant_id = self.tenant();
        r.exit_code = r.compute_exit_code();
        if let Some(store) = &self.store {
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
                status: format!("{:?}", r.status),
                result_value: r.result_value,
                output_message: r.output_message.clone(),
                outcomes: r
                    .json_result
                    .get("subscriptions")
                    .cloned()
                    .unwrap_or_else(|| {
                        r.error
                            .as_ref()
                            .map(|e| json!({"error": e}))
                            .unwrap_or(json!([]))
                    }),
                duration_ms: r.duration_ms,
            };
            if let Err(e) = store.record_action(&entry) {
                tracing::warn!(error = %e, "could not write the journal");
                r.warnings
                    .push(format!("the journal could not be written: {e}"));
            }
        }
        r
    }

    /// Record observed subscription states in the ledger; warnings go into the result.
    fn observe(&self, client: &Client, subs: &[o365_api::Subscription], r: &mut ActionResult) {
        let (Some(store), Some(tenant)) = (&self.store, self.tenant()) else {
            return;
        };
        match observe_subscriptions(store, &tenant, subs, client.server_now()) {
            Ok(w) => r.warnings.extend(w),
            Err(e) => r
                .warnings
                .push(format!("the state database could not be used: {e}")),
        }
    }

    /// Ping: a token **and** `subscriptions/list`, reporting what was checked.
    pub async fn ping(&self, mut ctx: CaseContext) -> ActionResult {
        let t0 = Instant::now();
        let started = Utc::now();
        let kind = ActionKind::Ping;
        let client = match self.prepare(kind, &mut ctx, started) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut r = ActionResult::new(kind.display(), &ctx, started);
        let mut checks = serde_json::Map::new();
        let base = json!({
            "cloud": self.settings.cloud.value.name(),
            "api_root": client.api_root(),
            "login_endpoint": client.login_endpoint(),
        });
        let t_token = Instant::now();
        let token = client.token_info().await;
        let token_ms = t_token.elapsed().as_millis() as u64;
        let info = match token {
            Ok(i) => i,
            Err(e) => {
                checks.insert(
                    "token".into(),
                    json!({"ok": false, "ms": token_ms, "error": e.to_string()}),
                );
                self.failed_by(&mut r, kind, &e);
                let mut jr = base;
                jr["checks"] = checks.into();
                r.json_result = jr;
                return self.finish(r, t0, &[]);
            }
        };
        checks.insert(
            "token".into(),
            json!({"ok": true, "ms": token_ms, "roles": info.roles, "tenant_id": info.tenant_id, "expires_in_s": info.expires_in.as_secs()}),
        );
        let t_list = Instant::now();
        let listed = client.list_subscriptions().await;
        let list_ms = t_list.elapsed().as_millis() as u64;
        let mut jr = base;
        match listed {
            Ok(subs) => {
                checks.insert(
                    "subscriptions_list".into(),
                    json!({"ok": true, "ms": list_ms, "count": subs.len()}),
                );
                self.observe(client, &subs, &mut r);
                let has = |role: &str| info.roles.iter().any(|x| x == role);
                if !has("ActivityFeed.ReadDlp") {
                    r.warnings.push("the token lacks ActivityFeed.ReadDlp: DLP.All will fail with AF10001 until it is granted (with admin consent)".into());
                }
                jr["subscriptions"] = serde_json::to_value(&subs).unwrap_or_default();
                r.result_value = true;
                r.output_message = "Successfully connected to the O365 Management API with the provided connection parameters!".into();
            }
            Err(e) => {
                checks.insert(
                    "subscriptions_list".into(),
                    json!({"ok": false, "ms": list_ms, "error": e.to_string()}),
                );
                self.failed_by(&mut r, kind, &e);
            }
        }
        jr["checks"] = checks.into();
        jr["roles"] = json!(info.roles);
        jr["tenant_id"] = json!(info.tenant_id);
        r.json_result = jr;
        self.finish(r, t0, &[])
    }

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
        let field = match kind {
            ActionKind::StartSubscription => "start_a_subscription_for",
            _ => "stop_a_subscription_for",
        };
        if types.is_empty() {
            let mut r = ActionResult::new(kind.display(), &ctx, started);
            self.fail_input(
                &mut r,
                Some(kind),
                InputError::new(
                    field,
                    Some("[]".into()),
                    format!(
                        "name at least one content type: {}",
                        ContentType::ALL.map(|c| c.as_str()).join(", ")
                    ),
                ),
            );
            return r;
        }
        let client = match self.prepare(kind, &mut ctx, started) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut r = ActionResult::new(kind.display(), &ctx, started);
        // One sign-in first: if it fails, every type would fail the same way.
        if let Err(e) = client.token_info().await {
            self.failed_by(&mut r, kind, &e);
            r.json_result = json!({"subscriptions": [], "gaps": []});
            return self.finish(r, t0, &types);
        }
        let calls = types.iter().map(|&ct| async move {
            match kind {
                ActionKind::StartSubscription => {
                    (ct, client.start_subscription(ct, None).await.map(Some))
                }
                _ => (ct, client.stop_subscription(ct).await.map(|()| None)),
            }
        });
        let answers = futures::future::join_all(calls).await;
        let now = client.server_now();
        let tenant = self.tenant().unwrap_or_default();
        let mut outcomes = Vec::new();
        let mut gaps = Vec::new();
        let mut transport_failures = 0;
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
            let mut to_state = None;
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
                    to_state = Some(("enabled", "action"));
                }
                Ok(Some(StartOutcome::AlreadyEnabled)) => {
                    o.outcome = Outcome::AlreadyEnabled;
                    o.status = Some("enabled".into());
                    o.message = format!("The O365 Management API subscription for the {name} content type is already enabled: nothing to do.");
                    to_state = Some(("enabled", "observed"));
                }
                Ok(None) => {
                    o.outcome = Outcome::Stopped;
                    o.status = Some("disabled".into());
                    o.message = format!("Successfully stopped O365 Management API subscription for the {name} content type!");
                    to_state = Some(("disabled", "action"));
                }
                Err(o365_api::Error::Api { code, .. })
                    if kind == ActionKind::StopSubscription
                        && (code == "AF20022" || code == "AF20023") =>
                {
                    o.outcome = Outcome::NotSubscribed;
                    o.status = Some(if code == "AF20023" {
                        "disabled".into()
                    } else {
                        "none".into()
                    });
                    o.message = format!("There is no active O365 Management API subscription for the {name} content type: nothing to stop.");
                }
                Err(e) => {
                    let f = diagnose(&e, self.settings.secret_looks_like_id());
                    if f.kind == FailureKind::Connectivity {
                        transport_failures += 1;
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
            if let (Some((state, cause)), Some(store)) = (to_state, &self.store) {
                let known = store.last_state(&tenant, name).ok().flatten();
                // "Already enabled" is only worth a row when we believed otherwise.
                let worth = cause == "action" || known.as_ref().is_none_or(|k| k.to_state != state);
                if worth {
                    match store.transition(&tenant, name, state, cause, now, Some(&ctx.case_id)) {
                        Ok(Some(gap)) => gaps.push(GapReport::from_gap(&gap, now)),
                        Ok(None) => {}
                        Err(e) => r
                            .warnings
                            .push(format!("the gap ledger could not be written: {e}")),
                    }
                }
            }
            outcomes.push(o);
        }
        let ok = outcomes.iter().all(|o| o.outcome != Outcome::Failed);
        r.result_value = ok;
        let mut lines: Vec<String> = outcomes.iter().map(|o| o.message.clone()).collect();
        for g in &gaps {
            lines.push(format!(
                "Data gap for {}: no content exists for [{}, {}) ({}), while the subscription was stopped.",
                g.content_type,
                g.stopped_at,
                g.started_at.as_deref().unwrap_or("now"),
                human_seconds(g.seconds)
            ));
        }
        if kind == ActionKind::StopSubscription
            && outcomes.iter().any(|o| o.outcome == Outcome::Stopped)
        {
            lines.push(format!("Warning: {STOP_WARNING}"));
        }
        r.output_message = lines.join("\n");
        let mut jr = json!({"subscriptions": outcomes, "gaps": gaps});
        if kind == ActionKind::StopSubscription {
            jr["warning"] = json!(STOP_WARNING);
        }
        r.json_result = jr;
        if transport_failures == types.len() {
            if let Some(e) = &first_error {
                let keep = r.json_result.clone();
                self.failed_by(&mut r, kind, e);
                r.json_result = keep;
            }
        }
        self.finish(r, t0, &types)
    }

    /// List subscriptions (and record what is seen, so stops made elsewhere show up as gaps).
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
                let not_subscribed: Vec<&str> = ContentType::ALL
                    .iter()
                    .filter(|ct| {
                        !subs.iter().any(|s| {
                            s.content_type.eq_ignore_ascii_case(ct.as_str()) && s.is_enabled()
                        })
                    })
                    .map(|c| c.as_str())
                    .collect();
                let enabled = 5 - not_subscribed.len();
                r.result_value = true;
                r.output_message = format!(
                    "Found {} O365 Management API subscription(s); {enabled} of 5 content types enabled{}.",
                    subs.len(),
                    if not_subscribed.is_empty() { String::new() } else { format!(" (not enabled: {})", not_subscribed.join(", ")) }
                );
                let open_gaps: Vec<GapReport> = match (&self.store, self.tenant()) {
                    (Some(s), Some(t)) => s
                        .gaps(Some(&t))
                        .unwrap_or_default()
                        .iter()
                        .filter(|g| g.started_at.is_none())
                        .map(|g| GapReport::from_gap(g, client.server_now()))
                        .collect(),
                    _ => vec![],
                };
                r.json_result = json!({"subscriptions": subs, "not_enabled": not_subscribed, "open_gaps": open_gaps});
            }
            Err(e) => {
                self.failed_by(&mut r, kind, &e);
                r.json_result = json!({"subscriptions": []});
            }
        }
        self.finish(r, t0, &[])
    }

    /// List available content of one type in `[start, end)` (default: the last 24 hours, service
    /// time). Ranges longer than 24 hours are split into the service's 24-hour windows.
    pub async fn content(
        &self,
        mut ctx: CaseContext,
        ct: ContentType,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> ActionResult {
        let t0 = Instant::now();
        let started = Utc::now();
        let kind = ActionKind::ListContent;
        let client = match self.prepare(kind, &mut ctx, started) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut r = ActionResult::new(kind.display(), &ctx, started);
        // What can be judged without the service's clock is judged before any request.
        let local_floor = Utc::now() - o365_api::window::retention();
        let early = match (start, end) {
            (Some(s), Some(e)) if s >= e => Some(InputError::new(
                "start_time",
                Some(stamp(s)),
                format!("must be before end_time ({})", stamp(e)),
            )),
            (Some(s), _) if s < local_floor => Some(InputError::new(
                "start_time",
                Some(stamp(s)),
                format!(
                    "content is kept for 7 days: start at {} or later",
                    stamp(local_floor)
                ),
            )),
            _ => None,
        };
        if let Some(e) = early {
            self.fail_input(&mut r, Some(kind), e);
            return r;
        }
        // One listing first: it says whether the type is subscribed at all, and its `Date` header
        // gives the service's clock, which the default window is measured on.
        match client.list_subscriptions().await {
            Ok(subs) => {
                if !subs
                    .iter()
                    .any(|s| s.content_type.eq_ignore_ascii_case(ct.as_str()) && s.is_enabled())
                {
                    r.warnings.push(format!(
                        "{ct} is not subscribed: no new content is produced for it until `start-subscription {ct}`"
                    ));
                }
            }
            Err(e) => {
                self.failed_by(&mut r, kind, &e);
                r.json_result = json!({"contentType": ct.as_str(), "blobs": []});
                return self.finish(r, t0, &[ct]);
            }
        }
        let now = client.server_now();
        let end_t = end.unwrap_or(now);
        let start_t = start.unwrap_or(end_t - chrono::Duration::hours(24));
        let bad = |field: &str, problem: String| InputError::new(field, None, problem);
        let problem = if start_t >= end_t {
            Some(bad(
                "start_time",
                format!(
                    "must be before end_time ({} >= {})",
                    stamp(start_t),
                    stamp(end_t)
                ),
            ))
        } else if end_t > now + chrono::Duration::minutes(5) {
            Some(bad(
                "end_time",
                format!(
                    "{} is in the future (service time is {})",
                    stamp(end_t),
                    stamp(now)
                ),
            ))
        } else {
            None
        };
        if let Some(e) = problem {
            self.fail_input(&mut r, Some(kind), e);
            return r;
        }
        let plan = o365_api::window::plan(start_t, end_t, now);
        if let Some(w) = plan.out_of_reach {
            self.fail_input(
                &mut r,
                Some(kind),
                bad("start_time", format!(
                    "content is kept for 7 days: [{}, {}) can no longer be listed; start at {} or later",
                    stamp(w.start),
                    stamp(w.end),
                    stamp(w.end)
                )),
            );
            return r;
        }
        let mut blobs = Vec::new();
        for w in &plan.windows {
            match client.list_content_all(ct, *w).await {
                Ok(b) => blobs.extend(b),
                Err(e) => {
                    self.failed_by(&mut r, kind, &e);
                    r.json_result = json!({"contentType": ct.as_str(), "blobs": blobs});
                    return self.finish(r, t0, &[ct]);
                }
            }
        }
        r.result_value = true;
        r.output_message = format!(
            "{} content blob(s) of {} available in [{}, {}).",
            blobs.len(),
            ct,
            stamp(start_t),
            stamp(end_t)
        );
        r.json_result = json!({
            "contentType": ct.as_str(),
            "start_time": stamp(start_t),
            "end_time": stamp(end_t),
            "windows": plan.windows.len(),
            "count": blobs.len(),
            "blobs": blobs,
        });
        self.finish(r, t0, &[ct])
    }

    /// Every gap recorded for this tenant (or all tenants when none is configured).
    pub fn gaps(&self) -> Result<Vec<GapReport>, o365_store::StoreError> {
        let Some(store) = &self.store else {
            return Ok(vec![]);
        };
        let tenant = self.tenant();
        let now = self
            .client
            .as_ref()
            .map(|c| c.server_now())
            .unwrap_or_else(|_| Utc::now());
        Ok(store
            .gaps(tenant.as_deref())?
            .iter()
            .map(|g| GapReport::from_gap(g, now))
            .collect())
    }
}

/// Record what a subscription listing shows: a type whose state differs from the last one known
/// gets an `observed` transition (a stop seen this way opens a gap). Returns warnings for people.
pub fn observe_subscriptions(
    store: &Store,
    tenant: &str,
    subs: &[o365_api::Subscription],
    now: DateTime<Utc>,
) -> Result<Vec<String>, o365_store::StoreError> {
    let mut warnings = Vec::new();
    for ct in ContentType::ALL {
        let state = subs
            .iter()
            .find(|s| s.content_type.eq_ignore_ascii_case(ct.as_str()))
            .map(|s| {
                if s.is_enabled() {
                    "enabled"
                } else {
                    "disabled"
                }
            })
            .unwrap_or("absent");
        let last = store.last_state(tenant, ct.as_str())?;
        if last.as_ref().is_some_and(|l| l.to_state == state) {
            continue;
        }
        store.transition(tenant, ct.as_str(), state, "observed", now, None)?;
        if last.is_some_and(|l| l.to_state == "enabled") && state != "enabled" {
            warnings.push(format!(
                "{ct} was stopped outside this tool (seen {state} now, enabled before): content since then is lost; the gap is in the ledger"
            ));
        }
    }
    Ok(warnings)
}

/// `3h 12m`, `45s`.
pub fn human_seconds(s: i64) -> String {
    let (d, h, m, sec) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h {m}m"),
    }
}
