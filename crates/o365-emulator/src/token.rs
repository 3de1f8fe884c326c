//! The Entra ID token endpoint (v1 and v2, client secret and certificate assertion), the access
//! tokens it mints, and their verification by the Activity API.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use sha1::Digest as _;

use crate::cloud::{Addressed, Cloud};
use crate::config::is_guid;
use crate::content::{event_id, hash, hash_str};
use crate::state::{RegisteredCert, Shared};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Claims of an issued access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Audience: the API resource.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Token version.
    pub ver: String,
    /// Tenant id.
    pub tid: String,
    /// Application roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Service principal object id.
    pub oid: String,
    /// Subject.
    pub sub: String,
    /// Identity provider.
    pub idp: String,
    /// Client id.
    pub appid: String,
    /// 1 for a secret, 2 for a certificate.
    pub appidacr: String,
}

/// Parse a PEM certificate into thumbprints and its RSA public key.
pub fn parse_cert(pem: &str) -> Result<RegisteredCert, String> {
    use x509_cert::der::{DecodePem, Encode};
    let cert = x509_cert::Certificate::from_pem(pem.as_bytes())
        .map_err(|e| format!("not a PEM X.509 certificate: {e}"))?;
    let der = cert.to_der().map_err(|e| format!("certificate DER: {e}"))?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid.to_string() != "1.2.840.113549.1.1.1" {
        return Err("the certificate's key is not RSA; Entra client assertions use RSA".into());
    }
    Ok(RegisteredCert {
        sha1: sha1::Sha1::digest(&der).into(),
        sha256: sha2::Sha256::digest(&der).into(),
        rsa_der: spki.subject_public_key.raw_bytes().to_vec(),
    })
}

/// One AADSTS error.
pub(crate) struct Aadsts {
    status: StatusCode,
    error: &'static str,
    code: u32,
    text: String,
    with_uri: bool,
}

pub(crate) fn aadsts(
    status: u16,
    error: &'static str,
    code: u32,
    text: impl Into<String>,
) -> Aadsts {
    Aadsts {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        error,
        code,
        text: text.into(),
        with_uri: matches!(code, 7000215 | 700016 | 90002 | 7000222 | 700027),
    }
}

fn token_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::EXPIRES, HeaderValue::from_static("-1"));
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

impl Aadsts {
    fn into_response(self, st: &Shared) -> Response {
        let n = st
            .fault_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let trace = event_id(hash(&[st.cfg.seed, 0x7ace, n]));
        let corr = event_id(hash(&[st.cfg.seed, 0xc011, n]));
        let ts = chrono::DateTime::from_timestamp_millis(st.clock.now_ms())
            .unwrap_or_default()
            .format("%Y-%m-%d %H:%M:%SZ")
            .to_string();
        let mut body = serde_json::json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}",
                self.code, self.text
            ),
            "error_codes": [self.code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
        });
        if self.with_uri {
            body["error_uri"] = format!("{}/error?code={}", st.base_url, self.code).into();
        }
        let mut r = (self.status, body.to_string()).into_response();
        token_headers(r.headers_mut());
        r
    }
}

/// Which token endpoint flavour was called.
#[derive(Clone, Copy, PartialEq)]
enum Flavour {
    V1,
    V2,
}

/// `POST /{tenant}/oauth2/token`.
pub async fn token_v1(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    token(st, tenant, headers, body, Flavour::V1)
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token_v2(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    token(st, tenant, headers, body, Flavour::V2)
}

fn token(
    st: Shared,
    tenant: String,
    headers: HeaderMap,
    body: axum::body::Bytes,
    flavour: Flavour,
) -> Response {
    match issue(&st, &tenant, &headers, &body, flavour) {
        Ok(r) => r,
        Err(e) => e.into_response(&st),
    }
}

fn is_dns_name(s: &str) -> bool {
    s.contains('.')
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn issue(
    st: &Shared,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
    flavour: Flavour,
) -> Result<Response, Aadsts> {
    let form: HashMap<String, String> = form_pairs(body);
    if !is_guid(tenant) && !is_dns_name(tenant) {
        return Err(aadsts(
            400,
            "invalid_request",
            900023,
            format!("Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."),
        ));
    }
    let not_found = || {
        aadsts(
            400,
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
        )
    };
    let Some(ti) = st.tenant_index(tenant) else {
        return Err(not_found());
    };
    // Through a real sign-in host, a tenant exists only in the clouds that host serves.
    let addressed = Addressed::of(headers);
    if let Addressed::Login(host) = addressed {
        if st.tenants[ti].cloud.login_host() != host {
            return Err(not_found());
        }
    }
    let missing = |p: &str| {
        aadsts(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{p}'."),
        )
    };
    // HTTP Basic auth (client_id:secret) is accepted for secrets.
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    let grant = form
        .get("grant_type")
        .ok_or_else(|| missing("grant_type"))?;
    if grant != "client_credentials" {
        return Err(aadsts(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        ));
    }
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic.as_ref().map(|b| b.0.clone()))
        .ok_or_else(|| missing("client_id"))?;
    let resource = match flavour {
        Flavour::V2 => {
            if form.contains_key("resource") {
                return Err(aadsts(
                    400,
                    "invalid_request",
                    901002,
                    "The 'resource' request parameter isn't supported.",
                ));
            }
            let scope = form.get("scope").ok_or_else(|| missing("scope"))?;
            let Some(res) = scope.strip_suffix("/.default") else {
                return Err(aadsts(
                    400,
                    "invalid_scope",
                    1002012,
                    format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
                ));
            };
            res.to_string()
        }
        Flavour::V1 => form
            .get("resource")
            .cloned()
            .ok_or_else(|| missing("resource"))?,
    };
    let resource = resource.trim_end_matches('/').to_string();
    let graph = crate::graph::is_graph_resource(st, &resource);
    let known = graph
        || match addressed {
            Addressed::Login(_) => resource == st.tenants[ti].cloud.api_root(),
            _ => resource == st.base_url || Cloud::ALL.iter().any(|c| c.api_root() == resource),
        };
    if !known {
        return Err(aadsts(
            400,
            "invalid_resource",
            500011,
            format!("The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."),
        ));
    }
    let t = &st.tenants[ti];
    let Some(app) = t.apps.get(&client_id.to_ascii_lowercase()) else {
        return Err(aadsts(
            400,
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."),
        ));
    };
    if app.cfg.disabled {
        return Err(aadsts(
            400,
            "unauthorized_client",
            7000112,
            format!("Application '{client_id}'({}) is disabled.", app.cfg.name),
        ));
    }
    let now_real = chrono::Utc::now().timestamp();
    let secret = form
        .get("client_secret")
        .cloned()
        .or_else(|| basic.as_ref().map(|b| b.1.clone()));
    let appidacr;
    if let Some(secret) = secret {
        let m = app.cfg.secrets.iter().find(|s| s.value == secret);
        match m {
            None => {
                return Err(aadsts(
                    401,
                    "invalid_client",
                    7000215,
                    format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."),
                ))
            }
            Some(s) if s.expires.is_some_and(|e| e.timestamp_millis() <= st.clock.now_ms()) => {
                return Err(aadsts(
                    401,
                    "invalid_client",
                    7000222,
                    format!("The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app."),
                ))
            }
            Some(_) => appidacr = "1",
        }
    } else if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
            return Err(missing("client_assertion_type"));
        }
        crate::assertion::check_assertion(st, assertion, &client_id, tenant, app, now_real)?;
        appidacr = "2";
    } else {
        return Err(aadsts(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    let now = st.clock.now_ms() / 1000;
    let life = st.cfg.api.token_lifetime_secs as i64;
    let sp = event_id(hash(&[hash_str(&client_id), hash_str(&t.info.id)]));
    let claims = AccessClaims {
        aud: resource.clone(),
        iss: format!("https://sts.windows.net/{}/", t.info.id),
        iat: now,
        nbf: now,
        exp: now + life,
        ver: "1.0".into(),
        tid: t.info.id.clone(),
        // A token carries the roles granted on its resource: Graph's, or the Management API's.
        roles: app
            .cfg
            .roles
            .iter()
            .filter(|r| crate::graph::is_graph_role(r) == graph)
            .cloned()
            .collect(),
        oid: sp.clone(),
        sub: sp,
        idp: format!("https://sts.windows.net/{}/", t.info.id),
        appid: client_id.to_ascii_lowercase(),
        appidacr: appidacr.into(),
    };
    let mut h = Header::new(Algorithm::RS256);
    h.typ = Some("JWT".into());
    h.kid = Some("o365mgmt-emulator".into());
    let token = jsonwebtoken::encode(&h, &claims, &st.signing_key).map_err(|e| {
        aadsts(
            500,
            "server_error",
            50000,
            format!("could not sign the token: {e}"),
        )
    })?;
    let body = match flavour {
        Flavour::V2 => serde_json::json!({
            "token_type": "Bearer",
            "expires_in": life,
            "ext_expires_in": life,
            "access_token": token,
        }),
        Flavour::V1 => serde_json::json!({
            "token_type": "Bearer",
            "expires_in": life.to_string(),
            "ext_expires_in": life.to_string(),
            "expires_on": (now + life).to_string(),
            "not_before": now.to_string(),
            "resource": resource,
            "access_token": token,
        }),
    };
    let mut r = (StatusCode::OK, body.to_string()).into_response();
    token_headers(r.headers_mut());
    Ok(r)
}

/// An `application/x-www-form-urlencoded` body's pairs (a name given twice: the last).
pub fn form_pairs(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Why a bearer token was refused.
#[derive(Debug)]
pub enum TokenRejection {
    /// Missing, malformed, bad signature, expired or wrong audience.
    Denied,
}

/// Verify a bearer token against the emulated clock and the accepted audiences.
pub fn verify_bearer(st: &Shared, headers: &HeaderMap) -> Result<AccessClaims, TokenRejection> {
    let c = verify_signed(st, headers)?;
    // A cloud's API host takes only tokens for its own resource; the emulator's own address
    // takes its root and the commercial resource.
    let accepted = !crate::graph::is_graph_resource(st, &c.aud)
        && match Addressed::of(headers) {
            Addressed::Api(cloud) => c.aud == cloud.api_root(),
            _ => c.aud == st.base_url || c.aud == Cloud::Commercial.api_root(),
        };
    if !accepted {
        return Err(TokenRejection::Denied);
    }
    Ok(c)
}

/// A bearer token signed here and valid now, whatever its audience.
pub fn verify_signed(st: &Shared, headers: &HeaderMap) -> Result<AccessClaims, TokenRejection> {
    let v = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(TokenRejection::Denied)?;
    let (scheme, tok) = v.split_once(' ').ok_or(TokenRejection::Denied)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenRejection::Denied);
    }
    let mut val = Validation::new(Algorithm::RS256);
    val.validate_exp = false;
    val.validate_aud = false;
    val.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<AccessClaims>(tok.trim(), &st.verify_key, &val)
        .map_err(|_| TokenRejection::Denied)?;
    let c = data.claims;
    let now = st.clock.now_ms() / 1000;
    if c.exp <= now || c.nbf > now + 300 {
        return Err(TokenRejection::Denied);
    }
    Ok(c)
}
