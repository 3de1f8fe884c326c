//! Sign-in: the token cache (one refresh at a time, shortly before expiry) and the token request.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret as _;

use crate::auth::{decode_token_response, AccessToken, Credentials, TokenVersion};
use crate::client::Client;
use crate::transport::{read_limited, transport};
use crate::Error;

/// Facts from a successful token request, for Ping.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// Roles in the token.
    pub roles: Vec<String>,
    /// Tenant GUID from the token.
    pub tenant_id: String,
    /// Lifetime the server announced.
    pub expires_in: Duration,
}

impl Client {
    /// Sign in (or use the cached token) and say what the token holds.
    pub async fn token_info(&self) -> Result<TokenInfo, Error> {
        let (t, tid) = self.token(false).await?;
        Ok(TokenInfo {
            roles: t.roles,
            tenant_id: tid,
            expires_in: t.expires_in,
        })
    }

    /// The tenant's GUID in its one spelling (lower case): the configured one when it is a GUID
    /// (no request), else the token's `tid` (a sign-in, so a domain names its tenant).
    pub async fn tenant_guid(&self) -> Result<String, Error> {
        if let Some(g) = crate::ids::normal_guid(&self.inner.tenant) {
            return Ok(g);
        }
        let tid = self.tid().await?;
        Ok(crate::ids::normal_guid(&tid).unwrap_or(tid))
    }

    /// The tenant GUID (from the token, so a domain works as the configured tenant).
    pub(crate) async fn tid(&self) -> Result<String, Error> {
        Ok(self.token(false).await?.1)
    }

    /// A valid access token and the tenant GUID: cached until shortly before expiry, one
    /// refresh at a time; `force` refreshes now.
    pub(crate) async fn token(&self, force: bool) -> Result<(AccessToken, String), Error> {
        let mut g = self.inner.token.lock().await;
        if let Some((t, tid)) = g.as_ref() {
            if !force && Instant::now() < t.refresh_at {
                return Ok((t.clone(), tid.clone()));
            }
        }
        let t = self.fetch_token().await?;
        let tid =
            jwt_claim(t.secret.expose_secret(), "tid").unwrap_or_else(|| self.inner.tenant.clone());
        *g = Some((t.clone(), tid.clone()));
        Ok((t, tid))
    }

    fn token_url(&self) -> String {
        let (login, tenant) = (&self.inner.login, &self.inner.tenant);
        match self.inner.token_version {
            TokenVersion::V2 => format!("{login}/{tenant}/oauth2/v2.0/token"),
            TokenVersion::V1 => format!("{login}/{tenant}/oauth2/token"),
        }
    }

    async fn fetch_token(&self) -> Result<AccessToken, Error> {
        let url = self.token_url();
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", self.inner.client_id.clone()),
            ("grant_type", "client_credentials".into()),
        ];
        match self.inner.token_version {
            TokenVersion::V2 => form.push(("scope", format!("{}/.default", self.inner.resource))),
            TokenVersion::V1 => form.push(("resource", self.inner.resource.clone())),
        }
        match &self.inner.creds {
            Credentials::Secret(s) => form.push(("client_secret", s.expose_secret().to_string())),
            Credentials::Certificate(c) => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push((
                    "client_assertion",
                    c.assertion(&self.inner.client_id, &url)?,
                ));
            }
        }
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.inner
                .counters
                .token_requests
                .fetch_add(1, Ordering::Relaxed);
            let err = match self.inner.http.post(&url).form(&form).send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body =
                        read_limited(r, self.inner.max_bytes, "token endpoint", &url).await?;
                    match decode_token_response(status, &body, self.inner.refresh_margin) {
                        Ok(t) => return Ok(t),
                        Err(e) => e,
                    }
                }
                Err(e) => transport(&url, e, self.inner.proxy.as_ref()),
            };
            if self
                .pause("token endpoint", attempt, &err, started)
                .await
                .is_err()
            {
                return Err(err);
            }
        }
    }
}

/// A string claim of a JWT, not verified: only for naming (the tenant in URLs, the audience in
/// an error).
pub(crate) fn jwt_claim(jwt: &str, name: &str) -> Option<String> {
    use base64::Engine as _;
    let p = jwt.split('.').nth(1)?;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&b).ok()?;
    v[name].as_str().map(String::from)
}
