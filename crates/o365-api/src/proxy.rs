//! The proxy requests go through: the `proxy` setting, else the environment's (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY`, with `NO_PROXY`), as the HTTP stack applies them; said with any
//! password hidden.

use serde::{Deserialize, Serialize};

/// The proxy in use for the API, as reported (never with its password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyInUse {
    /// The proxy's URL, its password replaced by `redacted`.
    pub url: String,
    /// Where it comes from: `proxy setting` or the variable's name.
    pub from: String,
}

/// A proxy URL with its password hidden (an unreadable one is hidden whole).
pub fn redacted(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("redacted"));
            }
            u.to_string()
        }
        Err(_) => "[unreadable URL]".into(),
    }
}

/// Check a proxy URL: `http://` or `https://`, a host, optional credentials. The problem is
/// said without the URL's password.
pub fn check(raw: &str) -> Result<(), String> {
    let u = url::Url::parse(raw.trim())
        .map_err(|e| format!("not a URL ({e}): write http://[user:password@]host:port"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!(
            "scheme {:?} is not supported: allowed are http:// and https:// (write http://[user:password@]host:port)",
            u.scheme()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("no host: write http://[user:password@]host:port".into());
    }
    Ok(())
}

/// Whether `NO_PROXY` (comma-separated host names, domain suffixes, addresses, or `*`)
/// exempts `host`.
fn exempt(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    no_proxy
        .split(',')
        .map(|e| e.trim().trim_start_matches('.'))
        .filter(|e| !e.is_empty())
        .any(|e| {
            e == "*"
                || host.eq_ignore_ascii_case(e)
                || host
                    .to_ascii_lowercase()
                    .ends_with(&format!(".{}", e.to_ascii_lowercase()))
        })
}

/// The proxy requests to `target` go through: none when `NO_PROXY` exempts it; else the
/// setting; else the environment's, read with `var` (upper- and lower-case names).
pub fn in_use(
    explicit: Option<&str>,
    target: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Option<ProxyInUse> {
    let t = url::Url::parse(target).ok()?;
    let get = |name: &str| {
        [name.to_string(), name.to_ascii_lowercase()]
            .into_iter()
            .find_map(|n| var(&n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)))
    };
    if let (Some((_, np)), Some(h)) = (get("NO_PROXY"), t.host_str()) {
        if exempt(&np, h) {
            return None;
        }
    }
    if let Some(p) = explicit {
        return Some(ProxyInUse {
            url: redacted(p),
            from: "proxy setting".into(),
        });
    }
    let first = if t.scheme() == "https" {
        "HTTPS_PROXY"
    } else {
        "HTTP_PROXY"
    };
    let (from, url) = get(first).or_else(|| get("ALL_PROXY"))?;
    Some(ProxyInUse {
        url: redacted(&url),
        from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redacted("http://alice:s3cret@proxy.corp:3128"),
            "http://alice:redacted@proxy.corp:3128/"
        );
        assert_eq!(
            redacted("http://proxy.corp:3128"),
            "http://proxy.corp:3128/"
        );
        assert!(!redacted("not a url s3cret").contains("s3cret"));
        assert!(check("socks5://h:1").unwrap_err().contains("http://"));
        assert!(!check("ftp://u:s3cret@h").unwrap_err().contains("s3cret"));
        assert!(check("http://u:p@proxy:3128").is_ok());
    }

    #[test]
    fn the_setting_wins_then_the_environment_with_no_proxy() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            }
        };
        let e = env(&[
            ("https_proxy", "http://u:pw@p:1"),
            ("NO_PROXY", ".corp, 10.0.0.1"),
        ]);
        let got = in_use(None, "https://manage.office.com", e).unwrap();
        assert_eq!(got.from, "https_proxy");
        assert!(!got.url.contains("pw"));
        assert!(in_use(None, "https://api.corp", e).is_none());
        assert!(in_use(None, "https://10.0.0.1:8443", e).is_none());
        assert!(in_use(None, "http://manage.office.com", e).is_none());
        let s = in_use(Some("http://q:2"), "https://manage.office.com", e).unwrap();
        assert_eq!(s.from, "proxy setting");
        assert!(in_use(Some("http://q:2"), "https://api.corp", e).is_none());
    }
}
