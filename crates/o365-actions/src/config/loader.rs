//! Collecting raw values from every layer; [`Loader::resolve`] validates them.

use std::collections::BTreeMap;
use std::path::Path;

use super::fleet::TenantTable;
use super::{did_you_mean, ConfigError, Key, Scope, Settings, Source, KEYS};

/// Raw values by setting, with their origin.
pub(super) type Raw = BTreeMap<&'static str, (String, Source)>;

/// Collects raw values from every layer, later layers winning.
#[derive(Debug, Default)]
pub struct Loader {
    /// The top level: the file's top-level keys, the SOAR export, the environment, flags.
    pub(super) values: Raw,
    /// The file's `[[tenants]]`.
    pub(super) tenants: Vec<TenantTable>,
    /// The tenant asked for with `--tenant`.
    pub(super) selected: Option<String>,
    pub(super) warnings: Vec<String>,
    /// Problems found while loading, reported by `resolve`.
    pub(super) errors: Vec<ConfigError>,
    /// Top-level tables of the file owned by a command (`[alerts]`).
    sections: BTreeMap<String, (toml::Table, std::path::PathBuf)>,
    /// Parameters of the SOAR export unknown to the actions, with the file: a command may
    /// claim them (the connectors' parameters); the rest are warned about.
    soar_other: Vec<(String, String, std::path::PathBuf)>,
    /// Which of `soar_other` a command claimed.
    soar_claimed: Option<fn(&str) -> bool>,
}

/// Top-level tables of the config file that belong to a command rather than to the settings.
pub const SECTIONS: [&str; 1] = ["alerts"];

/// A file's text, read with a size cap.
fn read_text(path: &Path, field: &str) -> Result<String, ConfigError> {
    let bytes = o365_api::limits::read_file_capped(path)
        .map_err(|e| ConfigError::new(field, format!("cannot read it: {e}")))?;
    String::from_utf8(bytes).map_err(|_| ConfigError::new(field, "not UTF-8 text"))
}

impl Loader {
    /// An empty loader (defaults only).
    pub fn new() -> Self {
        Self::default()
    }

    /// Set one value from a layer; later calls win. From a file an empty string counts as unset;
    /// from the environment or a flag it is an error (a failed shell substitution must not fall
    /// back to a default, such as the commercial cloud, and send credentials there).
    pub fn set(&mut self, name: &str, value: impl Into<String>, source: Source) {
        let v = value.into();
        let Some(k) = Key::named(name) else {
            return;
        };
        if !v.trim().is_empty() {
            self.values.insert(k.name, (v, source));
        } else if matches!(source, Source::Env(_) | Source::Flag(_)) {
            self.errors.push(ConfigError {
                field: k.name.into(),
                value: Some(String::new()),
                origin: Some(source),
                problem: format!(
                    "empty: give a value or leave {} unset (an empty value is usually a failed shell substitution)",
                    k.env
                ),
            });
        }
    }

    /// Read a TOML file. Unknown keys are errors (with a did-you-mean).
    pub fn toml_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let field = format!("config file {}", path.display());
        let text = read_text(path, &field)?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::new(&field, format!("not valid TOML: {}", e.message()))
        })?;
        let mut holds_secret = false;
        for (k, v) in &table {
            if k == "tenants" {
                holds_secret |= self.tenant_tables(v, path)?;
                continue;
            }
            if SECTIONS.contains(&k.as_str()) {
                let Some(t) = v.as_table() else {
                    return Err(ConfigError::new(
                        &field,
                        format!("`{k}` must be a table: write it as [{k}] followed by its keys"),
                    ));
                };
                self.sections.insert(k.clone(), (t.clone(), path.into()));
                continue;
            }
            let Some(key) = Key::named(k) else {
                return Err(ConfigError::new(
                    &field,
                    format!(
                        "unknown key {k:?}{}; known keys: {}, [[tenants]] and [alerts]",
                        // `tenants` takes tables: suggest it only for an array.
                        did_you_mean(
                            k,
                            KEYS.iter()
                                .map(|k| k.name)
                                .chain(v.is_array().then_some("tenants"))
                        ),
                        KEYS.map(|k| k.name).join(", ")
                    ),
                ));
            };
            let s = toml_value(key, v, Source::File(path.into()))?;
            holds_secret |= key.secret && !s.is_empty();
            self.set(key.name, s, Source::File(path.into()));
        }
        if holds_secret {
            self.check_private(path);
        }
        Ok(())
    }

    /// The `[[tenants]]` array of a TOML file; whether any holds a secret.
    fn tenant_tables(&mut self, v: &toml::Value, path: &Path) -> Result<bool, ConfigError> {
        let field = format!("config file {}", path.display());
        let shape = "write each tenant as a [[tenants]] table with a name, e.g. [[tenants]] name = \"contoso\" tenant_id = \"...\"";
        let Some(items) = v.as_array() else {
            return Err(ConfigError::new(
                field,
                format!("`tenants` must be an array of tables: {shape}"),
            ));
        };
        let mut holds_secret = false;
        for (i, item) in items.iter().enumerate() {
            let Some(table) = item.as_table() else {
                return Err(ConfigError::new(
                    &field,
                    format!("tenants[{i}] is not a table: {shape}"),
                ));
            };
            let name = match table.get("name") {
                Some(toml::Value::String(s)) => s.trim().to_string(),
                _ => {
                    return Err(ConfigError::new(
                        &field,
                        format!(
                            "tenants[{i}] needs a name (a short unique word such as \"contoso\")"
                        ),
                    ))
                }
            };
            let mut values = Raw::new();
            for (k, v) in table {
                if k == "name" {
                    continue;
                }
                let key = match Key::named(k) {
                    Some(key) if key.scope != Scope::Global => key,
                    Some(key) => {
                        return Err(ConfigError::new(
                            format!("{field} [[tenants]] {name}"),
                            format!("{} is set once for the whole process, at the top level of the file, not per tenant", key.name),
                        ))
                    }
                    None => {
                        return Err(ConfigError::new(
                            format!("{field} [[tenants]] {name}"),
                            format!(
                                "unknown key {k:?}{}; a tenant takes name and {}",
                                did_you_mean(k, KEYS.iter().filter(|k| k.scope != Scope::Global).map(|k| k.name)),
                                KEYS.iter().filter(|k| k.scope != Scope::Global).map(|k| k.name).collect::<Vec<_>>().join(", ")
                            ),
                        ))
                    }
                };
                let source = Source::Tenant {
                    file: path.into(),
                    name: name.clone(),
                };
                let s = toml_value(key, v, source.clone())?;
                holds_secret |= key.secret && !s.is_empty();
                if !s.trim().is_empty() {
                    values.insert(key.name, (s, source));
                }
            }
            self.tenants.push(TenantTable { name, values });
        }
        Ok(holds_secret)
    }

    /// Use this tenant (`--tenant NAME`): single-tenant commands run for it, and environment
    /// variables and flags apply to it.
    pub fn select(&mut self, name: &str) {
        self.selected = Some(name.trim().to_string());
    }

    /// The tenants configured: `default` (top-level settings) and every `[[tenants]]` name.
    pub fn tenant_names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.has_default() {
            v.push(super::DEFAULT_TENANT.to_string());
        }
        v.extend(self.tenants.iter().map(|t| t.name.clone()));
        v
    }

    /// Whether the top level describes a tenant (or there is nothing else).
    pub(super) fn has_default(&self) -> bool {
        self.tenants.is_empty() || self.values.contains_key("tenant_id")
    }

    /// Read a JSON export of the existing SOAR integration (keys are its parameter names).
    pub fn soar_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let field = format!("--soar-config {}", path.display());
        let text = read_text(path, &field)?;
        let pairs = super::soar::pairs(&text, &field)?;
        let mut holds_secret = false;
        for (name, value) in pairs {
            let s = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            let Some(key) = Key::by_soar_name(&name) else {
                self.soar_other.push((name, s, path.into()));
                continue;
            };
            holds_secret |= key.secret && !s.is_empty();
            self.set(key.name, s, Source::SoarConfig(path.into()));
        }
        if holds_secret {
            self.check_private(path);
        }
        Ok(())
    }

    /// A command's table of the config file (`[alerts]`), with the file it is in.
    pub fn section(&self, name: &str) -> Option<&(toml::Table, std::path::PathBuf)> {
        self.sections.get(name)
    }

    /// The SOAR export's parameters that `claims` recognises (a command's own), as
    /// `(name, value)`; the others are still warned about when the settings are resolved.
    pub fn claim_soar(&mut self, claims: fn(&str) -> bool) -> Vec<(String, String)> {
        self.soar_claimed = Some(claims);
        self.soar_other
            .iter()
            .filter(|(n, _, _)| claims(n))
            .map(|(n, v, _)| (n.clone(), v.clone()))
            .collect()
    }

    /// Warnings for the SOAR export's parameters nobody uses.
    pub(super) fn unused_soar(&self) -> Vec<String> {
        self.soar_other
            .iter()
            .filter(|(n, _, _)| !self.soar_claimed.is_some_and(|c| c(n)))
            .map(|(name, _, path)| {
                format!(
                    "--soar-config {}: ignoring unknown parameter {name:?}{}",
                    path.display(),
                    did_you_mean(name, KEYS.iter().filter_map(|k| k.soar))
                )
            })
            .collect()
    }

    /// Take `O365_*` variables from an environment.
    pub fn env<I: IntoIterator<Item = (String, String)>>(&mut self, vars: I) {
        for (k, v) in vars {
            if let Some(key) = Key::by_env(&k) {
                self.set(key.name, v, Source::Env(key.env));
            }
        }
    }

    fn check_private(&mut self, path: &Path) {
        if let Some(mode) = o365_store::files::readable_by_others(path) {
            self.warnings.push(format!(
                "{} holds a secret and other users can read it (mode {mode:04o}): run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }

    /// Validate every value and build the settings of one tenant: the one selected with
    /// [`Loader::select`], else the only one, else `default`.
    pub fn resolve(self) -> Result<Settings, ConfigError> {
        super::fleet::resolve_one(self)
    }

    /// Validate every value and build the settings of every tenant.
    pub fn resolve_all(self) -> Result<super::Fleet, ConfigError> {
        super::fleet::resolve_all(self)
    }
}

/// A TOML value as the text the other layers give.
fn toml_value(key: &Key, v: &toml::Value, source: Source) -> Result<String, ConfigError> {
    let bad = |v: &toml::Value, problem: String| ConfigError {
        field: key.name.into(),
        value: Some(if key.secret {
            "[redacted]".into()
        } else {
            v.to_string()
        }),
        origin: Some(source.clone()),
        problem,
    };
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(a) if key.name == "scopes" || key.name == "content_types" => {
            let mut out = Vec::new();
            for item in a {
                match item {
                    toml::Value::String(s) => out.push(s.clone()),
                    other => {
                        return Err(bad(
                            other,
                            format!("every item of {} must be a string", key.name),
                        ))
                    }
                }
            }
            out.join(",")
        }
        other => return Err(bad(other, format!("expected a string ({})", key.help))),
    })
}
