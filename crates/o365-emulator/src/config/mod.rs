//! Emulator configuration: tenants, apps, data generation, quirks, throttling and faults.
//!
//! Everything has a documented default so `EmulatorConfig::default()` gives a working emulator
//! with one ready-to-use tenant; a TOML file (see `emulator.example.toml`) can override any part.

mod validate;

pub use validate::is_guid;

use serde::{Deserialize, Serialize};

/// Tenant GUID of the default tenant.
pub const DEFAULT_TENANT_ID: &str = "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80";
/// Verified domain of the default tenant.
pub const DEFAULT_TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// Client (application) ID of the default app, which holds every permission.
pub const DEFAULT_CLIENT_ID: &str = "0b8e6d2c-5a4f-4e3b-9c1d-2f7a8b9c0d1e";
/// Client secret of the default app. A fixed, public test value: never a real credential.
pub const DEFAULT_CLIENT_SECRET: &str = "emulator-secret-value-0123456789";
/// The secret *ID* of the default secret (pasting it instead of the value gives AADSTS7000215).
pub const DEFAULT_CLIENT_SECRET_ID: &str = "5d0c1a2b-3e4f-4a5b-8c6d-7e8f9a0b1c2d";
/// App in the default tenant with `ActivityFeed.Read` only (no `ActivityFeed.ReadDlp`).
pub const READ_ONLY_CLIENT_ID: &str = "1c9f7e3d-6b5a-4f4c-8d2e-3a8b9c0d1e2f";
/// App in the default tenant with no roles at all (AF10001 with `()`).
pub const NO_ROLES_CLIENT_ID: &str = "2d0a8f4e-7c6b-4a5d-9e3f-4b9c0d1e2f3a";
/// A disabled app in the default tenant (AADSTS7000112).
pub const DISABLED_CLIENT_ID: &str = "3e1b9a5f-8d7c-4b6e-8f4a-5c0d1e2f3a4b";
/// App in the default tenant whose only secret has expired (AADSTS7000222).
pub const EXPIRED_SECRET_CLIENT_ID: &str = "4f2c0b6a-9e8d-4c7f-9a5b-6d1e2f3a4b5c";
/// A tenant whose unified audit logging is off (the "Tenant … does not exist" body).
pub const AUDIT_OFF_TENANT_ID: &str = "8d2f4b63-0e5c-4a1f-9b72-4c3e6f7a8b91";
/// Domain of the audit-off tenant.
pub const AUDIT_OFF_TENANT_DOMAIN: &str = "fabrikam.onmicrosoft.com";
/// App registered in the audit-off tenant.
pub const AUDIT_OFF_CLIENT_ID: &str = "5a3d1c7b-0f9e-4d8a-8b6c-7e2f3a4b5c6d";
/// The PEM certificate registered for the default app (public test material shipped in the repo).
pub const DEFAULT_APP_CERT_PEM: &str = include_str!("../../../../testdata/app-cert.pem");

/// Full emulator configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Seed for every generated value (blob times, event ids, quirks, faults).
    pub seed: u64,
    /// Wire behaviour of the Activity API.
    pub api: ApiConfig,
    /// How audit content is generated.
    pub data: DataConfig,
    /// Per-tenant request budget.
    pub throttle: ThrottleConfig,
    /// Fault injection at start (changeable at run time through the control API).
    pub faults: FaultConfig,
    /// Tenants with their apps.
    pub tenants: Vec<TenantConfig>,
    /// Microsoft Graph's audit log search over the same events.
    pub graph: GraphConfig,
}

/// The Graph audit log search (`/graph/{v1.0,beta}/security/auditLog/queries`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphConfig {
    /// Emulated seconds a query takes: `notStarted` for the first tenth, `running` until the
    /// end, then `succeeded` (or `failed`).
    pub query_secs: u64,
    /// Records a query returns at most; past it the query still succeeds, with
    /// `isRecordCountLimitExceeded`.
    pub record_limit: u64,
    /// Query submissions per tenant in a rolling 24 hours (then 429).
    pub submissions_per_day: u32,
    /// Queries queued or running at once per tenant (then 429).
    pub concurrent: u32,
    /// `Retry-After` of a 429, in seconds.
    pub retry_after_secs: u64,
    /// Records per page when `$top` is not given (at most 1000 are served per page).
    pub page_size: usize,
    /// Fraction of queries that end `failed`.
    pub fail_rate: f64,
    /// Whether v1.0 answers 404 (only beta serves the search, as in mid-2026).
    pub v1_missing: bool,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            query_secs: 60,
            record_limit: 1_000_000,
            submissions_per_day: 200,
            concurrent: 50,
            retry_after_secs: 60,
            page_size: 150,
            fail_rate: 0.0,
            v1_missing: false,
        }
    }
}

/// Activity API behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Blobs per `/subscriptions/content` page before a `NextPageUri` is sent.
    pub page_size: usize,
    /// Name of the paging header: `NextPageUri` (current) or `NextPageUrl` (old docs).
    pub next_page_header: String,
    /// Whether the `NextPageUri` repeats `PublisherIdentifier` (unconfirmed on the real service).
    pub carry_publisher_identifier: bool,
    /// Send an empty first page that still carries a `NextPageUri` (a quirk clients must survive).
    pub empty_first_page: bool,
    /// Accept the app id in the tenant slot of the URL, as the real service does.
    pub lenient_tenant: bool,
    /// Match `contentType` values case-insensitively.
    pub case_insensitive_content_types: bool,
    /// Lifetime of issued access tokens, in seconds.
    pub token_lifetime_secs: u64,
    /// How far back `startTime` may reach, in hours (the real limit is 7 days).
    pub retention_hours: i64,
    /// Allow `http://` webhook addresses on loopback hosts (for local tests).
    pub allow_loopback_http_webhooks: bool,
    /// The documented wait between starts: a start for a content type within this many seconds
    /// of the last accepted one is throttled (900 enforces the real 15 minutes; 0, the default,
    /// does not). The real service's answer is unconfirmed: AF429 with `Retry-After` here.
    pub start_interval_secs: u64,
    /// Tries per webhook notification (the first and the retries, with doubling pauses from
    /// 100 ms of real time) before it counts as failed.
    pub webhook_attempts: u32,
    /// Failed notifications in a row after which a webhook is marked `disabled`.
    pub webhook_disable_after: u32,
}

/// Content generation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// One blob per content type per this many (emulated) seconds while a subscription is enabled.
    pub blob_interval_secs: u64,
    /// Events in each blob (before duplicates are added).
    pub events_per_blob: u32,
    /// Target size of one event in bytes (padding brings events up to about this size).
    pub event_size: usize,
    /// Shorten records longer than `event_size` by dropping their last optional fields (the
    /// common-schema fields stay): events smaller than their shape's natural size.
    pub trim_events: bool,
    /// Fraction of blobs that repeat events of the previous blob (duplicates by design).
    pub duplicate_rate: f64,
    /// How many events of the previous blob a duplicating blob repeats.
    pub duplicate_events: u32,
    /// Fraction of blobs that become available late, after their window may have been listed.
    pub late_rate: f64,
    /// How late a late blob becomes available, in seconds after its `contentCreated`.
    pub late_delay_secs: u64,
    /// Longest gap between an event's `CreationTime` and its blob's `contentCreated`, in seconds.
    pub event_latency_max_secs: u64,
    /// Upper bound on memory used by pre-serialised blobs, in MiB.
    pub blob_cache_mib: usize,
    /// Fraction of `DLP.All` and `Audit.General` records the connectors cannot turn into an
    /// alert: a DLP match without `PolicyDetails`, a Security & Compliance alert whose `Data`
    /// is not JSON.
    pub malformed_rate: f64,
}

/// Per-tenant request budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Requests per minute per tenant; 0 turns throttling off.
    pub requests_per_minute: u32,
    /// HTTP status of the AF429 answer (403 as documented; 429 possible).
    pub status: u16,
    /// `Retry-After` seconds to send with AF429 (none by default, like the real service).
    pub retry_after_secs: Option<u64>,
}

/// Fault injection rates (0.0–1.0) and latency, applied to Activity API requests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Fraction of requests answered 429 with an AF429 body.
    pub rate_429: f64,
    /// Fraction answered 500 AF50000.
    pub rate_500: f64,
    /// Fraction answered 503 with no body.
    pub rate_503: f64,
    /// Fraction whose connection is dropped before a complete response.
    pub rate_drop: f64,
    /// Latency added to every Activity API request, in milliseconds.
    pub latency_ms: u64,
    /// Also apply the faults to the token endpoint.
    pub include_token_endpoint: bool,
    /// Answer every Activity API request with `Connection: close`: a server that keeps no
    /// connection open, so each request costs the client a new connection (TCP, a CONNECT
    /// through its proxy, a TLS handshake).
    pub close_connections: bool,
    /// Fraction of webhook notifications lost on the way (recorded as sent, never delivered):
    /// what a collector's polling must catch.
    pub notification_drop_rate: f64,
    /// Statuses to answer the next requests with, in order, before the rates apply:
    /// 429 (AF429 with `Retry-After: 1`), 403 (AF429), 500 (AF50000), 503, 408, or 0 (drop).
    pub script: Vec<u16>,
}

/// One tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant GUID.
    pub id: String,
    /// Verified domain (`x.onmicrosoft.com`) accepted at the token endpoint.
    #[serde(default)]
    pub domain: Option<String>,
    /// Unified audit logging on (false gives the "Tenant … does not exist" body).
    #[serde(default = "yes")]
    pub audit_enabled: bool,
    /// Region token used in content ids.
    #[serde(default = "default_region")]
    pub region: String,
    /// The cloud the tenant lives in (`commercial`, `gcc`, `gcc-high`, `dod`): through the
    /// real host names it signs in only at its cloud's sign-in host and its tokens are for its
    /// cloud's API alone.
    #[serde(default)]
    pub cloud: crate::cloud::Cloud,
    /// Registered apps.
    #[serde(default)]
    pub apps: Vec<AppConfig>,
    /// Subscriptions that already exist at start, enabled since some hours ago.
    #[serde(default)]
    pub subscriptions: Vec<PresetSubscription>,
    /// Days of audit log the Graph search reaches (Audit Standard 180; Premium 365 and more).
    #[serde(default = "default_audit_days")]
    pub audit_days: u32,
}

/// A subscription present at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetSubscription {
    /// Content type, e.g. `Audit.General`.
    pub content_type: String,
    /// Enabled since this many hours before start (so content is already there).
    #[serde(default)]
    pub enabled_hours_ago: f64,
}

/// One app registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Client (application) id.
    pub client_id: String,
    /// Display name used in error texts.
    #[serde(default = "default_app_name")]
    pub name: String,
    /// Client secrets.
    #[serde(default)]
    pub secrets: Vec<SecretConfig>,
    /// Registered certificates, PEM text or a path to a PEM file.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Application roles granted on the Office 365 Management APIs.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A disabled app cannot get tokens.
    #[serde(default)]
    pub disabled: bool,
}

/// One client secret.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// The secret value.
    pub value: String,
    /// The secret's id (what people paste by mistake).
    #[serde(default)]
    pub id: Option<String>,
    /// Expiry (RFC 3339); none means it never expires.
    #[serde(default)]
    pub expires: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Debug for SecretConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretConfig")
            .field("value", &"[redacted]")
            .field("id", &self.id)
            .field("expires", &self.expires)
            .finish()
    }
}

fn yes() -> bool {
    true
}
fn default_audit_days() -> u32 {
    180
}
fn default_region() -> String {
    "emea0026".into()
}
fn default_app_name() -> String {
    "o365mgmt test app".into()
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            page_size: 100,
            next_page_header: "NextPageUri".into(),
            carry_publisher_identifier: false,
            empty_first_page: false,
            lenient_tenant: true,
            case_insensitive_content_types: true,
            token_lifetime_secs: 3599,
            retention_hours: 7 * 24,
            allow_loopback_http_webhooks: true,
            start_interval_secs: 0,
            webhook_attempts: 3,
            webhook_disable_after: 3,
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            blob_interval_secs: 300,
            events_per_blob: 20,
            event_size: 1024,
            trim_events: false,
            duplicate_rate: 0.05,
            duplicate_events: 3,
            late_rate: 0.05,
            malformed_rate: 0.0,
            late_delay_secs: 3600,
            event_latency_max_secs: 5400,
            blob_cache_mib: 256,
        }
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            requests_per_minute: 2000,
            status: 403,
            retry_after_secs: None,
        }
    }
}

const ALL_ROLES: [&str; 4] = [
    "ActivityFeed.Read",
    "ActivityFeed.ReadDlp",
    "ServiceHealth.Read",
    "AuditLogsQuery.Read.All",
];

fn app(client_id: &str, name: &str, roles: &[&str]) -> AppConfig {
    AppConfig {
        client_id: client_id.into(),
        name: name.into(),
        secrets: vec![SecretConfig {
            value: DEFAULT_CLIENT_SECRET.into(),
            id: Some(DEFAULT_CLIENT_SECRET_ID.into()),
            expires: None,
        }],
        certificates: vec![],
        roles: roles.iter().map(|r| r.to_string()).collect(),
        disabled: false,
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        let mut main = app(DEFAULT_CLIENT_ID, "o365mgmt emulator app", &ALL_ROLES);
        main.certificates = vec![DEFAULT_APP_CERT_PEM.to_string()];
        let mut disabled = app(DISABLED_CLIENT_ID, "disabled app", &ALL_ROLES);
        disabled.disabled = true;
        let mut expired = app(EXPIRED_SECRET_CLIENT_ID, "expired secret app", &ALL_ROLES);
        expired.secrets[0].expires = chrono::DateTime::from_timestamp(1_700_000_000, 0);
        Self {
            seed: 1,
            api: ApiConfig::default(),
            data: DataConfig::default(),
            throttle: ThrottleConfig::default(),
            faults: FaultConfig::default(),
            graph: GraphConfig::default(),
            tenants: vec![
                TenantConfig {
                    id: DEFAULT_TENANT_ID.into(),
                    domain: Some(DEFAULT_TENANT_DOMAIN.into()),
                    audit_enabled: true,
                    region: default_region(),
                    cloud: Default::default(),
                    apps: vec![
                        main,
                        app(
                            READ_ONLY_CLIENT_ID,
                            "read-only app",
                            &["ActivityFeed.Read", "ServiceHealth.Read"],
                        ),
                        app(NO_ROLES_CLIENT_ID, "no-roles app", &[]),
                        disabled,
                        expired,
                    ],
                    subscriptions: vec![],
                    audit_days: default_audit_days(),
                },
                TenantConfig {
                    id: AUDIT_OFF_TENANT_ID.into(),
                    domain: Some(AUDIT_OFF_TENANT_DOMAIN.into()),
                    audit_enabled: false,
                    region: "na0030".into(),
                    cloud: Default::default(),
                    apps: vec![app(AUDIT_OFF_CLIENT_ID, "audit-off tenant app", &ALL_ROLES)],
                    subscriptions: vec![],
                    audit_days: default_audit_days(),
                },
            ],
        }
    }
}

/// The id of the `k`-th tenant made by [`EmulatorConfig::with_tenants`] (k ≥ 2).
pub fn extra_tenant_id(k: usize) -> String {
    format!("7c1e3a52-9d4b-4f0e-8a61-{k:012}")
}

/// A configuration problem, naming the field, the value and what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("invalid emulator configuration: {0}")]
pub struct ConfigError(pub String);

impl EmulatorConfig {
    /// Give the first tenant all five subscriptions, enabled `hours` ago (content is already there).
    pub fn with_all_subscriptions(mut self, hours: f64) -> Self {
        if let Some(t) = self.tenants.first_mut() {
            t.subscriptions = crate::content::ContentType::ALL
                .iter()
                .map(|c| PresetSubscription {
                    content_type: c.as_str().into(),
                    enabled_hours_ago: hours,
                })
                .collect();
        }
        self
    }

    /// `n` tenants, each with the first tenant's apps (same client id and secret) and all five
    /// subscriptions enabled `hours` ago: the first tenant, then `tenant2.onmicrosoft.com`
    /// (`7c1e3a52-9d4b-4f0e-8a61-000000000002`), `tenant3...`, and so on.
    pub fn with_tenants(mut self, n: usize, hours: f64) -> Self {
        self = self.with_all_subscriptions(hours);
        let Some(first) = self.tenants.first().cloned() else {
            return self;
        };
        self.tenants = (1..=n.max(1))
            .map(|k| {
                if k == 1 {
                    return first.clone();
                }
                let mut t = first.clone();
                t.id = extra_tenant_id(k);
                t.domain = Some(format!("tenant{k}.onmicrosoft.com"));
                t
            })
            .collect();
        self
    }

    /// Parse a TOML document; fields not given keep their defaults (tenants replace the defaults).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }
}
