//! The four clouds as the emulator tells them apart: by the host name a request was addressed to
//! (a client reaches the real names through the emulator's CONNECT mode), each with its API
//! resource and its sign-in host. Requests to loopback addresses are in no cloud and keep the
//! emulator's lenient rules.

use axum::http::{header, HeaderMap};

pub use o365_vocab::Cloud;

/// What a request was addressed to, from its `Host` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressed {
    /// One cloud's Activity API host.
    Api(Cloud),
    /// A sign-in host (which serves two clouds).
    Login(&'static str),
    /// Anything else: the emulator's own address.
    Local,
}

impl Addressed {
    /// Read the `Host` header (port and case ignored).
    pub fn of(headers: &HeaderMap) -> Addressed {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| {
                h.rsplit_once(':')
                    .map_or(h, |(n, _)| n)
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        Self::of_host(&host)
    }

    /// Classify a bare host name.
    pub fn of_host(host: &str) -> Addressed {
        if let Some(c) = Cloud::ALL.into_iter().find(|c| c.api_host() == host) {
            return Addressed::Api(c);
        }
        match Cloud::ALL.into_iter().find(|c| c.login_host() == host) {
            Some(c) => Addressed::Login(c.login_host()),
            None => Addressed::Local,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_their_cloud_and_loopback_none() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "Manage.Office365.us".parse().unwrap());
        assert_eq!(Addressed::of(&h), Addressed::Api(Cloud::GccHigh));
        h.insert(
            header::HOST,
            "login.microsoftonline.us:443".parse().unwrap(),
        );
        assert_eq!(
            Addressed::of(&h),
            Addressed::Login("login.microsoftonline.us")
        );
        h.insert(header::HOST, "127.0.0.1:41234".parse().unwrap());
        assert_eq!(Addressed::of(&h), Addressed::Local);
        assert_eq!(Addressed::of(&HeaderMap::new()), Addressed::Local);
        for c in Cloud::ALL {
            assert_eq!(Addressed::of_host(c.api_host()), Addressed::Api(c));
            assert_eq!(
                Addressed::of_host(c.login_host()),
                Addressed::Login(c.login_host())
            );
        }
    }
}
