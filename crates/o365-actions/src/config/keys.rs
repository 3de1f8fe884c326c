//! Every setting, declared once: its TOML key, environment variable, flag, name in the existing
//! SOAR integration, kind (how it is read, its default and range) and help. The CLI builds its
//! flags from this table, the settings are read by it, `config show` its rows, and errors their
//! hints.

use super::value::Kind;

/// Where a setting may be given, and whether `[[tenants]]` inherit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// For the whole process (top level, environment, flags), never in `[[tenants]]`.
    Global,
    /// How to reach the service: may be set per tenant; the top-level value is inherited.
    Connection,
    /// Who the tenant is and how it signs in: per tenant, never inherited.
    Tenant,
}

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// The placeholder in `--help`.
    pub value_name: &'static str,
    /// The default in words, where the kind's own would say less ("from the cloud").
    pub words: Option<&'static str>,
    /// What it is, for `--help`, `config show` and errors.
    pub help: &'static str,
    /// How its value is read, its default and range.
    pub kind: Kind,
    /// Where it may be given.
    pub scope: Scope,
}

impl Key {
    /// The key of this name.
    pub fn named(name: &str) -> Option<&'static Key> {
        KEYS.iter().find(|k| k.name == name)
    }

    /// The key behind an environment variable.
    pub fn by_env(var: &str) -> Option<&'static Key> {
        KEYS.iter().find(|k| k.env == var)
    }

    /// The key behind a parameter name of the existing integration (any case), or a TOML key.
    pub fn by_soar_name(name: &str) -> Option<&'static Key> {
        let n = name.trim();
        KEYS.iter()
            .find(|k| k.soar.is_some_and(|s| s.eq_ignore_ascii_case(n)) || k.name == n)
    }

    /// The default as `--help` says it: in words where the table gives them, else the kind's.
    pub fn default_shown(&self) -> Option<String> {
        match self.words {
            Some(w) => Some(w.to_string()),
            None => self.kind.default_shown(),
        }
    }

    /// "Set `x` in the config file, O365_X or --x."
    pub fn how_to_set(&self) -> String {
        format!(
            "Set `{}` in the config file, {} or {}",
            self.name, self.env, self.flag
        )
    }
}

/// Every setting, in display order.
pub const KEYS: [Key; 22] = [
    Key {
        name: "cloud",
        env: "O365_CLOUD",
        flag: "--cloud",
        soar: None,
        secret: false,
        value_name: "CLOUD",
        words: None,
        help: "Cloud: commercial, gcc, gcc-high or dod (sets the API root and login endpoint)",
        kind: Kind::Cloud,
        scope: Scope::Connection,
    },
    Key {
        name: "api_root",
        env: "O365_API_ROOT",
        flag: "--api-root",
        soar: Some("Api Root"),
        secret: false,
        value_name: "URL",
        words: Some("from the cloud"),
        help: "Activity API root, also the OAuth resource (https://, or http:// on loopback)",
        kind: Kind::Endpoint,
        scope: Scope::Connection,
    },
    Key {
        name: "login_endpoint",
        env: "O365_LOGIN_ENDPOINT",
        flag: "--login-endpoint",
        soar: Some("OAUTH2 Login Endpoint Url"),
        secret: false,
        value_name: "URL",
        words: Some("from the cloud"),
        help: "Entra ID login endpoint",
        kind: Kind::Endpoint,
        scope: Scope::Connection,
    },
    Key {
        name: "graph_root",
        env: "O365_GRAPH_ROOT",
        flag: "--graph-root",
        soar: None,
        secret: false,
        value_name: "URL",
        words: Some("from the cloud"),
        help: "Microsoft Graph root, also its OAuth resource: the audit search that backfills beyond 7 days (https://, or http:// on loopback)",
        kind: Kind::Text,
        scope: Scope::Connection,
    },
    Key {
        name: "tenant_id",
        env: "O365_TENANT_ID",
        flag: "--tenant-id",
        soar: Some("Azure Active Directory ID"),
        secret: false,
        value_name: "ID",
        words: None,
        help: "Tenant GUID or verified domain (Azure Active Directory ID)",
        kind: Kind::Text,
        scope: Scope::Tenant,
    },
    Key {
        name: "client_id",
        env: "O365_CLIENT_ID",
        flag: "--client-id",
        soar: Some("Client ID"),
        secret: false,
        value_name: "ID",
        words: None,
        help: "Application (client) ID",
        kind: Kind::Text,
        scope: Scope::Tenant,
    },
    Key {
        name: "client_secret",
        env: "O365_CLIENT_SECRET",
        flag: "--client-secret",
        soar: Some("Client Secret"),
        secret: true,
        value_name: "SECRET",
        words: None,
        help: "Client secret value. Prefer O365_CLIENT_SECRET or the config file: a flag is visible in the process list",
        kind: Kind::Secret,
        scope: Scope::Tenant,
    },
    Key {
        name: "client_secret_file",
        env: "O365_CLIENT_SECRET_FILE",
        flag: "--client-secret-file",
        soar: None,
        secret: false,
        value_name: "FILE",
        words: None,
        help: "File holding the client secret value (keep it private: chmod 600)",
        kind: Kind::Path,
        scope: Scope::Tenant,
    },
    Key {
        name: "client_secret_env",
        env: "O365_CLIENT_SECRET_ENV",
        flag: "--client-secret-env",
        soar: None,
        secret: false,
        value_name: "VAR",
        words: None,
        help: "Name of an environment variable holding the client secret value",
        kind: Kind::Text,
        scope: Scope::Tenant,
    },
    Key {
        name: "certificate_path",
        env: "O365_CERTIFICATE_PATH",
        flag: "--certificate-path",
        soar: Some("Certificate Path"),
        secret: false,
        value_name: "FILE",
        words: None,
        help: "Certificate: .pfx/.p12, or PEM holding the certificate and its private key",
        kind: Kind::Path,
        scope: Scope::Tenant,
    },
    Key {
        name: "certificate_password",
        env: "O365_CERTIFICATE_PASSWORD",
        flag: "--certificate-password",
        soar: Some("Certificate Password"),
        secret: true,
        value_name: "PASSWORD",
        words: None,
        help: "Password of the .pfx/.p12. Prefer O365_CERTIFICATE_PASSWORD: a flag is visible in the process list",
        kind: Kind::Secret,
        scope: Scope::Tenant,
    },
    Key {
        name: "backfill_since",
        env: "O365_BACKFILL_SINCE",
        flag: "--backfill-since",
        soar: None,
        secret: false,
        value_name: "DURATION",
        words: None,
        help: "serve: also backfill this far back (e.g. 90d) from Graph's audit search, beside the feed, each event once (needs AuditLogsQuery.Read.All)",
        kind: Kind::Duration { min_hours: 1 },
        scope: Scope::Connection,
    },
    Key {
        name: "repair_gaps",
        env: "O365_REPAIR_GAPS",
        flag: "--repair-gaps",
        soar: None,
        secret: false,
        value_name: "BOOL",
        words: None,
        help: "serve: fill the tenant's closed data gaps from Graph's audit search as they are recorded (true/false; needs AuditLogsQuery.Read.All)",
        kind: Kind::Bool { default: false },
        scope: Scope::Connection,
    },
    Key {
        name: "verify_ssl",
        env: "O365_VERIFY_SSL",
        flag: "--verify-ssl",
        soar: Some("Verify SSL"),
        secret: false,
        value_name: "BOOL",
        words: None,
        help: "Verify TLS certificates (true/false)",
        kind: Kind::Bool { default: true },
        scope: Scope::Connection,
    },
    Key {
        name: "ca_file",
        env: "O365_CA_FILE",
        flag: "--ca-file",
        soar: None,
        secret: false,
        value_name: "FILE",
        words: None,
        help: "PEM file of CA certificates to trust besides the built-in roots and the system's store (a private CA, a TLS-inspecting proxy's)",
        kind: Kind::Path,
        scope: Scope::Connection,
    },
    Key {
        name: "proxy",
        env: "O365_PROXY",
        flag: "--proxy",
        soar: None,
        secret: true,
        value_name: "URL",
        words: None,
        help: "Proxy for every request, http://[user:password@]host:port (instead of HTTPS_PROXY / HTTP_PROXY; NO_PROXY still applies). Prefer O365_PROXY when it holds a password",
        kind: Kind::Proxy,
        scope: Scope::Connection,
    },
    Key {
        name: "publisher_id",
        env: "O365_PUBLISHER_ID",
        flag: "--publisher-id",
        soar: None,
        secret: false,
        value_name: "ID",
        words: Some("the tenant GUID from the token"),
        help: "PublisherIdentifier sent on every call: a GUID (the publishing tenant's), never a domain",
        kind: Kind::Text,
        scope: Scope::Tenant,
    },
    Key {
        name: "content_types",
        env: "O365_CONTENT_TYPES",
        flag: "--content-types",
        soar: None,
        secret: false,
        value_name: "LIST",
        words: Some("all five"),
        help: "Content types to collect for the tenant (comma-separated in env and flags)",
        kind: Kind::ContentTypes,
        scope: Scope::Tenant,
    },
    Key {
        name: "scopes",
        env: "O365_SCOPES",
        flag: "--scopes",
        soar: None,
        secret: false,
        value_name: "LIST",
        words: Some("the five standard scopes"),
        help: "Allowed case scopes (comma-separated in env and flags)",
        kind: Kind::List { default: &super::DEFAULT_SCOPES },
        scope: Scope::Global,
    },
    Key {
        name: "state",
        env: "O365_STATE",
        flag: "--state",
        soar: None,
        secret: false,
        value_name: "PATH",
        words: Some("the user data dir's o365mgmt/state.sqlite"),
        help: "SQLite state file: action journal and data-gap ledger (`:memory:` keeps nothing)",
        kind: Kind::Path,
        scope: Scope::Global,
    },
    Key {
        name: "requests_per_minute",
        env: "O365_REQUESTS_PER_MINUTE",
        flag: "--max-requests-per-minute",
        soar: None,
        secret: false,
        value_name: "N",
        words: None,
        help: "Request budget per tenant and minute",
        kind: Kind::Number {
            default: o365_api::DEFAULT_REQUESTS_PER_MINUTE as u64,
            min: 1,
            max: 1_000_000,
        },
        scope: Scope::Connection,
    },
    Key {
        name: "timeout_secs",
        env: "O365_TIMEOUT_SECS",
        flag: "--timeout-secs",
        soar: None,
        secret: false,
        value_name: "SECONDS",
        words: None,
        help: "Timeout of one HTTP request, in seconds",
        kind: Kind::Number {
            default: o365_api::DEFAULT_TIMEOUT_SECS,
            min: 1,
            max: 3600,
        },
        scope: Scope::Connection,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_envs_and_flags_are_unique_and_consistent() {
        for (i, a) in KEYS.iter().enumerate() {
            assert!(a.flag.starts_with("--"), "{}", a.name);
            assert!(a.env.starts_with("O365_"), "{}", a.name);
            assert_eq!(a.env, format!("O365_{}", a.name.to_ascii_uppercase()));
            for b in &KEYS[i + 1..] {
                assert!(a.name != b.name && a.env != b.env && a.flag != b.flag);
            }
        }
    }
}
