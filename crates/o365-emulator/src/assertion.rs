//! The client assertion of certificate sign-in: a JWT signed with the app's key, checked
//! against the certificate registered on the app.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::state::Shared;
use crate::token::{aadsts, Aadsts};

#[derive(Deserialize)]
struct AssertionClaims {
    aud: Option<serde_json::Value>,
    iss: Option<String>,
    sub: Option<String>,
    nbf: Option<i64>,
    exp: Option<i64>,
}

pub(crate) fn check_assertion(
    st: &Shared,
    assertion: &str,
    client_id: &str,
    tenant: &str,
    app: &crate::state::App,
    now: i64,
) -> Result<(), Aadsts> {
    let bad = |reason: &str| {
        aadsts(
            401,
            "invalid_client",
            700027,
            format!("Client assertion failed signature validation. [Reason - {reason}]"),
        )
    };
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| bad("The client assertion is not a well-formed JWT."))?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // RS256 names the certificate by its SHA-1 thumbprint, PS256 by its SHA-256 one.
    let (name, thumb, sha256) = match header.alg {
        Algorithm::RS256 => ("x5t", header.x5t.as_deref(), false),
        Algorithm::PS256 => ("x5t#S256", header.x5t_s256.as_deref(), true),
        other => {
            return Err(bad(&format!(
                "The algorithm {other:?} is not supported; use RS256 or PS256."
            )))
        }
    };
    let x5t = thumb.ok_or_else(|| {
        bad(&format!(
            "The {name} header is missing for a {:?} assertion.",
            header.alg
        ))
    })?;
    let tp = b64
        .decode(x5t.trim_end_matches('='))
        .map_err(|_| bad(&format!("The {name} header is not base64url.")))?;
    let cert = app
        .certs
        .iter()
        .find(|c| {
            if sha256 {
                c.sha256[..] == tp[..]
            } else {
                c.sha1[..] == tp[..]
            }
        })
        .ok_or_else(|| {
            bad(&format!(
                "The key was not found., Thumbprint of key used by client: '{}'",
                hex(&tp)
            ))
        })?;
    let key = jsonwebtoken::DecodingKey::from_rsa_der(&cert.rsa_der);
    let mut v = Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &v)
        .map_err(|_| bad("The signature does not verify with the registered certificate."))?;
    let c = data.claims;
    if c.iss.as_deref() != Some(client_id) || c.sub.as_deref() != Some(client_id) {
        return Err(aadsts(
            401,
            "invalid_client",
            700023,
            "Client assertion audience or issuer is invalid: 'iss' and 'sub' must both equal the client id.",
        ));
    }
    let auds: Vec<String> = match c.aud {
        Some(serde_json::Value::String(s)) => vec![s],
        Some(serde_json::Value::Array(a)) => a
            .into_iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => vec![],
    };
    let ok_aud = |a: &str| {
        let a = a.trim_end_matches('/');
        let tenant_ids = [
            tenant.to_string(),
            st.tenants[st.tenant_index(tenant).unwrap_or(0)]
                .info
                .id
                .clone(),
        ];
        let mut hosts = vec![st.base_url.clone()];
        hosts.extend(
            [
                "https://login.microsoftonline.com",
                "https://login.windows.net",
                "https://login.microsoftonline.us",
            ]
            .map(String::from),
        );
        hosts.iter().any(|h| {
            tenant_ids.iter().any(|t| {
                a.eq_ignore_ascii_case(&format!("{h}/{t}/oauth2/v2.0/token"))
                    || a.eq_ignore_ascii_case(&format!("{h}/{t}/oauth2/token"))
            })
        })
    };
    if !auds.iter().any(|a| ok_aud(a)) {
        return Err(aadsts(
            401,
            "invalid_client",
            700023,
            format!(
                "Client assertion audience claim does not match Realm issuer. Review the documentation at https://aka.ms/certCredentials . Provided audience: '{}'",
                auds.join(",")
            ),
        ));
    }
    const SKEW: i64 = 300;
    let nbf_ok = c.nbf.is_none_or(|n| n <= now + SKEW);
    let exp_ok = c.exp.is_some_and(|e| now - SKEW < e);
    if !nbf_ok || !exp_ok {
        return Err(aadsts(
            401,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
