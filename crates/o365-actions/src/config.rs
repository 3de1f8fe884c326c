//! Configuration of one integration instance (one tenant): TOML file, a SOAR export, `O365_*`
//! environment variables and flags, with the origin of every value kept for `config show`.
//!
//! Precedence, lowest first: defaults < TOML file < `--soar-config` export < environment < flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use o365_api::{Certificate, Client, Cloud, Credentials};
use secrecy::{ExposeSecret as _, SecretString};

/// Scopes every instance accepts unless the configuration lists others.
pub const DEFAULT_SCOPES: [&str; 5] = [
    "All entities",
    "Suspicious entities",
    "Non-suspicious entities",
    "All internal entities",
    "All external entities",
];

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// Derived from `cloud`.
    Cloud,
    /// A TOML configuration file.
    File(PathBuf),
    /// A JSON export of the existing SOAR integration.
    SoarConfig(PathBuf),
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Cloud => f.write_str("derived from cloud"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::SoarConfig(p) => write!(f, "--soar-config {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(n) => write!(f, "flag {n}"),
        }
    }
}

/// One setting: its TOML key, environment variable, flag and name in the existing integration.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// TOML key.
    pub name: &'static str,
    /// Environment variable.
    pub env: &'static str,
    /// Command-line flag.
    pub flag: &'static str,
    /// Parameter name in the existing SOAR integration, if it has one.
    pub soar: Option<&'static str>,
    /// Never shown.
    pub secret: bool,
    /// What it is, for `config show` and errors.
    pub help: &'static str,
}

const fn key(
    name: &'static str,
    env: &'static str,
    flag: &'static str,
    soar: Option<&'static str>,
    secret: bool,
    help: &'static str,
) -> Key {
    Key {
        name,
        env,
        flag,
        soar,
        secret,
        help,
    }
}

/// Every setting, in display order.
pub const KEYS: [Key; 14] = [
    key(
        "cloud",
        "O365_CLOUD",
        "--cloud",
        None,
        false,
        "commercial, gcc, gcc-high or dod",
    ),
    key(
        "api_root",
        "O365_API_ROOT",
        "--api-root",
        Some("Api Root"),
        false,
        "Activity API root, also the OAuth resource",
    ),
    key(
        "login_endpoint",
        "O365_LOGIN_ENDPOINT",
        "--login-endpoint",
        Some("OAUTH2 Login Endpoint Url"),
        false,
        "Entra ID login endpoint",
    ),
    key(
        "tenant_id",
        "O365_TENANT_ID",
        "--tenant-id",
        Some("Azure Active Directory ID"),
        false,
        "tenant GUID or verified domain",
    ),
    key(
        "client_id",
        "O365_CLIENT_ID",
        "--client-id",
        Some("Client ID"),
        false,
        "application (client) ID",
    ),
    key(
        "client_secret",
        "O365_CLIENT_SECRET",
        "--client-secret",
        Some("Client Secret"),
        true,
        "client secret value",
    ),
    key(
        "certificate_path",
        "O365_CERTIFICATE_PATH",
        "--certificate-path",
        Some("Certificate Path"),
        false,
        ".pfx/.p12, or PEM with certificate and key",
    ),
    key(
        "certificate_password",
        "O365_CERTIFICATE_PASSWORD",
        "--certificate-password",
        Some("Certificate Password"),
        true,
        "password of the .pfx/.p12",
    ),
    key(
        "verify_ssl",
        "O365_VERIFY_SSL",
        "--verify-ssl",
        Some("Verify SSL"),
        false,
        "verify TLS certificates",
    ),
    key(
        "publisher_id",
        "O365_PUBLISHER_ID",
        "--publisher-id",
        None,
        false,
        "PublisherIdentifier sent on every call",
    ),
    key(
        "scopes",
        "O365_SCOPES",
        "--scopes",
        None,
        false,
        "allowed case scopes (comma-separated in env/flags)",
    ),
    key(
        "state",
        "O365_STATE",
        "--state",
        None,
        false,
        "SQLite state file (journal and gap ledger)",
    ),
    key(
        "requests_per_minute",
        "O365_REQUESTS_PER_MINUTE",
        "--max-requests-per-minute",
        None,
        false,
        "request budget per tenant",
    ),
    key(
        "timeout_secs",
        "O365_TIMEOUT_SECS",
        "--timeout-secs",
        None,
        false,
        "timeout of one HTTP request, seconds",
    ),
];

fn find_key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// A configuration problem: which setting, what it holds, where it came from, what is allowed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{field}{}{}: {problem}", value.as_ref().map(|v| format!(" = {v:?}")).unwrap_or_default(), origin.as_ref().map(|s| format!(" (from {s})")).unwrap_or_default())]
pub struct ConfigError {
    /// The setting or file.
    pub field: String,
    /// The value (redacted for secrets).
    pub value: Option<String>,
    /// Where it came from.
    pub origin: Option<Source>,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            value: None,
            origin: None,
            problem: problem.into(),
        }
    }
}

/// Collects raw values from every layer; [`Loader::resolve`] validates them.
#[derive(Debug, Default)]
pub struct Loader {
    values: BTreeMap<&'static str, (String, Source)>,
    warnings: Vec<String>,
}

fn did_you_mean<'a>(given: &str, options: impl IntoIterator<Item = &'a str>) -> String {
    let norm = |s: &str| s.trim().to_ascii_lowercase().replace('_', "-");
    let g = norm(given);
    options
        .into_iter()
        .map(|o| (strsim::normalized_damerau_levenshtein(&g, &norm(o)), o))
        .filter(|(s, _)| *s >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, o)| format!(" (did you mean {o:?}?)"))
        .unwrap_or_default()
}

impl Loader {
    /// An empty loader (defaults only).
    pub fn new() -> Self {
        Self::default()
    }

    /// Set one value from a layer; later calls win. Empty strings count as unset.
    pub fn set(&mut self, name: &str, value: impl Into<String>, source: Source) {
        let v = value.into();
        if let Some(k) = find_key(name) {
            if !v.trim().is_empty() {
                self.values.insert(k.name, (v, source));
            }
        }
    }

    /// Read a TOML file. Unknown keys are errors (with a did-you-mean).
    pub fn toml_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                format!("config file {}", path.display()),
                format!("cannot read it: {e}"),
            )
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::new(
                format!("config file {}", path.display()),
                format!("not valid TOML: {}", e.message()),
            )
        })?;
        let mut holds_secret = false;
        for (k, v) in &table {
            let Some(key) = find_key(k) else {
                return Err(ConfigError::new(
                    format!("config file {}", path.display()),
                    format!(
                        "unknown key {k:?}{}; known keys: {}",
                        did_you_mean(k, KEYS.iter().map(|k| k.name)),
                        KEYS.map(|k| k.name).join(", ")
                    ),
                ));
            };
            let s = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(a) if key.name == "scopes" => {
                    let mut out = Vec::new();
                    for item in a {
                        match item {
                            toml::Value::String(s) => out.push(s.clone()),
                            other => {
                                return Err(ConfigError {
                                    field: "scopes".into(),
                                    value: Some(other.to_string()),
                                    origin: Some(Source::File(path.into())),
                                    problem: "every scope must be a string".into(),
                                })
                            }
                        }
                    }
                    out.join(",")
                }
                other => {
                    return Err(ConfigError {
                        field: key.name.into(),
                        value: Some(if key.secret {
                            "[redacted]".into()
                        } else {
                            other.to_string()
                        }),
                        origin: Some(Source::File(path.into())),
                        problem: format!("expected a string ({})", key.help),
                    })
                }
            };
            holds_secret |= key.secret && !s.is_empty();
            self.set(key.name, s, Source::File(path.into()));
        }
        if holds_secret {
            self.check_private(path);
        }
        Ok(())
    }

    /// Read a JSON export of the existing SOAR integration (keys are its parameter names).
    pub fn soar_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let field = || format!("--soar-config {}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(field(), format!("cannot read it: {e}")))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ConfigError::new(field(), format!("not valid JSON: {e}")))?;
        // Accept the bare object, or one wrapped as {"parameters": {...}} / a list of {Name, Value}.
        let obj = match &v {
            serde_json::Value::Object(o) if o.contains_key("parameters") => o["parameters"].clone(),
            other => other.clone(),
        };
        let pairs: Vec<(String, serde_json::Value)> = match obj {
            serde_json::Value::Object(o) => o.into_iter().collect(),
            serde_json::Value::Array(a) => a
                .into_iter()
                .filter_map(|item| {
                    let name = item.get("Name").or_else(|| item.get("name"))?.as_str()?.to_string();
                    let value = item.get("Value").or_else(|| item.get("value"))?.clone();
                    Some((name, value))
                })
                .collect(),
            _ => {
                return Err(ConfigError::new(
                    field(),
                    "expected a JSON object keyed by the integration's parameter names, e.g. {\"Api Root\": \"https://manage.office.com\", \"Azure Active Directory ID\": \"...\"}",
                ))
            }
        };
        let mut holds_secret = false;
        for (name, value) in pairs {
            let Some(key) = KEYS.iter().find(|k| {
                k.soar.is_some_and(|s| s.eq_ignore_ascii_case(name.trim())) || k.name == name
            }) else {
                self.warnings.push(format!(
                    "--soar-config {}: ignoring unknown parameter {name:?}{}",
                    path.display(),
                    did_you_mean(&name, KEYS.iter().filter_map(|k| k.soar))
                ));
                continue;
            };
            let s = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            holds_secret |= key.secret && !s.is_empty();
            self.set(key.name, s, Source::SoarConfig(path.into()));
        }
        if holds_secret {
            self.check_private(path);
        }
        Ok(())
    }

    /// Take `O365_*` variables from an environment.
    pub fn env<I: IntoIterator<Item = (String, String)>>(&mut self, vars: I) {
        for (k, v) in vars {
            if let Some(key) = KEYS.iter().find(|key| key.env == k) {
                self.set(key.name, v, Source::Env(key.env));
            }
        }
    }

    #[cfg(unix)]
    fn check_private(&mut self, path: &Path) {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(m) = std::fs::metadata(path) {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                self.warnings.push(format!(
                    "{} holds a secret and other users can read it (mode {mode:04o}): run `chmod 600 {}`",
                    path.display(),
                    path.display()
                ));
            }
        }
    }

    #[cfg(not(unix))]
    fn check_private(&mut self, _path: &Path) {}

    /// Validate every value and build the settings.
    pub fn resolve(self) -> Result<Settings, ConfigError> {
        let v = &self.values;
        let get = |n: &str| v.get(n).cloned();
        let bad = |n: &str, (val, src): &(String, Source), problem: String| {
            let secret = find_key(n).is_some_and(|k| k.secret);
            ConfigError {
                field: n.into(),
                value: Some(if secret {
                    "[redacted]".into()
                } else {
                    val.clone()
                }),
                origin: Some(src.clone()),
                problem,
            }
        };
        let (cloud, cloud_src) = match get("cloud") {
            Some(c) => (
                c.0.parse::<Cloud>().map_err(|_| {
                    bad(
                        "cloud",
                        &c,
                        format!(
                            "allowed are commercial, gcc, gcc-high, dod{}",
                            did_you_mean(&c.0, Cloud::ALL.map(|c| c.name()))
                        ),
                    )
                })?,
                c.1,
            ),
            None => (Cloud::Commercial, Source::Default),
        };
        let endpoint = |n: &'static str, default: &str| -> Result<Sourced<String>, ConfigError> {
            match get(n) {
                Some(x) => {
                    let u = o365_api::cloud::parse_endpoint(n, &x.0).map_err(|e| {
                        bad(
                            n,
                            &x,
                            match e {
                                o365_api::Error::Config { problem, .. } => problem,
                                other => other.to_string(),
                            },
                        )
                    })?;
                    Ok(Sourced::new(o365_api::cloud::trimmed(&u), x.1))
                }
                None => Ok(Sourced::new(
                    default.to_string(),
                    if cloud_src == Source::Default {
                        Source::Default
                    } else {
                        Source::Cloud
                    },
                )),
            }
        };
        let api_root = endpoint("api_root", cloud.api_root())?;
        let login_endpoint = endpoint("login_endpoint", cloud.login_endpoint())?;
        let verify_ssl = match get("verify_ssl") {
            Some(x) => {
                let b = match x.0.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" | "on" => true,
                    "false" | "no" | "0" | "off" => false,
                    _ => return Err(bad("verify_ssl", &x, "allowed are true or false".into())),
                };
                Sourced::new(b, x.1)
            }
            None => Sourced::new(true, Source::Default),
        };
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
        let requests_per_minute = number("requests_per_minute", 2000, 1, 1_000_000)?;
        let timeout_secs = number("timeout_secs", 60, 1, 3600)?;
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
        let plain = |n: &str| get(n).map(|(s, src)| Sourced::new(s.trim().to_string(), src));
        let secret = |n: &str| get(n).map(|(s, src)| Sourced::new(SecretString::from(s), src));
        Ok(Settings {
            cloud: Sourced::new(cloud, cloud_src),
            api_root,
            login_endpoint,
            tenant_id: plain("tenant_id"),
            client_id: plain("client_id"),
            client_secret: secret("client_secret"),
            certificate_path: plain("certificate_path")
                .map(|s| Sourced::new(PathBuf::from(s.value), s.source)),
            certificate_password: secret("certificate_password"),
            verify_ssl,
            publisher_id: plain("publisher_id"),
            scopes,
            state: plain("state").map(|s| Sourced::new(PathBuf::from(s.value), s.source)),
            requests_per_minute: Sourced::new(
                requests_per_minute.value as u32,
                requests_per_minute.source,
            ),
            timeout: Sourced::new(Duration::from_secs(timeout_secs.value), timeout_secs.source),
            warnings: self.warnings,
        })
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub source: Source,
}

impl<T> Sourced<T> {
    fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}

/// The effective configuration of one instance. `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub struct Settings {
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
    /// Client secret (wins over the certificate).
    pub client_secret: Option<Sourced<SecretString>>,
    /// Certificate file.
    pub certificate_path: Option<Sourced<PathBuf>>,
    /// Certificate password.
    pub certificate_password: Option<Sourced<SecretString>>,
    /// Verify TLS.
    pub verify_ssl: Sourced<bool>,
    /// PublisherIdentifier (default: the tenant).
    pub publisher_id: Option<Sourced<String>>,
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

    /// The tenant, or an error saying how to set it.
    pub fn tenant(&self) -> Result<&str, ConfigError> {
        self.tenant_id
            .as_ref()
            .map(|t| t.value.as_str())
            .ok_or_else(|| missing("tenant_id", "the tenant GUID (Azure Active Directory ID) or a verified domain such as contoso.onmicrosoft.com"))
    }

    /// Build the API client for this instance (default retry policy: for long-running work).
    pub fn client(&self) -> Result<Client, ConfigError> {
        self.client_with(o365_api::RetryPolicy::default())
    }

    /// Retries for a person or playbook waiting on an answer: a few quick attempts, not minutes.
    pub fn interactive_retry() -> o365_api::RetryPolicy {
        o365_api::RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(30),
        }
    }

    /// Build the API client with a retry policy.
    pub fn client_with(&self, retry: o365_api::RetryPolicy) -> Result<Client, ConfigError> {
        let tenant = self.tenant()?;
        let client_id = self.client_id.as_ref().ok_or_else(|| {
            missing(
                "client_id",
                "the application (client) ID of the app registration",
            )
        })?;
        let creds = match (&self.client_secret, &self.certificate_path) {
            (Some(s), _) => Credentials::Secret(s.value.clone()),
            (None, Some(p)) => {
                let cert = Certificate::from_file(
                    &p.value,
                    self.certificate_password.as_ref().map(|s| &s.value),
                )
                .map_err(|e| ConfigError {
                    field: "certificate_path".into(),
                    value: Some(p.value.display().to_string()),
                    origin: Some(p.source.clone()),
                    problem: format!(
                        "{e}. Give a .pfx/.p12 (with certificate_password) or a PEM file holding the certificate and its private key"
                    ),
                })?;
                Credentials::Certificate(Box::new(cert))
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "client_secret / certificate_path",
                    "Either Certificate Path or Client Secret has to be specified. Set client_secret (O365_CLIENT_SECRET) or certificate_path (O365_CERTIFICATE_PATH)",
                ))
            }
        };
        let mut b = Client::builder(tenant, &client_id.value, creds)
            .cloud(self.cloud.value)
            .api_root(&self.api_root.value)
            .login_endpoint(&self.login_endpoint.value)
            .verify_tls(self.verify_ssl.value)
            .requests_per_minute(self.requests_per_minute.value)
            .timeout(self.timeout.value)
            .retry(retry);
        if let Some(p) = &self.publisher_id {
            b = b.publisher_id(&p.value);
        }
        b.build().map_err(|e| match e {
            o365_api::Error::Config {
                field,
                value,
                problem,
            } => ConfigError {
                field: field.into(),
                value: Some(value),
                origin: None,
                problem,
            },
            other => ConfigError::new("configuration", other.to_string()),
        })
    }

    /// Whether the configured secret looks like a secret *ID* (a GUID) rather than its value.
    pub fn secret_looks_like_id(&self) -> bool {
        self.client_secret
            .as_ref()
            .is_some_and(|s| is_guid(s.value.expose_secret()))
    }

    /// Every setting with its origin, secrets redacted.
    pub fn show(&self) -> Vec<ShownValue> {
        let row = |k: &'static str, v: Option<(String, &Source)>| {
            let env = find_key(k).map(|k| k.env).unwrap_or("");
            match v {
                Some((value, src)) => ShownValue {
                    key: k,
                    value: Some(value),
                    source: src.to_string(),
                    env,
                },
                None => ShownValue {
                    key: k,
                    value: None,
                    source: "unset".into(),
                    env,
                },
            }
        };
        fn redacted(s: &Option<Sourced<SecretString>>) -> Option<(String, &Source)> {
            s.as_ref().map(|s| ("[redacted]".to_string(), &s.source))
        }
        vec![
            row(
                "cloud",
                Some((self.cloud.value.name().into(), &self.cloud.source)),
            ),
            row(
                "api_root",
                Some((self.api_root.value.clone(), &self.api_root.source)),
            ),
            row(
                "login_endpoint",
                Some((
                    self.login_endpoint.value.clone(),
                    &self.login_endpoint.source,
                )),
            ),
            row(
                "tenant_id",
                self.tenant_id
                    .as_ref()
                    .map(|s| (s.value.clone(), &s.source)),
            ),
            row(
                "client_id",
                self.client_id
                    .as_ref()
                    .map(|s| (s.value.clone(), &s.source)),
            ),
            row("client_secret", redacted(&self.client_secret)),
            row(
                "certificate_path",
                self.certificate_path
                    .as_ref()
                    .map(|s| (s.value.display().to_string(), &s.source)),
            ),
            row("certificate_password", redacted(&self.certificate_password)),
            row(
                "verify_ssl",
                Some((self.verify_ssl.value.to_string(), &self.verify_ssl.source)),
            ),
            row(
                "publisher_id",
                self.publisher_id
                    .as_ref()
                    .map(|s| (s.value.clone(), &s.source)),
            ),
            row(
                "scopes",
                Some((self.scopes.value.join(", "), &self.scopes.source)),
            ),
            row(
                "state",
                self.state
                    .as_ref()
                    .map(|s| (s.value.display().to_string(), &s.source)),
            ),
            row(
                "requests_per_minute",
                Some((
                    self.requests_per_minute.value.to_string(),
                    &self.requests_per_minute.source,
                )),
            ),
            row(
                "timeout_secs",
                Some((
                    self.timeout.value.as_secs().to_string(),
                    &self.timeout.source,
                )),
            ),
        ]
    }
}

fn missing(field: &str, what: &str) -> ConfigError {
    let k = find_key(field);
    ConfigError::new(
        field,
        format!(
            "required: {what}. Set `{field}` in the config file, {} or {}",
            k.map(|k| k.env).unwrap_or(""),
            k.map(|k| k.flag).unwrap_or("")
        ),
    )
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn is_guid(s: &str) -> bool {
    let b = s.trim().as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Where a configuration file is looked for when `--config` is not given.
pub fn default_config_paths() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("o365mgmt.toml")];
    if let Some(d) = dirs::config_dir() {
        v.push(d.join("o365mgmt").join("config.toml"));
    }
    v
}

/// The default state file (in the user data directory).
pub fn default_state_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("o365mgmt")
        .join("state.sqlite")
}
