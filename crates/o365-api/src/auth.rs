//! Credentials (client secret, certificate) and the cached, single-flight token provider.

use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha1::Digest as _;

use crate::Error;

/// Signature algorithm of the client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlgorithm {
    /// PS256 with `x5t#S256` (current Entra guidance; the default).
    #[default]
    Ps256,
    /// RS256 with `x5t` (SHA-1 thumbprint; older docs).
    Rs256,
}

/// A certificate credential: the signing key and the certificate's thumbprints.
#[derive(Clone)]
pub struct Certificate {
    key: EncodingKey,
    sha1: [u8; 20],
    sha256: [u8; 32],
    alg: AssertionAlgorithm,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("sha1_thumbprint", &hex(&self.sha1))
            .field("key", &"[redacted]")
            .field("alg", &self.alg)
            .finish()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn pem_blocks(text: &str, label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&begin) {
        let after = &rest[i + begin.len()..];
        let Some(j) = after.find(&end) else { break };
        let b64: String = after[..j].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(d) = base64::engine::general_purpose::STANDARD.decode(b64) {
            out.push(d);
        }
        rest = &after[j + end.len()..];
    }
    out
}

fn der_to_pem(label: &str, der: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

impl Certificate {
    /// From PEM text holding the certificate and the RSA private key (PKCS#8 or PKCS#1),
    /// in one text or two.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, Error> {
        let cert = pem_blocks(cert_pem, "CERTIFICATE")
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::Certificate("no -----BEGIN CERTIFICATE----- block found".into())
            })?;
        let key = if !key_pem.contains("PRIVATE KEY-----") {
            return Err(Error::Certificate(
                "the PEM holds a certificate but no private key: append the key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----) to the file, or use a .pfx/.p12 that holds both".into(),
            ));
        } else if key_pem.contains("BEGIN ENCRYPTED PRIVATE KEY") {
            return Err(Error::Certificate(
                "the PEM private key is encrypted; use a PFX/P12 with its password, or an unencrypted key".into(),
            ));
        } else {
            EncodingKey::from_rsa_pem(key_pem.as_bytes()).map_err(|e| {
                Error::Certificate(format!("no usable RSA private key in the PEM ({e})"))
            })?
        };
        Ok(Self::new(key, &cert))
    }

    /// From a PFX/P12 file's bytes and its password.
    pub fn from_pkcs12(data: &[u8], password: &str) -> Result<Self, Error> {
        let ks = p12_keystore::KeyStore::from_pkcs12(data, password).map_err(|e| {
            Error::Certificate(format!(
                "cannot open the PFX/P12 ({e}); check the certificate password"
            ))
        })?;
        let (_, chain) = ks
            .private_key_chain()
            .ok_or_else(|| Error::Certificate("the PFX/P12 holds no private key".into()))?;
        let cert = chain
            .chain()
            .first()
            .ok_or_else(|| Error::Certificate("the PFX/P12 holds no certificate".into()))?;
        let key = EncodingKey::from_rsa_pem(der_to_pem("PRIVATE KEY", chain.key()).as_bytes())
            .map_err(|e| Error::Certificate(format!("the PFX/P12 key is not an RSA key ({e})")))?;
        Ok(Self::new(key, cert.as_der()))
    }

    /// Load from a path: `.pfx`/`.p12` (with password) or PEM (certificate and key in one file).
    pub fn from_file(
        path: &std::path::Path,
        password: Option<&SecretString>,
    ) -> Result<Self, Error> {
        let data = crate::limits::read_file_capped(path)
            .map_err(|e| Error::Certificate(format!("cannot read {}: {e}", path.display())))?;
        Self::from_bytes(&data, password)
    }

    /// From a file's bytes: PKCS#12 (with password) or PEM (certificate and key together).
    pub fn from_bytes(data: &[u8], password: Option<&SecretString>) -> Result<Self, Error> {
        let is_pem = data.starts_with(b"-----") || data.windows(11).any(|w| w == b"-----BEGIN ");
        if is_pem {
            let text = String::from_utf8_lossy(data);
            Self::from_pem(&text, &text)
        } else {
            Self::from_pkcs12(data, password.map(|p| p.expose_secret()).unwrap_or(""))
        }
    }

    fn new(key: EncodingKey, der: &[u8]) -> Self {
        Self {
            key,
            sha1: sha1::Sha1::digest(der).into(),
            sha256: sha2::Sha256::digest(der).into(),
            alg: AssertionAlgorithm::Ps256,
        }
    }

    /// Choose the assertion algorithm.
    pub fn with_algorithm(mut self, alg: AssertionAlgorithm) -> Self {
        self.alg = alg;
        self
    }

    /// The SHA-1 thumbprint in hex, as the Entra portal shows it.
    pub fn thumbprint(&self) -> String {
        hex(&self.sha1)
    }

    /// A signed client assertion for `audience` (the token endpoint URL).
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String, Error> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut h = match self.alg {
            AssertionAlgorithm::Ps256 => {
                let mut h = Header::new(Algorithm::PS256);
                h.x5t_s256 = Some(b64.encode(self.sha256));
                h
            }
            AssertionAlgorithm::Rs256 => {
                let mut h = Header::new(Algorithm::RS256);
                h.x5t = Some(b64.encode(self.sha1));
                h
            }
        };
        h.typ = Some("JWT".into());
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now, "iat": now, "exp": now + 600,
        });
        jsonwebtoken::encode(&h, &claims, &self.key)
            .map_err(|e| Error::Certificate(format!("cannot sign the client assertion: {e}")))
    }
}

/// How the app proves its identity.
#[derive(Clone)]
pub enum Credentials {
    /// A client secret (the secret's *value*).
    Secret(SecretString),
    /// A certificate.
    Certificate(Box<Certificate>),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Secret(_) => f.write_str("Secret([redacted])"),
            Credentials::Certificate(c) => f.debug_tuple("Certificate").field(c).finish(),
        }
    }
}

impl Credentials {
    /// A client secret.
    pub fn secret(s: impl Into<String>) -> Self {
        Credentials::Secret(SecretString::from(s.into()))
    }
}

/// Token endpoint flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenVersion {
    /// `/oauth2/v2.0/token` with `scope=<resource>/.default` (default).
    #[default]
    V2,
    /// `/oauth2/token` with `resource=<resource>`.
    V1,
}

/// An access token with its expiry.
#[derive(Clone)]
pub struct AccessToken {
    /// The bearer token.
    pub(crate) secret: SecretString,
    /// When to stop using it (already shortened by the refresh margin).
    pub(crate) refresh_at: Instant,
    /// Roles in the token, if it is a readable JWT.
    pub roles: Vec<String>,
    /// Lifetime announced by the server.
    pub expires_in: Duration,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("roles", &self.roles)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TokenError {
    error: Option<String>,
    error_description: Option<String>,
    error_codes: Option<Vec<u32>>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
}

/// Decode a token endpoint answer (either flavour), or its AADSTS error.
pub fn decode_token_response(
    status: u16,
    body: &[u8],
    refresh_margin: Duration,
) -> Result<AccessToken, Error> {
    if (200..300).contains(&status) {
        let t: TokenResponse = serde_json::from_slice(body).map_err(|e| Error::Decode {
            what: "token endpoint".into(),
            path: format!("line {} column {}", e.line(), e.column()),
            message: e.to_string(),
        })?;
        // v2 sends a number, v1 a string.
        let secs = match &t.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(3599),
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(3599),
            _ => 3599,
        };
        let life = Duration::from_secs(secs);
        let margin = refresh_margin.min(life / 2);
        let roles = jwt_roles(&t.access_token);
        return Ok(AccessToken {
            secret: SecretString::from(t.access_token),
            refresh_at: Instant::now() + life - margin,
            roles,
            expires_in: life,
        });
    }
    match serde_json::from_slice::<TokenError>(body) {
        Ok(e) if e.error.is_some() => {
            let desc = e.error_description.unwrap_or_default();
            let code = e
                .error_codes
                .and_then(|c| c.first().copied())
                .or_else(|| {
                    desc.strip_prefix("AADSTS")
                        .and_then(|r| r.split(':').next())
                        .and_then(|n| n.parse().ok())
                })
                .unwrap_or(0);
            let text = desc.split("\r\nTrace ID:").next().unwrap_or("");
            let text = text
                .split_once(": ")
                .filter(|(p, _)| p.starts_with("AADSTS"))
                .map(|x| x.1)
                .unwrap_or(text);
            Err(Error::Aadsts {
                status,
                code,
                error: e.error.unwrap_or_default(),
                description: text.to_string(),
                trace_id: e.trace_id,
                correlation_id: e.correlation_id,
            })
        }
        _ => Err(Error::Http {
            status,
            what: "token endpoint".into(),
            body: snippet(body),
        }),
    }
}

/// The first 300 characters of a body, for messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let mut t: String = s.chars().take(300).collect();
    if s.chars().count() > 300 {
        t.push('…');
    }
    t
}

fn jwt_roles(jwt: &str) -> Vec<String> {
    let Some(p) = jwt.split('.').nth(1) else {
        return vec![];
    };
    let Ok(b) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p.trim_end_matches('='))
    else {
        return vec![];
    };
    #[derive(Deserialize)]
    struct C {
        #[serde(default)]
        roles: Vec<String>,
    }
    serde_json::from_slice::<C>(&b)
        .map(|c| c.roles)
        .unwrap_or_default()
}
