//! One error type that keeps what the server said and says whether a retry is safe.

use std::time::Duration;

/// Everything that can go wrong talking to Entra ID or the Activity API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is not usable.
    #[error("{field} = {value:?}: {problem}")]
    Config {
        /// The setting.
        field: &'static str,
        /// What was given (never a secret).
        value: String,
        /// What is allowed and how to fix it.
        problem: String,
    },
    /// The token endpoint refused (an AADSTS error).
    #[error("sign-in failed: AADSTS{code} ({error}, HTTP {status}): {description}{}", aadsts_hint(*code))]
    Aadsts {
        /// HTTP status.
        status: u16,
        /// The AADSTS number.
        code: u32,
        /// OAuth `error` (e.g. `invalid_client`).
        error: String,
        /// The description without the trace trailer.
        description: String,
        /// Trace id for Microsoft support.
        trace_id: Option<String>,
        /// Correlation id.
        correlation_id: Option<String>,
    },
    /// The API refused the bearer token (401 `{"Message": ...}`).
    #[error("the Activity API refused the access token (HTTP 401: {message}).{}", token_hint(token_for.as_deref()))]
    Unauthorized {
        /// The server's message.
        message: String,
        /// The token's audience when it is not the API the request went to: what the sign-in
        /// gave a token for.
        token_for: Option<String>,
    },
    /// An AF error from the Activity API.
    #[error("{code} (HTTP {status}): {message}{}", af_hint(code))]
    Api {
        /// HTTP status.
        status: u16,
        /// AF code, e.g. `AF20022`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// Unified audit logging is off for the tenant (the malformed "Tenant … does not exist" body).
    #[error("unified audit logging is not enabled for tenant {tenant} (or was enabled less than an hour ago): turn on auditing in Microsoft Purview (Audit > Start recording user and admin activity), wait up to 60 minutes, and retry")]
    AuditingOff {
        /// The tenant named in the answer.
        tenant: String,
    },
    /// Throttled (AF429 or HTTP 429), after retries.
    #[error("throttled by the service (HTTP {status}{}): {message}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    Throttled {
        /// HTTP status (403 or 429).
        status: u16,
        /// The AF code, when the body had one (`AF429`).
        code: Option<String>,
        /// The server's message.
        message: String,
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// An HTTP status with a body we do not recognise.
    #[error("unexpected HTTP {status} from {what}: {body}")]
    Http {
        /// HTTP status.
        status: u16,
        /// Which call.
        what: String,
        /// The start of the body.
        body: String,
    },
    /// No answer: connection refused, reset, timed out, TLS failure.
    #[error("cannot reach {url}: {message}")]
    Transport {
        /// Where.
        url: String,
        /// Why, as the HTTP stack said it.
        message: String,
        /// It was a timeout.
        timeout: bool,
        /// The proxy that could not be reached (its password hidden), when it was the proxy.
        proxy: Option<String>,
    },
    /// The body is not what the API documents.
    #[error("cannot decode the answer of {what} at {path}: {message}")]
    Decode {
        /// Which call.
        what: String,
        /// JSON path where decoding failed.
        path: String,
        /// The decoder's message.
        message: String,
    },
    /// A URL from the server points to another host: the token is not sent there.
    #[error("refusing to follow {url}: it is not on the configured API host {expected} (the bearer token is only sent there)")]
    ForeignHost {
        /// The URL offered.
        url: String,
        /// The configured API origin.
        expected: String,
    },
    /// The answer is larger than the configured limit.
    #[error("the answer of {what} is larger than {limit} bytes; raise max_response_bytes if this is expected")]
    TooLarge {
        /// Which call.
        what: String,
        /// The limit.
        limit: usize,
    },
    /// A certificate or key could not be loaded.
    #[error("certificate: {0}")]
    Certificate(String),
}

impl Error {
    /// Whether repeating the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Throttled { .. } => true,
            Error::Api { status, code, .. } => {
                code == "AF429" || code.starts_with("AF5") || *status == 408 || *status >= 500
            }
            Error::Http { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            Error::Aadsts { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Whether the content type has no enabled subscription (none, AF20022, or a disabled one,
    /// AF20023).
    pub fn is_not_subscribed(&self) -> bool {
        matches!(self.af_code(), Some("AF20022" | "AF20023"))
    }

    /// Whether the content type's subscription exists but is disabled (AF20023).
    pub fn is_subscription_disabled(&self) -> bool {
        self.af_code() == Some("AF20023")
    }

    /// Whether the subscription was already enabled with the same properties (AF20024).
    pub fn is_already_enabled(&self) -> bool {
        self.af_code() == Some("AF20024")
    }

    /// Whether the app lacks the permission for this call (AF10001).
    pub fn is_missing_permission(&self) -> bool {
        self.af_code() == Some("AF10001")
    }

    /// Whether the service asked to slow down (429, AF429); with how long to wait, if it said.
    pub fn throttled(&self) -> Option<Option<Duration>> {
        match self {
            Error::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Whether the service refused the call for want of a permission (HTTP 403 from Graph,
    /// or AF10001 from the Activity API).
    pub fn is_forbidden(&self) -> bool {
        self.is_missing_permission()
            || matches!(
                self,
                Error::Api { status: 403, .. } | Error::Http { status: 403, .. }
            )
    }

    /// Whether no request of this client can succeed as configured: the sign-in was refused,
    /// the token was refused, or a permission is missing (not a passing fault).
    pub fn is_refused(&self) -> bool {
        self.is_forbidden()
            || matches!(
                self,
                Error::Unauthorized { .. } | Error::Config { .. } | Error::Certificate(_)
            )
            || matches!(self, Error::Aadsts { status, .. } if *status < 500)
    }

    /// Whether the tenant of the URL or content is not the token's (AF20010, AF20013, AF20052).
    pub fn is_tenant_mismatch(&self) -> bool {
        matches!(self.af_code(), Some("AF20010" | "AF20013" | "AF20052"))
    }

    /// Whether a content blob can no longer be fetched: it has expired (AF20051) or does not
    /// exist (AF20050). It is lost for good, which is not a failure to retry.
    pub fn is_content_gone(&self) -> bool {
        matches!(self.af_code(), Some("AF20050" | "AF20051"))
    }

    /// The AF code, if this is an Activity API error.
    pub fn af_code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            Error::Throttled { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Aadsts { status, .. }
            | Error::Api { status, .. }
            | Error::Throttled { status, .. }
            | Error::Http { status, .. } => Some(*status),
            Error::Unauthorized { .. } => Some(401),
            Error::AuditingOff { .. } => Some(400),
            _ => None,
        }
    }
}

/// Classify a non-2xx Activity API answer. `retry_after` is the answer's `Retry-After`, kept on
/// throttling (AF429 or a plain HTTP 429) so callers can say when to try again.
pub fn classify(status: u16, body: &[u8], retry_after: Option<Duration>, what: &str) -> Error {
    #[derive(serde::Deserialize)]
    struct Env {
        error: Option<Inner>,
        #[serde(rename = "Message")]
        message: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        code: Option<String>,
        message: Option<String>,
    }
    let env = serde_json::from_slice::<Env>(body).ok();
    let (code, message) = match env {
        Some(Env {
            message: Some(m), ..
        }) if status == 401 => {
            return Error::Unauthorized {
                message: m,
                token_for: None,
            }
        }
        Some(Env {
            error:
                Some(Inner {
                    code: Some(code),
                    message,
                }),
            ..
        }) => (Some(code), message.unwrap_or_default()),
        _ => (None, crate::auth::snippet(body)),
    };
    if status == 429 || code.as_deref() == Some("AF429") {
        return Error::Throttled {
            status,
            code,
            message,
            retry_after,
        };
    }
    match code {
        Some(code)
            if code.contains("[AppId")
                || message.contains("does not exist.")
                    && message.contains("DataServiceException") =>
        {
            let tenant = message
                .split("Tenant ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("?")
                .to_string();
            Error::AuditingOff { tenant }
        }
        Some(code) => Error::Api {
            status,
            code,
            message,
        },
        None if status == 401 => Error::Unauthorized {
            message,
            token_for: None,
        },
        None => Error::Http {
            status,
            what: what.into(),
            body: message,
        },
    }
}

fn token_hint(token_for: Option<&str>) -> String {
    match token_for {
        None => " The token is expired, malformed, or for another cloud's resource: check that api_root and login_endpoint belong to the same cloud".into(),
        Some(aud) => {
            let cloud = crate::cloud::of_api_root(aud)
                .map(|c| format!(" ({} cloud)", c.name()))
                .unwrap_or_default();
            format!(" The sign-in gave a token for {aud}{cloud}, not for this API: login_endpoint belongs to another cloud than api_root. Set cloud (commercial, gcc, gcc-high or dod) and neither endpoint")
        }
    }
}

fn aadsts_hint(code: u32) -> &'static str {
    match code {
        7000215 => " — the client secret is wrong; a common cause is pasting the secret's ID instead of its Value (Entra admin center > App registrations > Certificates & secrets)",
        7000222 => " — the client secret has expired: create a new one and update the configuration",
        7000218 => " — neither a client secret nor a certificate was sent: configure one of them",
        700016 => " — the app (client_id) is not registered in this tenant: check client_id and tenant_id, and that admin consent was granted",
        90002 => " — the tenant was not found: check tenant_id and that login_endpoint is the right cloud",
        900023 => " — tenant_id must be the tenant GUID or a verified domain such as contoso.onmicrosoft.com",
        700027 => " — the certificate is not registered on the app, or the key does not match it: upload the certificate's public part to the app registration",
        700024 => " — the client assertion is outside its validity window: check this machine's clock",
        7000112 => " — the application is disabled in the tenant",
        500011 => " — the API resource is not available in this tenant or cloud: check api_root / cloud",
        1002012 | 70011 => " — the scope must be the API resource followed by /.default",
        _ => "",
    }
}

fn af_hint(code: &str) -> &'static str {
    match code {
        "AF10001" => " — grant the app the Office 365 Management APIs application permission ActivityFeed.Read (and ActivityFeed.ReadDlp for DLP.All), then grant admin consent",
        "AF20010" => " — the tenant in the URL does not match the token: check tenant_id",
        "AF20013" => " — tenant_id must be the tenant GUID for Activity API calls",
        "AF20022" => " — there is no subscription for this content type: start it first",
        "AF20023" => " — the subscription is disabled: start it again",
        "AF20055" | "AF20030" => " — windows must be given with both start and end, at most 24 hours long, starting less than 7 days ago",
        "AF20052" => " — the content id does not belong to this tenant: check tenant_id",
        "AF20051" => " — content is kept for 7 days only",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> Error {
        Error::Api {
            status: 400,
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn service_codes_are_asked_by_predicate() {
        assert!(api("AF20022").is_not_subscribed() && !api("AF20022").is_subscription_disabled());
        assert!(api("AF20023").is_not_subscribed() && api("AF20023").is_subscription_disabled());
        assert!(api("AF20024").is_already_enabled() && !api("AF20024").is_not_subscribed());
        assert!(api("AF10001").is_missing_permission());
        for c in ["AF20010", "AF20013", "AF20052"] {
            assert!(api(c).is_tenant_mismatch(), "{c}");
        }
        let other = Error::Certificate("x".into());
        assert!(!other.is_not_subscribed() && !other.is_tenant_mismatch());
    }
}
