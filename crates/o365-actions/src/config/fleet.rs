//! Many tenants in one configuration: the top level is the `default` tenant (and the connection
//! settings every `[[tenants]]` table inherits); each table is a tenant of its own.

use super::loader::{Loader, Raw};
use super::{ConfigError, Key, Scope, Settings, Source};

/// The name of the tenant the top-level settings describe.
pub const DEFAULT_TENANT: &str = "default";

/// One `[[tenants]]` table, as read.
#[derive(Debug, Clone)]
pub struct TenantTable {
    /// Its name.
    pub name: String,
    /// Its own values.
    pub(super) values: Raw,
}

/// Every tenant of a configuration.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The tenants, `default` first when there is one.
    pub tenants: Vec<Settings>,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

impl Fleet {
    /// The tenant of this name.
    pub fn get(&self, name: &str) -> Option<&Settings> {
        self.tenants.iter().find(|t| t.name == name)
    }
}

/// A short name: letters, digits, `-` and `_`, at most 64.
fn check_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            field: "tenants.name".into(),
            value: Some(name.into()),
            origin: None,
            problem: "use 1 to 64 letters, digits, - or _ (it names the tenant in commands, metrics and logs)".into(),
        })
    }
}

/// The values of a `[[tenants]]` table: the top level's connection and global settings, its
/// own values over them, and, when it is the selected tenant, the environment's and flags'
/// tenant settings over those.
fn tenant_values(top: &Raw, t: &TenantTable, selected: bool) -> Raw {
    let mut raw: Raw = top
        .iter()
        .filter(|(k, _)| Key::named(k).is_some_and(|k| k.scope != Scope::Tenant))
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    raw.extend(t.values.iter().map(|(k, v)| (*k, v.clone())));
    if selected {
        raw.extend(
            top.iter()
                .filter(|(_, (_, s))| matches!(s, Source::Env(_) | Source::Flag(_)))
                .map(|(k, v)| (*k, v.clone())),
        );
    }
    raw
}

fn check(l: &Loader) -> Result<(), ConfigError> {
    if let Some(e) = l.errors.first() {
        return Err(e.clone());
    }
    let mut seen = std::collections::HashSet::new();
    for t in &l.tenants {
        check_name(&t.name)?;
        if t.name == DEFAULT_TENANT {
            return Err(ConfigError {
                field: "tenants.name".into(),
                value: Some(t.name.clone()),
                origin: None,
                problem:
                    "\"default\" names the tenant of the top-level settings: choose another name"
                        .into(),
            });
        }
        if !seen.insert(t.name.as_str()) {
            return Err(ConfigError {
                field: "tenants.name".into(),
                value: Some(t.name.clone()),
                origin: None,
                problem: "two [[tenants]] have this name: names must be unique".into(),
            });
        }
    }
    Ok(())
}

/// One tenant: the selected one, else the only one, else `default`.
pub(super) fn resolve_one(l: Loader) -> Result<Settings, ConfigError> {
    check(&l)?;
    let names = l.tenant_names();
    let name = match &l.selected {
        Some(n) => n.clone(),
        None if names.len() == 1 => names[0].clone(),
        None if l.has_default() => DEFAULT_TENANT.to_string(),
        None => {
            return Err(ConfigError::new(
                "--tenant",
                format!(
                    "several tenants are configured: choose one with --tenant NAME ({})",
                    names.join(", ")
                ),
            ))
        }
    };
    let raw = if name == DEFAULT_TENANT && l.has_default() {
        l.values.clone()
    } else {
        match l.tenants.iter().find(|t| t.name == name) {
            Some(t) => tenant_values(&l.values, t, true),
            None => {
                return Err(ConfigError {
                    field: "--tenant".into(),
                    value: Some(name.clone()),
                    origin: None,
                    problem: format!(
                        "no such tenant{}; configured: {}",
                        super::did_you_mean(&name, names.iter().map(String::as_str)),
                        names.join(", ")
                    ),
                })
            }
        }
    };
    let mut warnings = l.warnings.clone();
    warnings.extend(l.unused_soar());
    Settings::resolve(&name, raw, warnings)
}

/// Every tenant.
pub(super) fn resolve_all(l: Loader) -> Result<Fleet, ConfigError> {
    check(&l)?;
    let mut tenants = Vec::new();
    if l.has_default() {
        tenants.push(Settings::resolve(DEFAULT_TENANT, l.values.clone(), vec![])?);
    }
    for t in &l.tenants {
        let raw = tenant_values(&l.values, t, false);
        tenants.push(Settings::resolve(&t.name, raw, vec![])?);
    }
    let mut warnings = l.warnings.clone();
    warnings.extend(l.unused_soar());
    // One tenant configured twice (its GUID in another case, spaces around it) at one service
    // would be collected twice, by two producers that never fence each other.
    let id = |s: &Settings| {
        s.tenant_id.as_ref().map(|t| {
            (
                s.api_root
                    .value
                    .trim()
                    .trim_end_matches('/')
                    .to_ascii_lowercase(),
                t.value.trim().to_ascii_lowercase(),
            )
        })
    };
    for (i, a) in tenants.iter().enumerate() {
        for b in &tenants[i + 1..] {
            if let (Some(x), Some(y)) = (id(a), id(b)) {
                if x == y {
                    return Err(ConfigError::new(
                        "tenants",
                        format!(
                            "{} and {} are the same tenant ({} at {}): each event would be collected twice; keep one of them{}",
                            a.name, b.name, x.1, x.0,
                            if a.name == DEFAULT_TENANT {
                                format!(" (\"{DEFAULT_TENANT}\" is the tenant_id at the top level of the configuration, or O365_TENANT_ID: unset it to run only the [[tenants]] tables)")
                            } else {
                                String::new()
                            }
                        ),
                    ));
                }
            }
        }
    }
    Ok(Fleet { tenants, warnings })
}
