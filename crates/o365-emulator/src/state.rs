//! Shared emulator state: tenants, subscriptions, the emulated clock, counters, faults, budgets.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::config::{AppConfig, EmulatorConfig, FaultConfig, ThrottleConfig};
use crate::content::{
    hash, hash_str, unit, BlobFacts, BlobKey, ContentType, Generator, TenantInfo,
};

/// A registered certificate: thumbprints and the public key.
pub struct RegisteredCert {
    /// SHA-1 thumbprint bytes.
    pub sha1: [u8; 20],
    /// SHA-256 thumbprint bytes.
    pub sha256: [u8; 32],
    /// RSA public key in PKCS#1 DER.
    pub rsa_der: Vec<u8>,
}

/// An app with its parsed certificates.
pub struct App {
    /// Configuration.
    pub cfg: AppConfig,
    /// Parsed certificates.
    pub certs: Vec<RegisteredCert>,
}

/// A webhook as stored on a subscription.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// Echoed to the webhook as `Webhook-AuthID`.
    pub auth_id: String,
    /// HTTPS address.
    pub address: String,
    /// Expiry, if any.
    pub expiration: Option<String>,
    /// `enabled` | `disabled` | `expired`.
    pub status: String,
    /// The app that registered it (`clientId` in notifications).
    #[serde(skip)]
    pub client_id: String,
    /// The API origin it was registered at (the host of `contentUri` in notifications).
    #[serde(skip)]
    pub origin: String,
}

/// One subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Currently enabled.
    pub enabled: bool,
    /// The webhook, if any.
    pub webhook: Option<Webhook>,
    /// Emulated time (ms) since which the current webhook is configured.
    pub webhook_since_ms: i64,
    /// Enabled intervals `[start, end)` in emulated ms; the last may be open.
    pub intervals: Vec<(i64, Option<i64>)>,
    /// Emulated time (ms) of the last start that was accepted, for the start-interval rule.
    pub last_start_ms: Option<i64>,
    /// Blobs available up to this emulated time (ms) have had their notification attempted.
    pub notified_until_ms: i64,
    /// Notifications that failed in a row.
    pub webhook_failures: u32,
}

impl Subscription {
    /// Was the subscription enabled at `t_ms`?
    pub fn enabled_at(&self, t_ms: i64) -> bool {
        self.intervals
            .iter()
            .any(|(s, e)| *s <= t_ms && e.is_none_or(|e| t_ms < e))
    }
}

/// A tenant with its apps and subscriptions.
pub struct Tenant {
    /// Identity for the generator.
    pub info: TenantInfo,
    /// Verified domain.
    pub domain: Option<String>,
    /// The cloud it lives in.
    pub cloud: crate::cloud::Cloud,
    /// Unified audit logging on.
    pub audit_enabled: RwLock<bool>,
    /// Apps by lower-case client id.
    pub apps: HashMap<String, App>,
    /// Subscriptions by content type.
    pub subs: RwLock<BTreeMap<ContentType, Subscription>>,
    /// Webhook notifications attempted, by blob: emulated time sent and whether it was delivered.
    pub notified: Mutex<HashMap<BlobKey, (i64, bool)>>,
    /// Request budget.
    pub bucket: Mutex<Bucket>,
    /// Days of audit log the Graph search reaches.
    pub audit_days: u32,
}

/// A token bucket.
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Counters of requests by route and status.
#[derive(Default)]
pub struct Counters {
    map: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
}

impl Counters {
    /// Count one response.
    pub fn add(&self, route: &str, status: u16) {
        let mut m = self.map.lock();
        *m.entry(route.to_string())
            .or_default()
            .entry(status)
            .or_default() += 1;
    }

    /// A snapshot: route -> status -> count.
    pub fn snapshot(&self) -> BTreeMap<String, BTreeMap<u16, u64>> {
        self.map.lock().clone()
    }

    /// Forget everything.
    pub fn reset(&self) {
        self.map.lock().clear();
    }
}

/// The emulated clock: real time plus a movable offset.
#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Now, in emulated milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Move the clock by `ms` (forward when positive).
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// The current offset from real time in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

/// Bounded cache of serialised blobs.
pub struct BlobCache {
    map: Mutex<HashMap<BlobKey, Bytes>>,
    bytes: AtomicU64,
    limit: u64,
}

impl BlobCache {
    fn new(limit: u64) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            bytes: AtomicU64::new(0),
            limit,
        }
    }

    /// The cached bytes of a blob, if present.
    pub fn get(&self, k: &BlobKey) -> Option<Bytes> {
        self.map.lock().get(k).cloned()
    }

    /// Insert, clearing the cache first when it would grow past its limit.
    pub fn put(&self, k: BlobKey, b: Bytes) {
        if b.len() as u64 > self.limit {
            return;
        }
        let mut m = self.map.lock();
        if self.bytes.load(Ordering::Relaxed) + b.len() as u64 > self.limit {
            m.clear();
            self.bytes.store(0, Ordering::Relaxed);
        }
        self.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        if let Some(old) = m.insert(k, b) {
            self.bytes.fetch_sub(old.len() as u64, Ordering::Relaxed);
        }
    }
}

/// Everything the handlers share.
pub struct State {
    /// The configuration the emulator started with.
    pub cfg: EmulatorConfig,
    /// Base URL (`http://127.0.0.1:PORT`): both the API root and the login endpoint.
    pub base_url: String,
    /// Tenants in configuration order.
    pub tenants: Vec<Tenant>,
    /// Content generator.
    pub gen: Generator,
    /// Emulated clock.
    pub clock: Clock,
    /// Request counters.
    pub counters: Counters,
    /// Current fault settings.
    pub faults: RwLock<FaultConfig>,
    /// Current throttle settings.
    pub throttle: RwLock<ThrottleConfig>,
    /// Sequence for fault decisions.
    pub fault_seq: AtomicU64,
    /// Scripted answers for the next requests.
    pub script: Mutex<std::collections::VecDeque<u16>>,
    /// Serialised blobs.
    pub cache: BlobCache,
    /// Key that signs issued access tokens.
    pub signing_key: jsonwebtoken::EncodingKey,
    /// Key that verifies them.
    pub verify_key: jsonwebtoken::DecodingKey,
    /// HTTP client for webhook validation and notifications.
    pub http: reqwest::Client,
    /// Graph audit searches.
    pub searches: Mutex<crate::graph::Searches>,
}

/// Shared handle.
pub type Shared = Arc<State>;

const SIGNING_KEY: &str = include_str!("../keys/emulator-signing-key.pem");
const VERIFY_KEY: &str = include_str!("../keys/emulator-signing-pub.pem");

impl State {
    /// Build the state from a validated configuration.
    pub fn new(cfg: EmulatorConfig, base_url: String) -> Result<Self, String> {
        let mut tenants = Vec::new();
        for t in &cfg.tenants {
            let id = t.id.to_ascii_lowercase();
            let mut apps = HashMap::new();
            for a in &t.apps {
                let mut certs = Vec::new();
                for (i, c) in a.certificates.iter().enumerate() {
                    let pem = if c.contains("-----BEGIN") {
                        c.clone()
                    } else {
                        std::fs::read_to_string(c).map_err(|e| {
                            format!(
                                "app {} certificates[{i}]: cannot read {c:?}: {e}",
                                a.client_id
                            )
                        })?
                    };
                    certs.push(
                        crate::token::parse_cert(&pem)
                            .map_err(|e| format!("app {} certificates[{i}]: {e}", a.client_id))?,
                    );
                }
                apps.insert(
                    a.client_id.to_ascii_lowercase(),
                    App {
                        cfg: a.clone(),
                        certs,
                    },
                );
            }
            let now = chrono::Utc::now().timestamp_millis();
            let mut subs = BTreeMap::new();
            for s in &t.subscriptions {
                if let Some(ct) = ContentType::parse(&s.content_type, true) {
                    let since = now - (s.enabled_hours_ago * 3_600_000.0) as i64;
                    subs.insert(
                        ct,
                        Subscription {
                            enabled: true,
                            webhook: None,
                            webhook_since_ms: since,
                            intervals: vec![(since, None)],
                            last_start_ms: None,
                            notified_until_ms: since,
                            webhook_failures: 0,
                        },
                    );
                }
            }
            let domain = t
                .domain
                .clone()
                .unwrap_or_else(|| "contoso.onmicrosoft.com".into());
            tenants.push(Tenant {
                info: TenantInfo {
                    hash: hash_str(&id),
                    id,
                    domain,
                    region: t.region.clone(),
                },
                domain: t.domain.clone(),
                cloud: t.cloud,
                audit_enabled: RwLock::new(t.audit_enabled),
                apps,
                subs: RwLock::new(subs),
                notified: Mutex::new(HashMap::new()),
                bucket: Mutex::new(Bucket {
                    tokens: cfg.throttle.requests_per_minute as f64,
                    last: Instant::now(),
                }),
                audit_days: t.audit_days,
            });
        }
        let d = &cfg.data;
        let gen = Generator {
            seed: cfg.seed,
            interval_ms: d.blob_interval_secs as i64 * 1000,
            events_per_blob: d.events_per_blob,
            event_size: d.event_size,
            trim_events: d.trim_events,
            duplicate_rate: d.duplicate_rate,
            duplicate_events: d.duplicate_events,
            late_rate: d.late_rate,
            malformed_rate: d.malformed_rate,
            late_delay_ms: d.late_delay_secs as i64 * 1000,
            latency_max_secs: d.event_latency_max_secs,
        };
        Ok(Self {
            script: Mutex::new(cfg.faults.script.iter().copied().collect()),
            faults: RwLock::new(cfg.faults.clone()),
            throttle: RwLock::new(cfg.throttle.clone()),
            cache: BlobCache::new(d.blob_cache_mib as u64 * 1024 * 1024),
            cfg,
            base_url,
            tenants,
            gen,
            clock: Clock::default(),
            counters: Counters::default(),
            fault_seq: AtomicU64::new(0),
            signing_key: jsonwebtoken::EncodingKey::from_rsa_pem(SIGNING_KEY.as_bytes())
                .map_err(|e| format!("signing key: {e}"))?,
            verify_key: jsonwebtoken::DecodingKey::from_rsa_pem(VERIFY_KEY.as_bytes())
                .map_err(|e| format!("verify key: {e}"))?,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .map_err(|e| format!("http client: {e}"))?,
            searches: Mutex::new(crate::graph::Searches::default()),
        })
    }

    /// Find a tenant by GUID or domain (case-insensitive); returns its index.
    pub fn tenant_index(&self, id_or_domain: &str) -> Option<usize> {
        self.tenants.iter().position(|t| {
            t.info.id.eq_ignore_ascii_case(id_or_domain)
                || t.domain
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(id_or_domain))
        })
    }

    /// Find the tenant in which an app with this client id is registered.
    pub fn tenant_of_app(&self, client_id: &str) -> Option<usize> {
        let k = client_id.to_ascii_lowercase();
        self.tenants.iter().position(|t| t.apps.contains_key(&k))
    }

    /// Take one request from a tenant's budget; false when it is exhausted.
    pub fn take_budget(&self, tenant: usize) -> bool {
        let rpm = self.throttle.read().requests_per_minute;
        if rpm == 0 {
            return true;
        }
        let mut b = self.tenants[tenant].bucket.lock();
        let now = Instant::now();
        let cap = rpm as f64;
        let refill = now.duration_since(b.last).as_secs_f64() * cap / 60.0;
        b.tokens = (b.tokens + refill).min(cap);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Refill every bucket (after a throttle change).
    pub fn reset_budgets(&self) {
        let cap = self.throttle.read().requests_per_minute as f64;
        for t in &self.tenants {
            let mut b = t.bucket.lock();
            b.tokens = cap;
            b.last = Instant::now();
        }
    }

    /// A fresh fraction in [0,1) for a fault decision.
    pub fn fault_draw(&self) -> f64 {
        let n = self.fault_seq.fetch_add(1, Ordering::Relaxed);
        unit(hash(&[self.cfg.seed, 0xfa17, n]))
    }

    /// Does the blob exist (the subscription was enabled at its creation)?
    pub fn blob_exists(&self, f: &BlobFacts) -> bool {
        let subs = self.tenants[f.key.tenant].subs.read();
        subs.get(&f.key.content_type)
            .is_some_and(|s| s.enabled_at(f.created_ms))
    }

    /// Blobs of a tenant and type created in `[start, end)` that exist, in slot order.
    /// With `available_by`, only those listable by that time.
    pub fn blobs_in(
        &self,
        tenant: usize,
        ct: ContentType,
        start_ms: i64,
        end_ms: i64,
        available_by: Option<i64>,
    ) -> Vec<BlobFacts> {
        let t = &self.tenants[tenant];
        let subs = t.subs.read();
        let Some(sub) = subs.get(&ct) else {
            return vec![];
        };
        let mut out = Vec::new();
        for slot in self.gen.slots_between(start_ms, end_ms) {
            let f = self.gen.facts(
                &t.info,
                BlobKey {
                    tenant,
                    content_type: ct,
                    slot,
                },
            );
            if f.created_ms < start_ms || f.created_ms >= end_ms || !sub.enabled_at(f.created_ms) {
                continue;
            }
            if available_by.is_some_and(|a| f.available_ms > a) {
                continue;
            }
            out.push(f);
        }
        out
    }

    /// Whether the previous slot's blob exists (duplicates repeat its events only then).
    pub fn prev_exists(&self, f: &BlobFacts) -> bool {
        let prev = self.gen.facts(
            &self.tenants[f.key.tenant].info,
            BlobKey {
                slot: f.key.slot - 1,
                ..f.key
            },
        );
        self.blob_exists(&prev)
    }

    /// The serialised blob, from the cache or freshly generated.
    pub fn blob_bytes(&self, f: &BlobFacts) -> Bytes {
        if let Some(b) = self.cache.get(&f.key) {
            return b;
        }
        let prev = self.prev_exists(f);
        let b = Bytes::from(
            self.gen
                .blob_json(&self.tenants[f.key.tenant].info, f, prev),
        );
        self.cache.put(f.key, b.clone());
        b
    }
}
