//! The four clouds as the emulator tells them apart: by the host name a request was addressed to
//! (a client reaches the real names through the emulator's CONNECT mode), each with its API
//! resource and its sign-in host. Requests to loopback addresses are in no cloud and keep the
//! emulator's lenient rules.

use axum::http::{header, HeaderMap};
use serde::{Deserialize, Serialize};

/// A Microsoft 365 cloud a tenant lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    /// Enterprise (commercial).
    #[default]
    Commercial,
    /// GCC.
    Gcc,
    /// GCC High.
    GccHigh,
    /// DoD.
    Dod,
}

impl Cloud {
    /// All four.
    pub const ALL: [Cloud; 4] = [Cloud::Commercial, Cloud::Gcc, Cloud::GccHigh, Cloud::Dod];

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Commercial => "commercial",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::Dod => "dod",
        }
    }

    /// The Activity API's host.
    pub fn api_host(self) -> &'static str {
        match self {
            Cloud::Commercial => "manage.office.com",
            Cloud::Gcc => "manage-gcc.office.com",
            Cloud::GccHigh => "manage.office365.us",
            Cloud::Dod => "manage.protection.apps.mil",
        }
    }

    /// The API resource: the audience of this cloud's tokens.
    pub fn resource(self) -> String {
        format!("https://{}", self.api_host())
    }

    /// The Entra ID sign-in host that serves this cloud's tenants.
    pub fn login_host(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => "login.microsoftonline.com",
            Cloud::GccHigh | Cloud::Dod => "login.microsoftonline.us",
        }
    }
}

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
