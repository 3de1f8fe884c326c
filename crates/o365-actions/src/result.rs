//! The result object every action returns (spec §4), and the diagnosis of failures.

use serde::{Deserialize, Serialize};

use crate::input::{CaseContext, TargetEntity};

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
}

/// The outcome for one content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Created or re-enabled.
    Started,
    /// Was already enabled (AF20024): success.
    AlreadyEnabled,
    /// Stopped.
    Stopped,
    /// There was no subscription to stop (AF20022): nothing to do.
    NotSubscribed,
    /// The call failed.
    Failed,
}

/// A per-type error from the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeError {
    /// AF code (or AADSTS code), when given.
    pub code: Option<String>,
    /// HTTP status, when there was one.
    pub http_status: Option<u16>,
    /// Readable message with the fix.
    pub message: String,
}

/// One content type's line in `json_result.subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeOutcome {
    /// Canonical content type.
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// What happened.
    pub outcome: Outcome,
    /// Subscription status afterwards (`enabled`, `disabled`), when known.
    pub status: Option<String>,
    /// The webhook, if any.
    pub webhook: Option<serde_json::Value>,
    /// The error, when the outcome is `failed`.
    pub error: Option<TypeError>,
    /// The message for this type.
    pub message: String,
}

/// A data gap in a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapReport {
    /// Canonical content type.
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// Start of the gap (inclusive).
    pub stopped_at: String,
    /// End of the gap (exclusive), `null` while still stopped.
    pub started_at: Option<String>,
    /// Length in seconds (up to now while open).
    pub seconds: i64,
    /// How it is known: `action`, `observed`, `retention`.
    pub source: String,
}

impl GapReport {
    /// From a ledger row.
    pub fn from_gap(g: &o365_store::Gap, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            content_type: g.content_type.clone(),
            stopped_at: crate::stamp(g.stopped_at),
            started_at: g.started_at.map(crate::stamp),
            seconds: g.seconds(now),
            source: g.source.clone(),
        }
    }
}

/// The result object (spec §4). Field names are the contract; fields are only ever added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub json_result: serde_json::Value,
    /// When the action started (UTC, milliseconds).
    pub started_at: String,
    /// How long it took.
    pub duration_ms: u64,
    /// Tenant the action ran against, when configured.
    pub tenant_id: Option<String>,
    /// Why it failed, when `status` is `Failed`.
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
            json_result: serde_json::json!({}),
            started_at: crate::stamp(started_at),
            duration_ms: 0,
            tenant_id: None,
            error: None,
            warnings: vec![],
            exit_code: 0,
        }
    }

    /// Exit code: 0 all reached, 1 some type failed, 2 bad input or configuration, 3 authentication
    /// or connectivity (or another failure that stopped the action).
    pub fn compute_exit_code(&self) -> u8 {
        match (&self.status, &self.error) {
            (Status::Failed, Some(f)) => match f.kind {
                FailureKind::Input | FailureKind::Config => 2,
                _ => 3,
            },
            (Status::Failed, None) => 3,
            (Status::Completed, _) if self.result_value => 0,
            (Status::Completed, _) => 1,
        }
    }
}

/// Class, cause and fix of a client error.
pub fn diagnose(e: &o365_api::Error, secret_looks_like_id: bool) -> Failure {
    use o365_api::Error as E;
    let (kind, cause, fix): (FailureKind, &str, String) = match e {
        E::Aadsts { code: 7000215, .. } => (
            FailureKind::Auth,
            "invalid_client_secret",
            if secret_looks_like_id {
                "the configured client_secret is a GUID: that is the secret's ID, not its value. Copy the secret's Value (Entra admin center > App registrations > Certificates & secrets; it is shown once, when the secret is created) into client_secret".into()
            } else {
                "the client secret is wrong: copy the secret's Value (not its Secret ID) from Entra admin center > App registrations > Certificates & secrets into client_secret".into()
            },
        ),
        E::Aadsts { code: 7000222, .. } => (FailureKind::Auth, "expired_client_secret", "the client secret has expired: create a new secret for the app and update client_secret".into()),
        E::Aadsts { code: 700016, .. } => (FailureKind::Auth, "app_not_in_tenant", "the app (client_id) is not found in this tenant: check client_id and tenant_id, and that an admin consented to the app in this tenant".into()),
        E::Aadsts { code: 90002, .. } => (FailureKind::Auth, "tenant_not_found", "the tenant does not exist in this cloud: check tenant_id (Azure Active Directory ID) and the cloud / login_endpoint".into()),
        E::Aadsts { code: 900023, .. } => (FailureKind::Auth, "invalid_tenant", "tenant_id must be the tenant GUID or a verified domain such as contoso.onmicrosoft.com".into()),
        E::Aadsts { code: 700027, .. } => (FailureKind::Auth, "certificate_not_registered", "upload the certificate's public part to the app registration (Certificates & secrets), or configure the matching certificate".into()),
        E::Aadsts { code: 7000112, .. } => (FailureKind::Auth, "app_disabled", "the application is disabled in the tenant: an admin must enable it (Enterprise applications > Properties)".into()),
        E::Aadsts { code: 7000218, .. } => (FailureKind::Auth, "no_credentials", "configure client_secret or certificate_path".into()),
        E::Aadsts { code: 700024, .. } => (FailureKind::Auth, "clock_skew", "this machine's clock is off: sync it (NTP)".into()),
        E::Aadsts { .. } => (FailureKind::Auth, "sign_in_failed", "read the AADSTS description; check tenant_id, client_id and the credentials".into()),
        E::Unauthorized { .. } => (FailureKind::Auth, "token_rejected", "the API refused the token: api_root and login_endpoint must belong to the same cloud (set cloud = commercial, gcc, gcc-high or dod and remove mismatched overrides)".into()),
        E::Api { code, .. } if code == "AF10001" => (FailureKind::Auth, "missing_permission", "grant the app the Office 365 Management APIs application permission ActivityFeed.Read (and ActivityFeed.ReadDlp for DLP.All), then grant admin consent".into()),
        E::Api { code, .. } if code == "AF20010" || code == "AF20013" || code == "AF20052" => (FailureKind::Auth, "tenant_mismatch", "tenant_id does not match the tenant of the token: set tenant_id to the tenant GUID the app signs in to".into()),
        E::AuditingOff { .. } => (FailureKind::Service, "auditing_off", "turn on unified audit logging in Microsoft Purview (Audit > Start recording user and admin activity); it takes up to 60 minutes to apply".into()),
        E::Throttled { .. } => (FailureKind::Service, "throttled", "the service throttled this tenant: wait and retry, or lower requests_per_minute".into()),
        E::Transport { timeout: true, .. } => (FailureKind::Connectivity, "timeout", "the service did not answer in time: check network, proxy and firewall, or raise timeout_secs".into()),
        E::Transport { .. } => (FailureKind::Connectivity, "unreachable", "check api_root / login_endpoint (or cloud), DNS, proxy and firewall; with a private CA, verify_ssl = false is a last resort".into()),
        E::Certificate(_) => (FailureKind::Config, "certificate", "give a .pfx/.p12 with certificate_password, or a PEM file with the certificate and its RSA private key".into()),
        E::Config { .. } => (FailureKind::Config, "config", "fix the setting named in the message".into()),
        E::ForeignHost { .. } => (FailureKind::Service, "foreign_host", "the service pointed to another host; check api_root".into()),
        E::Api { .. } => (FailureKind::Service, "api_error", "see the AF code's meaning in the message".into()),
        _ => (FailureKind::Service, "unexpected_answer", "the answer was not what the API documents: check api_root, or retry later".into()),
    };
    let code = match e {
        E::Aadsts { code, .. } => Some(format!("AADSTS{code}")),
        other => other.af_code().map(str::to_string),
    };
    Failure {
        kind,
        cause: cause.into(),
        message: e.to_string(),
        fix,
        code,
        http_status: e.status(),
        field: None,
    }
}
