//! The API client a configuration builds: its credentials (the secret from wherever it was
//! given, or the certificate), whom it trusts and how it gets out.

use o365_api::{Certificate, Client, Credentials};
use secrecy::{ExposeSecret as _, SecretString};

use super::settings::missing;
use super::{ConfigError, Settings, Source, Sourced};

impl Settings {
    /// Build the API client for this instance (default retry policy: for long-running work).
    pub fn client(&self) -> Result<Client, ConfigError> {
        self.client_with(o365_api::RetryPolicy::default())
    }

    /// Whom HTTP clients of these settings trust and how they get out (`ca_file`, `proxy`,
    /// `verify_ssl`): the API client's rules, for every other client too (the alerts' webhook).
    pub fn trust(&self) -> Result<o365_api::Trust, ConfigError> {
        let ca_pem = match &self.ca_file {
            Some(f) => {
                Some(
                    o365_api::limits::read_file_capped(&f.value).map_err(|e| ConfigError {
                        field: "ca_file".into(),
                        value: Some(f.value.display().to_string()),
                        origin: Some(f.source.clone()),
                        problem: format!(
                            "cannot read it ({e}): give a readable PEM file of CA certificates"
                        ),
                    })?,
                )
            }
            None => None,
        };
        Ok(o365_api::Trust {
            ca_pem,
            proxy: self
                .proxy
                .as_ref()
                .map(|p| p.value.expose_secret().to_string()),
            insecure: !self.verify_ssl.value,
        })
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
        let secret = self.secret()?;
        let creds = match (secret, &self.certificate_path) {
            // Both given: the one from the higher layer (a flag over the environment over a
            // file) wins; from the same layer the secret wins, as in the integration. The
            // other is not ignored silently.
            (Some(s), Some(p)) if p.source.rank() <= s.source.rank() => {
                tracing::warn!(
                    secret_from = %s.source,
                    certificate_from = %p.source,
                    "both a client secret and a certificate are configured: the secret is used, the certificate_path is ignored (remove one)"
                );
                Credentials::Secret(s.value)
            }
            (Some(s), None) => Credentials::Secret(s.value),
            (secret, Some(p)) => {
                if let Some(s) = &secret {
                    tracing::warn!(
                        secret_from = %s.source,
                        certificate_from = %p.source,
                        "both a client secret and a certificate are configured: the certificate_path (given in a higher layer) is used, the secret is ignored (remove one)"
                    );
                }
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
        if let Some(g) = &self.graph_root {
            b = b.graph_root(&g.value);
        }
        let trust = self.trust()?;
        if let Some(p) = trust.proxy {
            b = b.proxy(p);
        }
        if let Some(pem) = trust.ca_pem {
            b = b.ca_pem(pem);
        }
        b.build().map_err(|e| match e {
            o365_api::Error::Config {
                field: "ca_file",
                problem,
                ..
            } => ConfigError {
                field: "ca_file".into(),
                value: self.ca_file.as_ref().map(|f| f.value.display().to_string()),
                origin: self.ca_file.as_ref().map(|f| f.source.clone()),
                problem,
            },
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

    /// The client secret: inline, else read from its file, else from its variable. A file
    /// that others can read is refused with the fix (it holds a secret).
    pub fn secret(&self) -> Result<Option<Sourced<SecretString>>, ConfigError> {
        // Given in more than one way: the higher layer wins; two in one layer are refused.
        let given: Vec<(&str, &Source)> = [
            (
                "client_secret",
                self.client_secret.as_ref().map(|s| &s.source),
            ),
            (
                "client_secret_file",
                self.client_secret_file.as_ref().map(|s| &s.source),
            ),
            (
                "client_secret_env",
                self.client_secret_env.as_ref().map(|s| &s.source),
            ),
        ]
        .into_iter()
        .filter_map(|(k, s)| Some((k, s?)))
        .collect();
        let top = given.iter().map(|(_, s)| s.rank()).max().unwrap_or(0);
        let winners: Vec<&(&str, &Source)> =
            given.iter().filter(|(_, s)| s.rank() == top).collect();
        if let [(a, sa), (b, _), ..] = winners[..] {
            return Err(ConfigError {
                field: format!("{a} / {b}"),
                value: None,
                origin: Some((*sa).clone()),
                problem: format!(
                    "the client secret is given twice ({a} and {b}, both from {sa}): keep one of them"
                ),
            });
        }
        let chosen = winners.first().map(|(k, _)| *k);
        if let (Some(s), Some("client_secret")) = (&self.client_secret, chosen) {
            return Ok(Some(s.clone()));
        }
        if let (Some(f), Some("client_secret_file")) = (&self.client_secret_file, chosen) {
            let text = o365_api::limits::read_file_capped(&f.value)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ConfigError {
                    field: "client_secret_file".into(),
                    value: Some(f.value.display().to_string()),
                    origin: Some(f.source.clone()),
                    problem: "cannot read a secret from it: give a readable text file holding the secret's value".into(),
                })?;
            if let Some(mode) = o365_store::files::readable_by_others(&f.value) {
                tracing::warn!(file = %f.value.display(), mode = format!("{mode:04o}"), "a file holding a secret is readable by other users: run chmod 600 on it");
            }
            return Ok(Some(Sourced::new(
                SecretString::from(text),
                f.source.clone(),
            )));
        }
        if let (Some(var), Some("client_secret_env")) = (&self.client_secret_env, chosen) {
            return match std::env::var(&var.value) {
                Ok(s) if !s.trim().is_empty() => {
                    Ok(Some(Sourced::new(SecretString::from(s), var.source.clone())))
                }
                _ => Err(ConfigError {
                    field: "client_secret_env".into(),
                    value: Some(var.value.clone()),
                    origin: Some(var.source.clone()),
                    problem: format!(
                        "the environment variable {} is not set or empty: export it with the secret's value",
                        var.value
                    ),
                }),
            };
        }
        Ok(None)
    }

    /// Whether the configured secret looks like a secret *ID* (a GUID) rather than its value.
    pub fn secret_looks_like_id(&self) -> bool {
        self.secret()
            .ok()
            .flatten()
            .is_some_and(|s| o365_api::is_guid(s.value.expose_secret()))
    }
}
