//! Token endpoint: success shapes, every AADSTS error, certificate assertions.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use o365_emulator::config::*;
use serde_json::json;
use sha1::Digest as _;

use crate::{claims, Env};

const APP_KEY: &str = include_str!("../../../../testdata/app-key.pem");
const APP_CERT: &str = include_str!("../../../../testdata/app-cert.pem");
const OTHER_KEY: &str = include_str!("../../../../testdata/other-key.pem");
const OTHER_CERT: &str = include_str!("../../../../testdata/other-cert.pem");

fn der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// A client assertion signed with `key`, naming `cert` by thumbprint.
fn assertion(alg: Algorithm, key: &str, cert: &str, claims: serde_json::Value) -> String {
    let d = der(cert);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut h = Header::new(alg);
    h.typ = Some("JWT".into());
    match alg {
        Algorithm::RS256 => h.x5t = Some(b64.encode(sha1::Sha1::digest(&d))),
        _ => h.x5t_s256 = Some(b64.encode(sha2::Sha256::digest(&d))),
    }
    jsonwebtoken::encode(
        &h,
        &claims,
        &EncodingKey::from_rsa_pem(key.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn assertion_claims(env: &Env, v2: bool, client: &str) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    let path = if v2 {
        "oauth2/v2.0/token"
    } else {
        "oauth2/token"
    };
    json!({
        "aud": format!("{}/{}/{path}", env.info.login_endpoint, env.info.tenant_id),
        "iss": client, "sub": client, "jti": format!("{now}-x"),
        "nbf": now, "exp": now + 600, "iat": now,
    })
}

async fn cert_token(env: &Env, v2: bool, jwt: &str) -> crate::Resp {
    let aud = env.info.api_root.clone();
    let scope = format!("{aud}/.default");
    let mut form = vec![
        ("client_id", env.info.client_id.as_str()),
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", jwt),
    ];
    if v2 {
        form.push(("scope", &scope));
    } else {
        form.push(("resource", &aud));
    }
    env.token_form(&env.info.tenant_id, v2, &form).await
}

#[tokio::test]
async fn v2_secret_success_shape_and_claims() {
    let env = Env::new().await;
    let scope = format!("{}/.default", env.info.api_root);
    let r = env
        .token_form(
            &env.info.tenant_id,
            true,
            &[
                ("client_id", &env.info.client_id),
                ("client_secret", &env.info.client_secret),
                ("scope", &scope),
                ("grant_type", "client_credentials"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(r.headers["cache-control"], "no-store, no-cache");
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3599, "v2 numbers are JSON numbers");
    assert!(v["ext_expires_in"].is_number());
    assert!(v.get("refresh_token").is_none());
    let c = claims(v["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], env.info.api_root);
    assert_eq!(c["tid"], env.info.tenant_id);
    assert_eq!(c["appid"], env.info.client_id);
    assert_eq!(c["appidacr"], "1");
    assert_eq!(
        c["roles"],
        json!([
            "ActivityFeed.Read",
            "ActivityFeed.ReadDlp",
            "ServiceHealth.Read"
        ])
    );
    assert_eq!(
        c["iss"],
        format!("https://sts.windows.net/{}/", env.info.tenant_id)
    );
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 3599);
}

#[tokio::test]
async fn v1_secret_success_shape_by_domain_and_basic_auth() {
    let env = Env::new().await;
    // v1 with the domain instead of the GUID, and strings for numbers.
    let r = env
        .token_form(
            DEFAULT_TENANT_DOMAIN,
            false,
            &[
                ("client_id", &env.info.client_id),
                ("client_secret", &env.info.client_secret),
                ("resource", "https://manage.office.com"),
                ("grant_type", "client_credentials"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["expires_in"], "3599");
    assert_eq!(v["resource"], "https://manage.office.com");
    assert!(v["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    assert!(v["not_before"].is_string());
    assert_eq!(
        claims(v["access_token"].as_str().unwrap())["aud"],
        "https://manage.office.com"
    );
    // HTTP Basic instead of body parameters.
    let r = crate::read(
        env.http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                env.info.login_endpoint, env.info.tenant_id
            ))
            .basic_auth(&env.info.client_id, Some(&env.info.client_secret))
            .form(&[
                ("scope", "https://manage.office.com/.default"),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn every_cloud_resource_is_an_accepted_audience() {
    let env = Env::new().await;
    for res in [
        "https://manage.office.com",
        "https://manage-gcc.office.com",
        "https://manage.office365.us",
        "https://manage.protection.apps.mil",
    ] {
        let scope = format!("{res}/.default");
        let r = env
            .token_form(
                &env.info.tenant_id,
                true,
                &[
                    ("client_id", &env.info.client_id),
                    ("client_secret", &env.info.client_secret),
                    ("scope", &scope),
                    ("grant_type", "client_credentials"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{res}: {}", r.text);
        assert_eq!(
            claims(r.json()["access_token"].as_str().unwrap())["aud"],
            res
        );
    }
}

/// Expect an AADSTS error with the documented body shape.
fn expect_aadsts(r: &crate::Resp, status: u16, error: &str, code: u32, text: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    let v = r.json();
    assert_eq!(v["error"], error, "{}", r.text);
    assert_eq!(v["error_codes"], json!([code]));
    let d = v["error_description"].as_str().unwrap();
    assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
    assert!(d.contains(text), "{d:?} should contain {text:?}");
    assert!(d.contains("\r\nTrace ID: "), "trace trailer: {d:?}");
    assert!(d.contains("\r\nCorrelation ID: "));
    let ts = v["timestamp"].as_str().unwrap();
    assert!(
        ts.len() == 20 && &ts[10..11] == " " && ts.ends_with('Z'),
        "{ts}"
    );
    assert!(d.ends_with(&format!("Timestamp: {ts}")));
    assert_eq!(v["trace_id"].as_str().unwrap().len(), 36);
    assert_eq!(v["correlation_id"].as_str().unwrap().len(), 36);
}

#[tokio::test]
async fn every_aadsts_error() {
    let env = Env::new().await;
    let t = env.info.tenant_id.clone();
    let cid = env.info.client_id.clone();
    let sec = env.info.client_secret.clone();
    let scope = format!("{}/.default", env.info.api_root);
    let ok = |extra: &[(&'static str, &str)]| -> Vec<(String, String)> {
        let mut base: Vec<(String, String)> = vec![
            ("client_id".into(), cid.clone()),
            ("client_secret".into(), sec.clone()),
            ("scope".into(), scope.clone()),
            ("grant_type".into(), "client_credentials".into()),
        ];
        for (k, v) in extra {
            base.retain(|(bk, _)| bk != k);
            if !v.is_empty() {
                base.push((k.to_string(), v.to_string()));
            }
        }
        base
    };
    async fn send(env: &Env, tenant: &str, v2: bool, f: Vec<(String, String)>) -> crate::Resp {
        let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        env.token_form(tenant, v2, &f).await
    }
    let r = send(&env, &t, true, ok(&[("client_secret", "wrong")])).await;
    expect_aadsts(
        &r,
        401,
        "invalid_client",
        7000215,
        "not the client secret ID",
    );
    assert!(r.json()["error_uri"]
        .as_str()
        .unwrap()
        .ends_with("code=7000215"));
    // The secret ID pasted instead of the value is the same error.
    let r = send(
        &env,
        &t,
        true,
        ok(&[("client_secret", DEFAULT_CLIENT_SECRET_ID)]),
    )
    .await;
    expect_aadsts(&r, 401, "invalid_client", 7000215, "Invalid client secret");
    let r = send(
        &env,
        &t,
        true,
        ok(&[("client_id", EXPIRED_SECRET_CLIENT_ID)]),
    )
    .await;
    expect_aadsts(&r, 401, "invalid_client", 7000222, "expired");
    let r = send(&env, &t, true, ok(&[("client_secret", "")])).await;
    expect_aadsts(
        &r,
        401,
        "invalid_client",
        7000218,
        "client_assertion' or 'client_secret'",
    );
    let unknown = "99999999-9999-4999-8999-999999999999";
    let r = send(&env, &t, true, ok(&[("client_id", unknown)])).await;
    expect_aadsts(
        &r,
        400,
        "unauthorized_client",
        700016,
        &format!("Application with identifier '{unknown}' was not found in the directory"),
    );
    let r = send(&env, unknown, true, ok(&[])).await;
    expect_aadsts(
        &r,
        400,
        "invalid_request",
        90002,
        &format!("Tenant '{unknown}' not found"),
    );
    let r = send(&env, "nodots", true, ok(&[])).await;
    expect_aadsts(
        &r,
        400,
        "invalid_request",
        900023,
        "neither a valid DNS name",
    );
    let r = send(&env, &t, true, ok(&[("grant_type", "")])).await;
    expect_aadsts(&r, 400, "invalid_request", 900144, "'grant_type'");
    let r = send(&env, &t, true, ok(&[("scope", "")])).await;
    expect_aadsts(&r, 400, "invalid_request", 900144, "'scope'");
    let r = send(&env, &t, false, ok(&[("scope", "")])).await;
    expect_aadsts(&r, 400, "invalid_request", 900144, "'resource'");
    let r = send(
        &env,
        &t,
        true,
        ok(&[("scope", "https://manage.office.com")]),
    )
    .await;
    expect_aadsts(&r, 400, "invalid_scope", 1002012, "/.default suffixed");
    let r = send(
        &env,
        &t,
        true,
        ok(&[("scope", "https://graph.example/.default")]),
    )
    .await;
    expect_aadsts(
        &r,
        400,
        "invalid_resource",
        500011,
        "resource principal named https://graph.example",
    );
    let r = send(
        &env,
        &t,
        true,
        ok(&[("resource", "https://manage.office.com")]),
    )
    .await;
    expect_aadsts(
        &r,
        400,
        "invalid_request",
        901002,
        "'resource' request parameter isn't supported",
    );
    let r = send(&env, &t, true, ok(&[("grant_type", "password")])).await;
    expect_aadsts(
        &r,
        400,
        "unsupported_grant_type",
        70003,
        "unsupported grant type",
    );
    let r = send(&env, &t, true, ok(&[("client_id", DISABLED_CLIENT_ID)])).await;
    expect_aadsts(&r, 400, "unauthorized_client", 7000112, "is disabled");
    // No secret ever appears in an error body.
    for s in [sec.as_str(), "wrong"] {
        let r = send(&env, &t, true, ok(&[("client_secret", s)])).await;
        if r.status != 200 {
            assert!(!r.text.contains(s), "secret echoed: {}", r.text);
        }
    }
}

#[tokio::test]
async fn certificate_assertions_rs256_and_ps256_v1_and_v2() {
    let env = Env::new().await;
    let cid = env.info.client_id.clone();
    for v2 in [true, false] {
        for alg in [Algorithm::RS256, Algorithm::PS256] {
            let jwt = assertion(alg, APP_KEY, APP_CERT, assertion_claims(&env, v2, &cid));
            let r = cert_token(&env, v2, &jwt).await;
            assert_eq!(r.status, 200, "{alg:?} v2={v2}: {}", r.text);
            let c = claims(r.json()["access_token"].as_str().unwrap());
            assert_eq!(c["appidacr"], "2");
        }
    }
}

#[tokio::test]
async fn certificate_assertions_rejected() {
    let env = Env::new().await;
    let cid = env.info.client_id.clone();
    // A certificate that is not registered.
    let jwt = assertion(
        Algorithm::PS256,
        OTHER_KEY,
        OTHER_CERT,
        assertion_claims(&env, true, &cid),
    );
    let r = cert_token(&env, true, &jwt).await;
    expect_aadsts(&r, 401, "invalid_client", 700027, "The key was not found.");
    // The registered thumbprint but signed with another key.
    let jwt = assertion(
        Algorithm::RS256,
        OTHER_KEY,
        APP_CERT,
        assertion_claims(&env, true, &cid),
    );
    let r = cert_token(&env, true, &jwt).await;
    expect_aadsts(
        &r,
        401,
        "invalid_client",
        700027,
        "signature does not verify",
    );
    // Tampered payload.
    let jwt = assertion(
        Algorithm::RS256,
        APP_KEY,
        APP_CERT,
        assertion_claims(&env, true, &cid),
    );
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut c = assertion_claims(&env, true, &cid);
    c["exp"] = json!(c["exp"].as_i64().unwrap() + 99999);
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string());
    let forged = format!("{}.{body}.{}", parts[0], parts[2]);
    let r = cert_token(&env, true, &forged).await;
    expect_aadsts(&r, 401, "invalid_client", 700027, "signature");
    // Wrong audience.
    let mut c = assertion_claims(&env, true, &cid);
    c["aud"] = json!("https://login.microsoftonline.com/other/oauth2/v2.0/token");
    let r = cert_token(
        &env,
        true,
        &assertion(Algorithm::PS256, APP_KEY, APP_CERT, c),
    )
    .await;
    expect_aadsts(&r, 401, "invalid_client", 700023, "audience");
    // iss != sub.
    let mut c = assertion_claims(&env, true, &cid);
    c["sub"] = json!("someone-else");
    let r = cert_token(
        &env,
        true,
        &assertion(Algorithm::PS256, APP_KEY, APP_CERT, c),
    )
    .await;
    expect_aadsts(&r, 401, "invalid_client", 700023, "'iss' and 'sub'");
    // Expired and not yet valid.
    for (nbf, exp) in [(-7200, -3600), (3600, 7200)] {
        let now = chrono::Utc::now().timestamp();
        let mut c = assertion_claims(&env, true, &cid);
        c["nbf"] = json!(now + nbf);
        c["exp"] = json!(now + exp);
        let r = cert_token(
            &env,
            true,
            &assertion(Algorithm::RS256, APP_KEY, APP_CERT, c),
        )
        .await;
        expect_aadsts(&r, 401, "invalid_client", 700024, "valid time range");
    }
    // Not a JWT at all.
    let r = cert_token(&env, true, "not-a-jwt").await;
    expect_aadsts(&r, 401, "invalid_client", 700027, "well-formed");
}
