//! Whom an HTTP client trusts and how it gets out: extra CA certificates, a proxy, TLS
//! verification, and never a redirect. One rule for every client the project makes (the API
//! client and the alerts' webhook), so a setting that holds for one holds for all.

use std::sync::OnceLock;

use crate::error::Error;

/// The operating system's CA certificates, read once per process: reading the store is
/// hundreds of file reads and PEM decodings, and a fleet makes a client per tenant (and a
/// client is made for each certificate of a CA file, to name a bad one). Certificates rustls
/// cannot take are left out, as a client reading the store itself would skip them.
fn system_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: OnceLock<Vec<reqwest::Certificate>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(error = %e, "a certificate of the system store could not be read");
        }
        let roots: Vec<reqwest::Certificate> = found
            .certs
            .into_iter()
            .filter(|c| rustls::RootCertStore::empty().add(c.clone()).is_ok())
            .filter_map(|c| reqwest::Certificate::from_der(c.as_ref()).ok())
            .collect();
        if roots.is_empty() {
            tracing::warn!("the system's certificate store holds no CA certificate this client can use: only a ca_file's are trusted");
        }
        roots
    })
}

/// A client builder trusting the system's store (read once, [`system_roots`]).
fn base_builder() -> reqwest::ClientBuilder {
    system_roots().iter().cloned().fold(
        reqwest::Client::builder().tls_built_in_native_certs(false),
        reqwest::ClientBuilder::add_root_certificate,
    )
}

/// The trust and route of an HTTP client.
#[derive(Clone, Default)]
pub struct Trust {
    /// CA certificates (PEM) trusted beside the operating system's store.
    pub ca_pem: Option<Vec<u8>>,
    /// Every request through this proxy (`http://[user:password@]host:port`).
    pub proxy: Option<String>,
    /// Whether certificate verification is turned off (the user's explicit choice).
    pub insecure: bool,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("proxy", &self.proxy.as_deref().map(crate::proxy::redacted))
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl Trust {
    /// A client builder with these settings, redirects never followed; a bad CA file or
    /// proxy is a configuration error naming the field.
    pub fn builder(&self) -> Result<reqwest::ClientBuilder, Error> {
        let mut http = base_builder();
        if let Some(pem) = &self.ca_pem {
            let bad = |problem: String| Error::Config {
                field: "ca_file",
                value: String::new(),
                problem,
            };
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                bad(format!(
                    "not a PEM file of certificates ({e}): give the CA certificate(s) in PEM form"
                ))
            })?;
            if certs.is_empty() {
                return Err(bad(
                    "holds no certificate: give the CA certificate(s) in PEM form (-----BEGIN CERTIFICATE-----)".into(),
                ));
            }
            for (i, c) in certs.into_iter().enumerate() {
                // The bundle's framing parses; whether a body is a certificate shows only when
                // a client takes it: try each alone, to name the one that is not.
                if let Err(e) = reqwest::Client::builder()
                    .tls_built_in_root_certs(false)
                    .add_root_certificate(c.clone())
                    .build()
                {
                    return Err(bad(format!(
                        "the PEM block number {} is not a valid X.509 certificate ({e}): give the CA certificate(s) in PEM form",
                        i + 1
                    )));
                }
                http = http.add_root_certificate(c);
            }
        }
        if let Some(p) = &self.proxy {
            let bad = |problem: String| Error::Config {
                field: "proxy",
                value: crate::proxy::redacted(p),
                problem,
            };
            crate::proxy::check(p).map_err(bad)?;
            let proxy = reqwest::Proxy::all(p.trim())
                .map_err(|e| bad(e.to_string()))?
                .no_proxy(reqwest::NoProxy::from_env());
            http = http.proxy(proxy);
        }
        Ok(http
            .danger_accept_invalid_certs(self.insecure)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("o365mgmt/", env!("CARGO_PKG_VERSION"))))
    }
}
