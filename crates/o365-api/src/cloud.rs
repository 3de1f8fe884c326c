//! Clouds, their hosts and audiences, and endpoint validation.

use url::Url;

use crate::Error;

pub use o365_vocab::Cloud;

impl From<o365_vocab::UnknownCloud> for Error {
    fn from(e: o365_vocab::UnknownCloud) -> Self {
        Error::Config {
            field: "cloud",
            value: e.0,
            problem: o365_vocab::UnknownCloud::allowed(),
        }
    }
}

/// The cloud whose API is at `url`'s host, if it is one of the four.
pub fn of_api_root(url: &str) -> Option<Cloud> {
    let host = host_of(url)?;
    Cloud::ALL
        .into_iter()
        .find(|c| c.api_host() == host.as_str())
}

/// A known API host paired with another cloud's login host: what is wrong and what was
/// meant. Endpoints on other hosts (an emulator, a proxy's) are not judged.
pub fn half_cloud(api_root: &str, login: &str) -> Option<String> {
    let api = of_api_root(api_root)?;
    let login_host = host_of(login)?;
    let known_login = Cloud::ALL
        .into_iter()
        .any(|c| c.login_host() == login_host.as_str());
    if !known_login || api.login_host() == login_host.as_str() {
        return None;
    }
    Some(format!(
            "{login_host} is not the sign-in of {} ({}): its tokens are refused there. Use login_endpoint = \"{}\" (or set cloud = \"{}\" and neither endpoint)",
            api.name(),
            api.api_root(),
            api.login_endpoint(),
            api.name()
        ))
}

/// The key of a tenant's history (the data-gap ledger): the tenant's key as it is where the
/// service at `api_root` is one of the four clouds (a tenant GUID names one tenant there), and
/// `KEY@HOST:PORT` at any other address (an emulator, a test double), so that two such services
/// serving one GUID never write into one history.
pub fn history_key(tenant: &str, api_root: &str) -> String {
    if of_api_root(api_root).is_some() {
        return tenant.to_string();
    }
    match Url::parse(api_root.trim()) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{tenant}@{}:{p}", h.to_ascii_lowercase()),
            (Some(h), None) => format!("{tenant}@{}", h.to_ascii_lowercase()),
            _ => format!("{tenant}@{}", api_root.trim()),
        },
        Err(_) => format!("{tenant}@{}", api_root.trim()),
    }
}

fn host_of(url: &str) -> Option<String> {
    Url::parse(url.trim())
        .ok()?
        .host_str()
        .map(|h| h.to_ascii_lowercase())
}

/// Parse an endpoint: `https://` anywhere, `http://` only on loopback; no path, query or fragment.
pub fn parse_endpoint(field: &'static str, s: &str) -> Result<Url, Error> {
    let u = Url::parse(s.trim());
    // Never echo credentials: a URL with user info is shown without it.
    let shown = match &u {
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            let mut c = u.clone();
            let _ = c.set_username("");
            let _ = c.set_password(None);
            c.to_string()
        }
        Ok(_) => s.to_string(),
        Err(_) if s.contains('@') => "[not shown: it may hold credentials]".to_string(),
        Err(_) => s.to_string(),
    };
    let bad = |problem: &str| Error::Config {
        field,
        value: shown.clone(),
        problem: problem.into(),
    };
    let u = u.map_err(|e| bad(&format!("not a URL ({e}); e.g. https://manage.office.com")))?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad(
            "must not hold a user name or password: give the host only and the credentials as client_secret or certificate_path",
        ));
    }
    match u.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&u) {
                return Err(bad("plain http:// is allowed only for loopback hosts (127.0.0.1, ::1, localhost); use https://"));
            }
        }
        _ => return Err(bad("must start with https://")),
    }
    if u.host().is_none() {
        return Err(bad("has no host"));
    }
    if u.path() != "/" && !u.path().is_empty() || u.query().is_some() || u.fragment().is_some() {
        return Err(bad(
            "give only scheme and host, e.g. https://manage.office.com (no path)",
        ));
    }
    Ok(u)
}

/// Parse a service root that may sit under a path (an emulator's `/graph`): as
/// [`parse_endpoint`], a path allowed, no query or fragment.
pub fn parse_root(field: &'static str, s: &str) -> Result<Url, Error> {
    let Ok(mut u) = Url::parse(s.trim()) else {
        return parse_endpoint(field, s);
    };
    if u.query().is_some() || u.fragment().is_some() {
        return Err(Error::Config {
            field,
            value: s.to_string(),
            problem: "give scheme, host and path only, e.g. https://graph.microsoft.com".into(),
        });
    }
    let path = u.path().trim_end_matches('/').to_string();
    u.set_path("");
    let mut checked = parse_endpoint(field, u.as_str())?;
    checked.set_path(&path);
    Ok(checked)
}

/// Whether a URL's host is a loopback address or `localhost` (the only hosts plain `http://`
/// may go to).
pub fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A URL data is sent to (a webhook): `https://`, or `http://` on loopback; why not otherwise.
pub fn check_destination(s: &str) -> Result<Url, String> {
    let u = Url::parse(s.trim())
        .map_err(|e| format!("not a URL ({e}); e.g. https://soar.example.com/alerts"))?;
    match u.scheme() {
        "https" => Ok(u),
        "http" if is_loopback(&u) => Ok(u),
        "http" => Err(
            "plain http:// is allowed only on loopback (127.0.0.1, ::1, localhost); use https://"
                .into(),
        ),
        other => Err(format!("{other}:// is not allowed: use https://")),
    }
}

/// The origin (`scheme://host:port`) of a URL, for host checks.
pub fn origin(u: &Url) -> String {
    u.origin().ascii_serialization()
}

/// A URL without its trailing slash.
pub fn trimmed(u: &Url) -> String {
    u.as_str().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_is_keyed_by_where_the_tenant_lives_only_off_the_four_clouds() {
        let t = "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80";
        for c in Cloud::ALL {
            assert_eq!(history_key(t, c.api_root()), t);
            assert_eq!(history_key(t, &format!("{}/", c.api_root())), t);
        }
        let a = history_key(t, "http://127.0.0.1:4711");
        let b = history_key(t, "https://127.0.0.1:4712/");
        assert_eq!(a, format!("{t}@127.0.0.1:4711"));
        assert_ne!(a, b);
        assert_eq!(
            history_key(t, "https://Emulator.Example"),
            format!("{t}@emulator.example:443")
        );
    }
}
