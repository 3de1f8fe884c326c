//! The result object every action returns (spec §4).

use serde::{Deserialize, Serialize};

use crate::input::{ActionKind, CaseContext, InputError, TargetEntity};

pub use crate::details::{
    ChangeDetails, Check, Checks, ContentDetails, Details, GapReport, ListDetails, Outcome,
    PingDetails, TypeError, TypeOutcome,
};
pub use crate::diagnose::diagnose;

/// The integration's identifier.
pub const INTEGRATION: &str = "Office365ManagementAPI";

/// Whether the action ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// It ran (some content types may still have failed: see `result_value`).
    Completed,
    /// It could not run at all: bad input, configuration, authentication or connectivity.
    Failed,
}

impl Status {
    /// The stable name (as serialised and journaled).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Completed => "Completed",
            Status::Failed => "Failed",
        }
    }
}

/// Why an action could not run, in classes that map to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The request was rejected locally (exit 2).
    Input,
    /// The configuration is incomplete or invalid (exit 2).
    Config,
    /// Sign-in or authorization failed (exit 3).
    Auth,
    /// The service could not be reached (exit 3).
    Connectivity,
    /// The service answered with something else that stops the action (exit 3).
    Service,
    /// The action ran, but its journal or data-gap ledger could not be written (exit 1).
    State,
}

/// What went wrong, why, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Class of failure.
    pub kind: FailureKind,
    /// Short machine-readable cause, e.g. `invalid_client_secret`, `missing_permission`.
    pub cause: String,
    /// The error, readable.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The AF or AADSTS code, when the service gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// HTTP status, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The offending argument or setting, for input and configuration failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// When throttled: how long the service asked to wait, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

impl Failure {
    /// A failure of one class and cause.
    pub fn new(kind: FailureKind, cause: &str, message: String, fix: String) -> Self {
        Self {
            kind,
            cause: cause.into(),
            message,
            fix,
            code: None,
            http_status: None,
            field: None,
            retry_after_seconds: None,
        }
    }

    /// A rejected input.
    pub fn input(e: &InputError) -> Self {
        Self {
            field: Some(e.field.clone()),
            ..Self::new(
                FailureKind::Input,
                "invalid_input",
                e.to_string(),
                e.problem.clone(),
            )
        }
    }

    /// A configuration problem.
    pub fn config(e: &crate::config::ConfigError) -> Self {
        Self {
            field: Some(e.field.clone()),
            ..Self::new(
                FailureKind::Config,
                "config",
                e.to_string(),
                e.problem.clone(),
            )
        }
    }
}

/// The result object (spec §4). Field names are the contract; fields are only ever added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionResult {
    /// Always `Office365ManagementAPI`.
    pub integration: String,
    /// `Ping`, `Start Subscription`, `Stop Subscription`, `List Subscriptions`, `List Content`.
    pub action: String,
    /// `Completed` or `Failed`.
    pub status: Status,
    /// True only when every requested content type ended in the requested state.
    pub result_value: bool,
    /// The message for people.
    pub output_message: String,
    /// Case id, echoed.
    pub case_id: String,
    /// Alert groups, echoed.
    pub alert_group_identifiers: Vec<String>,
    /// Scope, echoed.
    pub scope: String,
    /// Target entities, echoed.
    pub target_entities: Vec<TargetEntity>,
    /// Action-specific details.
    #[serde(rename = "json_result")]
    pub details: Details,
    /// When the action started (UTC, milliseconds).
    pub started_at: String,
    /// How long it took.
    pub duration_ms: u64,
    /// Tenant the action ran against, when configured.
    pub tenant_id: Option<String>,
    /// Why it failed, when `status` is `Failed` (or what could not be recorded).
    pub error: Option<Failure>,
    /// Things worth knowing that did not stop the action.
    pub warnings: Vec<String>,
    /// The process exit code the CLI uses for this result.
    pub exit_code: u8,
}

impl ActionResult {
    /// A result with the context echoed; the rest is filled by the action.
    pub fn new(action: &str, ctx: &CaseContext, started_at: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            integration: INTEGRATION.into(),
            action: action.into(),
            status: Status::Completed,
            result_value: false,
            output_message: String::new(),
            case_id: ctx.case_id.clone(),
            alert_group_identifiers: ctx.alert_group_identifiers.clone(),
            scope: ctx.scope.clone(),
            target_entities: ctx.target_entities.clone(),
            details: Details::Empty,
            started_at: crate::stamp(started_at),
            duration_ms: 0,
            tenant_id: None,
            error: None,
            warnings: vec![],
            exit_code: 0,
        }
    }

    /// A `Failed` result for an action that could not run at all (nothing was sent).
    pub fn failed(kind: Option<ActionKind>, ctx: &CaseContext, f: Failure) -> Self {
        let name = kind.map(|k| k.display()).unwrap_or("Unknown");
        let mut r = ActionResult::new(name, ctx, chrono::Utc::now());
        r.fail(kind, f);
        r
    }

    /// Mark this result `Failed` with `f`, in the existing integration's words.
    pub fn fail(&mut self, kind: Option<ActionKind>, f: Failure) {
        self.status = Status::Failed;
        self.result_value = false;
        self.output_message = format!("{} {}", ActionKind::failure_prefix(kind), f.message);
        self.error = Some(f);
        self.exit_code = self.compute_exit_code();
    }

    /// The details as JSON (what `json_result` holds).
    pub fn json_result(&self) -> serde_json::Value {
        serde_json::to_value(&self.details).unwrap_or_default()
    }

    /// Exit code: 0 all reached; 1 some type failed, or the journal or ledger could not record the
    /// action; 2 bad input or configuration; 3 authentication or connectivity (or another
    /// failure that stopped the action).
    pub fn compute_exit_code(&self) -> u8 {
        match (&self.status, &self.error) {
            (Status::Failed, Some(f)) => match f.kind {
                FailureKind::Input | FailureKind::Config => 2,
                _ => 3,
            },
            (Status::Failed, None) => 3,
            (Status::Completed, Some(_)) => 1,
            (Status::Completed, None) if self.result_value => 0,
            (Status::Completed, None) => 1,
        }
    }
}
