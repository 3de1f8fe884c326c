//! The validated configuration of one instance (the client it builds: `client.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use o365_api::Cloud;
use secrecy::{ExposeSecret as _, SecretString};

use super::{
    default_config_paths, did_you_mean, ConfigError, Key, Loader, Source, Sourced, DEFAULT_SCOPES,
    KEYS,
};

/// The effective configuration of one instance. `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The tenant's name (`default` for the top-level settings).
    pub name: String,
    /// Cloud.
    pub cloud: Sourced<Cloud>,
    /// API root (also the OAuth resource).
    pub api_root: Sourced<String>,
    /// Login endpoint.
    pub login_endpoint: Sourced<String>,
    /// Tenant GUID or domain.
    pub tenant_id: Option<Sourced<String>>,
    /// Application id.
    pub client_id: Option<Sourced<String>>,
    /// Client secret given inline (wins over the file, the variable and the certificate).
    pub client_secret: Option<Sourced<SecretString>>,
    /// A file holding the secret, read when a client is built.
    pub client_secret_file: Option<Sourced<PathBuf>>,
    /// An environment variable holding the secret, read when a client is built.
    pub client_secret_env: Option<Sourced<String>>,
    /// Certificate file.
    pub certificate_path: Option<Sourced<PathBuf>>,
    /// Certificate password.
    pub certificate_password: Option<Sourced<SecretString>>,
    /// Verify TLS.
    pub verify_ssl: Sourced<bool>,
    /// `serve` fills the tenant's closed data gaps from Graph's audit search.
    pub repair_gaps: Sourced<bool>,
    /// `serve` also backfills this far back from Graph's audit search.
    pub backfill_since: Option<Sourced<chrono::Duration>>,
    /// CA certificates to trust besides the built-in roots.
    pub ca_file: Option<Sourced<PathBuf>>,
    /// The proxy for every request (may hold a password).
    pub proxy: Option<Sourced<SecretString>>,
    /// PublisherIdentifier, a GUID (default: the tenant GUID from the token).
    pub publisher_id: Option<Sourced<String>>,
    /// Microsoft Graph's root (the audit search); `None`: the cloud's.
    pub graph_root: Option<Sourced<String>>,
    /// Content types to collect.
    pub content_types: Sourced<Vec<o365_api::ContentType>>,
    /// Allowed case scopes.
    pub scopes: Sourced<Vec<String>>,
    /// State file, when configured.
    pub state: Option<Sourced<PathBuf>>,
    /// Request budget per minute.
    pub requests_per_minute: Sourced<u32>,
    /// Timeout of one request.
    pub timeout: Sourced<Duration>,
    /// Things the user should know (readable secrets, ignored parameters).
    pub warnings: Vec<String>,
}

/// One row of `config show`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShownValue {
    /// The TOML key.
    pub key: &'static str,
    /// The value (`[redacted]` for secrets), or `null` when unset.
    pub value: Option<String>,
    /// Where it came from (`unset` when unset).
    pub source: String,
    /// Its environment variable.
    pub env: &'static str,
}

use super::loader::Raw;

impl Settings {
    /// The configuration from the usual places: `config` (else `./o365mgmt.toml`, else the user
    /// config file), then `soar_config`, then the process environment. Flags are added by the caller
    /// with [`Loader::set`] before resolving, so this returns the loader.
    pub fn loader(
        config: Option<&Path>,
        soar_config: Option<&Path>,
    ) -> Result<Loader, ConfigError> {
        let mut l = Loader::new();
        match config {
            Some(p) => l.toml_file(p)?,
            None => {
                if let Some(p) = default_config_paths().into_iter().find(|p| p.is_file()) {
                    l.toml_file(&p)?;
                }
            }
        }
        if let Some(p) = soar_config {
            l.soar_file(p)?;
        }
        l.env(std::env::vars().filter(|(k, _)| k.starts_with("O365_")));
        Ok(l)
    }

    /// Validate raw values into the settings of the tenant `name`.
    pub(super) fn resolve(
        name: &str,
        v: Raw,
        warnings: Vec<String>,
    ) -> Result<Settings, ConfigError> {
        let get = |n: &str| v.get(n).cloned();
        let bad = |n: &str, (val, src): &(String, Source), problem: String| ConfigError {
            field: n.into(),
            value: Some(if Key::named(n).is_some_and(|k| k.secret) {
                "[redacted]".into()
            } else {
                val.clone()
            }),
            origin: Some(src.clone()),
            problem,
        };
        let (cloud, cloud_src) = match get("cloud") {
            Some(c) => (
                c.0.parse::<Cloud>().map_err(|_| {
                    bad(
                        "cloud",
                        &c,
                        format!(
                            "{}{}",
                            o365_vocab::UnknownCloud::allowed(),
                            did_you_mean(&c.0, Cloud::ALL.map(|c| c.name()))
                        ),
                    )
                })?,
                c.1,
            ),
            None => (Cloud::Commercial, Source::Default),
        };
        let endpoint = |n: &'static str,
                        default: &str,
                        default_src: Source|
         -> Result<Sourced<String>, ConfigError> {
            match get(n) {
                Some(x) => {
                    let u = o365_api::cloud::parse_endpoint(n, &x.0).map_err(|e| match e {
                        // Its value is shown without any credentials the URL held.
                        o365_api::Error::Config { problem, value, .. } => ConfigError {
                            field: n.into(),
                            value: Some(value),
                            origin: Some(x.1.clone()),
                            problem,
                        },
                        other => bad(n, &x, other.to_string()),
                    })?;
                    Ok(Sourced::new(o365_api::cloud::trimmed(&u), x.1))
                }
                None => Ok(Sourced::new(default.to_string(), default_src)),
            }
        };
        let derived = |s: &Source| match s {
            Source::Default => Source::Default,
            Source::ApiRoot => Source::ApiRoot,
            _ => Source::Cloud,
        };
        let api_root = endpoint("api_root", cloud.api_root(), derived(&cloud_src))?;
        // No cloud named, an api_root on one of the clouds' hosts: that cloud (its sign-in).
        let (cloud, cloud_src) = match o365_api::cloud::of_api_root(&api_root.value) {
            Some(c) if cloud_src == Source::Default && api_root.source != Source::Default => {
                (c, Source::ApiRoot)
            }
            _ => (cloud, cloud_src),
        };
        let login_endpoint = endpoint(
            "login_endpoint",
            cloud.login_endpoint(),
            derived(&cloud_src),
        )?;
        let flag = |name: &'static str, default: bool| -> Result<Sourced<bool>, ConfigError> {
            match get(name) {
                Some(x) => {
                    let b = match x.0.trim().to_ascii_lowercase().as_str() {
                        "true" | "yes" | "1" | "on" => true,
                        "false" | "no" | "0" | "off" => false,
                        _ => return Err(bad(name, &x, "allowed are true or false".into())),
                    };
                    Ok(Sourced::new(b, x.1))
                }
                None => Ok(Sourced::new(default, Source::Default)),
            }
        };
        let verify_ssl = flag("verify_ssl", true)?;
        let repair_gaps = flag("repair_gaps", false)?;
        let number =
            |n: &str, default: u64, min: u64, max: u64| -> Result<Sourced<u64>, ConfigError> {
                match get(n) {
                    Some(x) => match x.0.trim().parse::<u64>() {
                        Ok(i) if (min..=max).contains(&i) => Ok(Sourced::new(i, x.1)),
                        _ => Err(bad(
                            n,
                            &x,
                            format!("expected a whole number from {min} to {max}"),
                        )),
                    },
                    None => Ok(Sourced::new(default, Source::Default)),
                }
            };
        let requests_per_minute = number(
            "requests_per_minute",
            u64::from(o365_api::DEFAULT_REQUESTS_PER_MINUTE),
            1,
            1_000_000,
        )?;
        let timeout_secs = number("timeout_secs", o365_api::DEFAULT_TIMEOUT_SECS, 1, 3600)?;
        let scopes = match get("scopes") {
            Some(x) => {
                let list: Vec<String> =
                    x.0.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                if list.is_empty() {
                    return Err(bad("scopes", &x, "list at least one scope".into()));
                }
                Sourced::new(list, x.1)
            }
            None => Sourced::new(
                DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
                Source::Default,
            ),
        };
        let content_types = match get("content_types") {
            Some(x) => Sourced::new(
                crate::input::content_types("content_types", &[&x.0])
                    .map_err(|e| bad("content_types", &x, e.problem))?,
                x.1,
            ),
            None => Sourced::new(o365_api::ContentType::ALL.to_vec(), Source::Default),
        };
        let backfill_since = match get("backfill_since") {
            Some(x) => Some(Sourced::new(
                crate::input::parse_duration(
                    "backfill_since",
                    &x.0,
                    chrono::Duration::hours(1),
                    crate::input::MAX_DURATION,
                )
                .map_err(|e| bad("backfill_since", &x, e.problem))?,
                x.1,
            )),
            None => None,
        };
        let plain = |n: &str| get(n).map(|(s, src)| Sourced::new(s.trim().to_string(), src));
        let path = |n: &str| get(n).map(|(s, src)| Sourced::new(PathBuf::from(s.trim()), src));
        let secret = |n: &str| get(n).map(|(s, src)| Sourced::new(SecretString::from(s), src));
        let client_secret_file = path("client_secret_file");
        let client_secret_env = plain("client_secret_env");
        let client_secret = secret("client_secret");
        let proxy = secret("proxy");
        if let Some(p) = &proxy {
            let raw = p.value.expose_secret();
            o365_api::proxy::check(raw).map_err(|problem| ConfigError {
                field: "proxy".into(),
                value: Some(o365_api::proxy::redacted(raw)),
                origin: Some(p.source.clone()),
                problem,
            })?;
        }
        Ok(Settings {
            name: name.to_string(),
            cloud: Sourced::new(cloud, cloud_src),
            api_root,
            login_endpoint,
            tenant_id: plain("tenant_id"),
            client_id: plain("client_id"),
            client_secret,
            client_secret_file,
            client_secret_env,
            certificate_path: path("certificate_path"),
            certificate_password: secret("certificate_password"),
            verify_ssl,
            repair_gaps,
            backfill_since,
            ca_file: path("ca_file"),
            proxy,
            publisher_id: plain("publisher_id"),
            graph_root: plain("graph_root"),
            content_types,
            scopes,
            state: path("state"),
            requests_per_minute: Sourced::new(
                requests_per_minute.value as u32,
                requests_per_minute.source,
            ),
            timeout: Sourced::new(Duration::from_secs(timeout_secs.value), timeout_secs.source),
            warnings,
        })
    }

    /// The tenant, or an error saying how to set it.
    pub fn tenant(&self) -> Result<&str, ConfigError> {
        self.tenant_id
            .as_ref()
            .map(|t| t.value.as_str())
            .ok_or_else(|| missing("tenant_id", "the tenant GUID (Azure Active Directory ID) or a verified domain such as contoso.onmicrosoft.com"))
    }

    /// A setting's value for people (secrets redacted) and its origin, or `None` when unset.
    fn shown(&self, key: &Key) -> Option<(String, &Source)> {
        fn s(v: &Sourced<String>) -> (String, &Source) {
            (v.value.clone(), &v.source)
        }
        fn p(v: &Sourced<PathBuf>) -> (String, &Source) {
            (v.value.display().to_string(), &v.source)
        }
        fn r(v: &Sourced<SecretString>) -> (String, &Source) {
            ("[redacted]".to_string(), &v.source)
        }
        Some(match key.name {
            "cloud" => (self.cloud.value.name().into(), &self.cloud.source),
            "api_root" => s(&self.api_root),
            "login_endpoint" => s(&self.login_endpoint),
            "tenant_id" => s(self.tenant_id.as_ref()?),
            "client_id" => s(self.client_id.as_ref()?),
            "client_secret" => r(self.client_secret.as_ref()?),
            "client_secret_file" => p(self.client_secret_file.as_ref()?),
            "client_secret_env" => s(self.client_secret_env.as_ref()?),
            "certificate_path" => p(self.certificate_path.as_ref()?),
            "certificate_password" => r(self.certificate_password.as_ref()?),
            "verify_ssl" => (self.verify_ssl.value.to_string(), &self.verify_ssl.source),
            "repair_gaps" => (self.repair_gaps.value.to_string(), &self.repair_gaps.source),
            "backfill_since" => {
                let v = self.backfill_since.as_ref()?;
                (crate::human_seconds(v.value.num_seconds()), &v.source)
            }
            "ca_file" => p(self.ca_file.as_ref()?),
            "proxy" => {
                let v = self.proxy.as_ref()?;
                (
                    o365_api::proxy::redacted(v.value.expose_secret()),
                    &v.source,
                )
            }
            "publisher_id" => s(self.publisher_id.as_ref()?),
            "graph_root" => s(self.graph_root.as_ref()?),
            "content_types" => (
                self.content_types
                    .value
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                &self.content_types.source,
            ),
            "scopes" => (self.scopes.value.join(", "), &self.scopes.source),
            "state" => p(self.state.as_ref()?),
            "requests_per_minute" => (
                self.requests_per_minute.value.to_string(),
                &self.requests_per_minute.source,
            ),
            "timeout_secs" => (
                self.timeout.value.as_secs().to_string(),
                &self.timeout.source,
            ),
            _ => return None,
        })
    }

    /// Every setting with its origin, secrets redacted.
    pub fn show(&self) -> Vec<ShownValue> {
        KEYS.iter()
            .map(|k| {
                let (value, source) = match self.shown(k) {
                    Some((v, src)) => (Some(v), src.to_string()),
                    // Unset, a proxy from the environment is still used: say which.
                    None if k.name == "proxy" => {
                        match o365_api::proxy::in_use(None, &self.api_root.value, |n| {
                            std::env::var(n).ok()
                        }) {
                            Some(p) => (Some(p.url), format!("{} (environment)", p.from)),
                            None => (None, "unset".into()),
                        }
                    }
                    None => (None, "unset".into()),
                };
                ShownValue {
                    key: k.name,
                    value,
                    source,
                    env: k.env,
                }
            })
            .collect()
    }
}

pub(super) fn missing(field: &str, what: &str) -> ConfigError {
    match Key::named(field) {
        Some(k) => ConfigError::missing(k, what),
        None => ConfigError::new(field, format!("required: {what}")),
    }
}
