//! Where a value came from.

use std::path::PathBuf;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// Derived from `cloud`.
    Cloud,
    /// Inferred from `api_root` on one of the clouds' hosts.
    ApiRoot,
    /// A TOML configuration file.
    File(PathBuf),
    /// A `[[tenants]]` table of a TOML configuration file.
    Tenant {
        /// The file.
        file: PathBuf,
        /// The tenant's name.
        name: String,
    },
    /// A JSON export of the existing SOAR integration.
    SoarConfig(PathBuf),
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

impl Source {
    /// How strongly a value from here overrides others: a flag over the environment over the
    /// files (and the SOAR export), which are over what is built in or derived.
    pub fn rank(&self) -> u8 {
        match self {
            Source::Flag(_) => 3,
            Source::Env(_) => 2,
            Source::File(_) | Source::Tenant { .. } | Source::SoarConfig(_) => 1,
            Source::Default | Source::Cloud | Source::ApiRoot => 0,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Cloud => f.write_str("derived from cloud"),
            Source::ApiRoot => f.write_str("inferred from api_root"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Tenant { file, name } => {
                write!(f, "file {} [[tenants]] {name}", file.display())
            }
            Source::SoarConfig(p) => write!(f, "--soar-config {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(n) => write!(f, "flag {n}"),
        }
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
    /// A value from `source`.
    pub fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}
