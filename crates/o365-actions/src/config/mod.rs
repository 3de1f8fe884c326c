//! Configuration of one integration instance (one tenant): TOML file, a SOAR export, `O365_*`
//! environment variables and flags, with the origin of every value kept for `config show`.
//!
//! Precedence, lowest first: defaults < TOML file < `--soar-config` export < environment < flags.

mod client;
mod fleet;
mod keys;
mod loader;
mod settings;
mod soar;
mod source;
mod value;

use std::path::PathBuf;

pub use fleet::{Fleet, DEFAULT_TENANT};
pub use keys::{Key, Scope, KEYS};
pub use loader::Loader;
pub use o365_api::is_guid;
pub use settings::{Settings, ShownValue};
pub use source::{Source, Sourced};
pub use value::{Kind, Refused, Value};

/// Scopes every instance accepts unless the configuration lists others.
pub const DEFAULT_SCOPES: [&str; 5] = [
    "All entities",
    "Suspicious entities",
    "Non-suspicious entities",
    "All internal entities",
    "All external entities",
];

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
    /// An error about a setting or file, without a value.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            value: None,
            origin: None,
            problem: problem.into(),
        }
    }

    /// A required setting is missing.
    pub fn missing(key: &Key, what: &str) -> Self {
        Self::new(key.name, format!("required: {what}. {}", key.how_to_set()))
    }
}

/// `(did you mean "x"?)`, or nothing.
pub(crate) fn did_you_mean<'a>(given: &str, options: impl IntoIterator<Item = &'a str>) -> String {
    crate::suggest::closest(given, options)
        .map(|o| format!(" (did you mean {o:?}?)"))
        .unwrap_or_default()
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
