//! The validated configuration of one instance (the client it builds: `client.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use o365_api::Cloud;
use secrecy::SecretString;

use super::value::Value;
use super::{default_config_paths, ConfigError, Key, Loader, Source, Sourced, KEYS};

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
    /// Every setting's value as read, for `config show`.
    table: Table,
}

/// Every key with its value as read (or its default), in table order.
#[derive(Debug, Clone, Default)]
struct Table(Vec<(&'static Key, Option<Sourced<Value>>)>);

impl Table {
    /// The value of the setting `name`, if set or defaulted.
    fn get(&self, name: &str) -> Option<&Sourced<Value>> {
        self.0
            .iter()
            .find(|(k, _)| k.name == name)
            .and_then(|(_, v)| v.as_ref())
    }

    /// Set (or derive) the setting `name`.
    fn put(&mut self, name: &str, value: Sourced<Value>) {
        if let Some((_, v)) = self.0.iter_mut().find(|(k, _)| k.name == name) {
            *v = Some(value);
        }
    }

    /// The endpoints the user did not give come from the cloud; with no cloud named, an
    /// `api_root` on one of the clouds' hosts names that cloud (and its sign-in).
    fn follow_the_cloud(&mut self) {
        let (mut cloud, mut cloud_src) = match self.get("cloud") {
            Some(Sourced {
                value: Value::Cloud(c),
                source,
            }) => (*c, source.clone()),
            _ => (Cloud::Commercial, Source::Default),
        };
        let derived = |s: &Source| match s {
            Source::Default => Source::Default,
            Source::ApiRoot => Source::ApiRoot,
            _ => Source::Cloud,
        };
        let api_root = match self.get("api_root") {
            Some(Sourced {
                value: Value::Text(root),
                ..
            }) => Some(root.clone()),
            _ => None,
        };
        match &api_root {
            Some(root) => {
                if let Some(c) = o365_api::cloud::of_api_root(root) {
                    if cloud_src == Source::Default {
                        (cloud, cloud_src) = (c, Source::ApiRoot);
                        self.put("cloud", Sourced::new(Value::Cloud(c), Source::ApiRoot));
                    }
                }
            }
            None => self.put(
                "api_root",
                Sourced::new(
                    Value::Text(cloud.api_root().to_string()),
                    derived(&cloud_src),
                ),
            ),
        }
        if self.get("login_endpoint").is_none() {
            self.put(
                "login_endpoint",
                Sourced::new(
                    Value::Text(cloud.login_endpoint().to_string()),
                    derived(&cloud_src),
                ),
            );
        }
    }

    /// The setting `name` as `T`; an error names a key whose kind does not give one (a bug of
    /// the table, caught by the tests) or an unset one.
    fn take<T>(
        &self,
        name: &'static str,
        as_t: impl FnOnce(Value) -> Option<T>,
    ) -> Result<Sourced<T>, ConfigError> {
        let v = self
            .get(name)
            .ok_or_else(|| ConfigError::new(name, "unset"))?;
        let source = v.source.clone();
        as_t(v.value.clone())
            .map(|t| Sourced::new(t, source))
            .ok_or_else(|| ConfigError::new(name, "the settings table reads it as another kind"))
    }

    /// A text setting.
    fn text(&self, name: &'static str) -> Result<Sourced<String>, ConfigError> {
        self.take(name, |v| match v {
            Value::Text(s) => Some(s),
            _ => None,
        })
    }

    /// A path setting.
    fn path(&self, name: &'static str) -> Result<Sourced<PathBuf>, ConfigError> {
        self.take(name, |v| match v {
            Value::Path(p) => Some(p),
            _ => None,
        })
    }

    /// A secret setting.
    fn secret(&self, name: &'static str) -> Result<Sourced<SecretString>, ConfigError> {
        self.take(name, |v| match v {
            Value::Secret(s) => Some(s),
            _ => None,
        })
    }

    /// A true/false setting.
    fn flag(&self, name: &'static str) -> Result<Sourced<bool>, ConfigError> {
        self.take(name, |v| match v {
            Value::Bool(b) => Some(b),
            _ => None,
        })
    }
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

    /// Validate raw values into the settings of the tenant `name`: each given value read as its
    /// key's kind says, each unset one its kind's default; the endpoints follow the cloud.
    pub(super) fn resolve(
        name: &str,
        v: Raw,
        warnings: Vec<String>,
    ) -> Result<Settings, ConfigError> {
        let mut table = Table::default();
        for key in &KEYS {
            let value = match v.get(key.name) {
                Some((raw, src)) => Some(Sourced::new(
                    key.kind.read(key.name, raw).map_err(|r| ConfigError {
                        field: key.name.into(),
                        value: Some(match r.shown {
                            Some(shown) => shown,
                            None if key.secret => "[redacted]".into(),
                            None => raw.clone(),
                        }),
                        origin: Some(src.clone()),
                        problem: r.problem,
                    })?,
                    src.clone(),
                )),
                None => key
                    .kind
                    .default_value()
                    .map(|d| Sourced::new(d, Source::Default)),
            };
            table.0.push((key, value));
        }
        table.follow_the_cloud();
        Ok(Settings {
            name: name.to_string(),
            cloud: table.take("cloud", |v| match v {
                Value::Cloud(c) => Some(c),
                _ => None,
            })?,
            api_root: table.text("api_root")?,
            login_endpoint: table.text("login_endpoint")?,
            tenant_id: table.text("tenant_id").ok(),
            client_id: table.text("client_id").ok(),
            client_secret: table.secret("client_secret").ok(),
            client_secret_file: table.path("client_secret_file").ok(),
            client_secret_env: table.text("client_secret_env").ok(),
            certificate_path: table.path("certificate_path").ok(),
            certificate_password: table.secret("certificate_password").ok(),
            verify_ssl: table.flag("verify_ssl")?,
            repair_gaps: table.flag("repair_gaps")?,
            backfill_since: table
                .take("backfill_since", |v| match v {
                    Value::Duration(d) => Some(d),
                    _ => None,
                })
                .ok(),
            ca_file: table.path("ca_file").ok(),
            proxy: table.secret("proxy").ok(),
            publisher_id: table.text("publisher_id").ok(),
            graph_root: table.text("graph_root").ok(),
            content_types: table.take("content_types", |v| match v {
                Value::ContentTypes(t) => Some(t),
                _ => None,
            })?,
            scopes: table.take("scopes", |v| match v {
                Value::List(l) => Some(l),
                _ => None,
            })?,
            state: table.path("state").ok(),
            requests_per_minute: table.take("requests_per_minute", |v| match v {
                Value::Number(n) => u32::try_from(n).ok(),
                _ => None,
            })?,
            timeout: table.take("timeout_secs", |v| match v {
                Value::Number(n) => Some(Duration::from_secs(n)),
                _ => None,
            })?,
            warnings,
            table,
        })
    }

    /// The tenant, or an error saying how to set it.
    pub fn tenant(&self) -> Result<&str, ConfigError> {
        self.tenant_id
            .as_ref()
            .map(|t| t.value.as_str())
            .ok_or_else(|| missing("tenant_id", "the tenant GUID (Azure Active Directory ID) or a verified domain such as contoso.onmicrosoft.com"))
    }

    /// Every setting with its origin, secrets redacted.
    pub fn show(&self) -> Vec<ShownValue> {
        KEYS.iter()
            .map(|k| {
                let (value, source) = match self.table.get(k.name) {
                    Some(v) => (Some(v.value.shown(k.kind)), v.source.to_string()),
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
