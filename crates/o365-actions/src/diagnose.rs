//! What a client error means for the person who has to fix it: class, cause and fix.

use crate::result::{Failure, FailureKind};

/// Class, cause and fix of a client error.
pub fn diagnose(e: &o365_api::Error, secret_looks_like_id: bool) -> Failure {
    use o365_api::Error as E;
    let (kind, cause, fix): (FailureKind, &str, String) = match e {
        E::Aadsts { code: 7000215, .. } => (
            FailureKind::Auth,
            "invalid_client_secret",
            if secret_looks_like_id {
                "the configured client_secret is a GUID: that is the secret's ID, not its value. Copy the secret's Value (Entra admin center > App registrations > Certificates & secrets; it is shown once, when the secret is created) into client_secret".into()
            } else {
                "the client secret is wrong: copy the secret's Value (not its Secret ID) from Entra admin center > App registrations > Certificates & secrets into client_secret".into()
            },
        ),
        E::Aadsts { code: 7000222, .. } => (FailureKind::Auth, "expired_client_secret", "the client secret has expired: create a new secret for the app and update client_secret".into()),
        E::Aadsts { code: 700016, .. } => (FailureKind::Auth, "app_not_in_tenant", "the app (client_id) is not found in this tenant: check client_id and tenant_id, and that an admin consented to the app in this tenant".into()),
        E::Aadsts { code: 90002, .. } => (FailureKind::Auth, "tenant_not_found", "the tenant does not exist in this cloud: check tenant_id (Azure Active Directory ID) and the cloud (commercial and gcc sign in at login.microsoftonline.com, gcc-high and dod at login.microsoftonline.us)".into()),
        E::Aadsts { code: 900023, .. } => (FailureKind::Auth, "invalid_tenant", "tenant_id must be the tenant GUID or a verified domain such as contoso.onmicrosoft.com".into()),
        E::Aadsts { code: 700027, .. } => (FailureKind::Auth, "certificate_not_registered", "upload the certificate's public part to the app registration (Certificates & secrets), or configure the matching certificate".into()),
        E::Aadsts { code: 7000112, .. } => (FailureKind::Auth, "app_disabled", "the application is disabled in the tenant: an admin must enable it (Enterprise applications > Properties)".into()),
        E::Aadsts { code: 7000218, .. } => (FailureKind::Auth, "no_credentials", "configure client_secret or certificate_path".into()),
        E::Aadsts { code: 700024, .. } => (FailureKind::Auth, "clock_skew", "this machine's clock is off: sync it (NTP)".into()),
        E::Aadsts { .. } => (FailureKind::Auth, "sign_in_failed", "read the AADSTS description; check tenant_id, client_id and the credentials".into()),
        E::Unauthorized { token_for: Some(aud), .. } => (FailureKind::Auth, "token_for_another_cloud", format!(
            "the sign-in gave a token for {aud}{}, which this API refuses: set cloud (commercial, gcc, gcc-high or dod) and remove the api_root / login_endpoint overrides that mix two clouds",
            o365_api::cloud::of_api_root(aud).map(|c| format!(" (the {} cloud)", c.name())).unwrap_or_default()
        )),
        E::Unauthorized { .. } => (FailureKind::Auth, "token_rejected", "the API refused the token: api_root and login_endpoint must belong to the same cloud (set cloud = commercial, gcc, gcc-high or dod and remove mismatched overrides)".into()),
        e if e.is_missing_permission() => (FailureKind::Auth, "missing_permission", "grant the app the Office 365 Management APIs application permission ActivityFeed.Read (and ActivityFeed.ReadDlp for DLP.All), then grant admin consent".into()),
        e if e.is_tenant_mismatch() => (FailureKind::Auth, "tenant_mismatch", "tenant_id does not match the tenant of the token: set tenant_id to the tenant GUID the app signs in to".into()),
        E::AuditingOff { .. } => (FailureKind::Service, "auditing_off", "turn on unified audit logging in Microsoft Purview (Audit > Start recording user and admin activity); it takes up to 60 minutes to apply".into()),
        E::Throttled { retry_after: Some(w), .. } => (FailureKind::Service, "throttled", format!(
            "the service throttled this tenant and asks to wait {} (until {}): retry then, or lower requests_per_minute",
            crate::human_seconds(w.as_secs() as i64),
            i64::try_from(w.as_secs())
                .ok()
                .and_then(chrono::Duration::try_seconds)
                .and_then(|d| chrono::Utc::now().checked_add_signed(d))
                .map(crate::stamp)
                .unwrap_or_else(|| "a time too far to write".into())
        )),
        E::Throttled { .. } => (FailureKind::Service, "throttled", "the service throttled this tenant: wait a few minutes and retry, or lower requests_per_minute".into()),
        E::Transport { proxy: Some(p), .. } => (FailureKind::Connectivity, "proxy_unreachable", format!("the proxy {p} cannot be reached: check its address and port (the proxy setting, or HTTPS_PROXY / ALL_PROXY), and that it runs and lets this machine in")),
        E::Transport { timeout: true, .. } => (FailureKind::Connectivity, "timeout", "the service did not answer in time: check network, proxy and firewall, or raise timeout_secs".into()),
        E::Transport { message, .. } if message.contains("certificate") => (FailureKind::Connectivity, "untrusted_certificate", "the server's certificate is not trusted: with a private CA or a TLS-inspecting proxy, give its CA certificate in ca_file (O365_CA_FILE, --ca-file); verify_ssl = false is a last resort".into()),
        E::Transport { .. } => (FailureKind::Connectivity, "unreachable", "check api_root / login_endpoint (or cloud), DNS, proxy and firewall; with a private CA, give its certificate in ca_file".into()),
        E::Certificate(_) => (FailureKind::Config, "certificate", "give a .pfx/.p12 with certificate_password, or a PEM file with the certificate and its RSA private key".into()),
        E::Config { .. } => (FailureKind::Config, "config", "fix the setting named in the message".into()),
        E::ForeignHost { .. } => (FailureKind::Service, "foreign_host", "the service pointed to another host; check api_root".into()),
        E::Api { .. } => (FailureKind::Service, "api_error", "see the AF code's meaning in the message".into()),
        _ => (FailureKind::Service, "unexpected_answer", "the answer was not what the API documents: check api_root, or retry later".into()),
    };
    let code = match e {
        E::Aadsts { code, .. } => Some(format!("AADSTS{code}")),
        other => other.af_code().map(str::to_string),
    };
    Failure {
        code,
        http_status: e.status(),
        retry_after_seconds: match e {
            E::Throttled { retry_after, .. } => retry_after.map(|w| w.as_secs()),
            _ => None,
        },
        ..Failure::new(kind, cause, e.to_string(), fix)
    }
}
