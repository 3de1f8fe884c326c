//! The four clouds and their host names.

use std::str::FromStr;

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

    /// The configuration name (`commercial`, `gcc`, `gcc-high`, `dod`).
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

    /// The API root, which is also the OAuth resource (the audience of its tokens).
    pub fn api_root(self) -> &'static str {
        match self {
            Cloud::Commercial => "https://manage.office.com",
            Cloud::Gcc => "https://manage-gcc.office.com",
            Cloud::GccHigh => "https://manage.office365.us",
            Cloud::Dod => "https://manage.protection.apps.mil",
        }
    }

    /// The Entra ID sign-in host that serves this cloud's tenants.
    pub fn login_host(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => "login.microsoftonline.com",
            Cloud::GccHigh | Cloud::Dod => "login.microsoftonline.us",
        }
    }

    /// The Entra ID sign-in endpoint.
    pub fn login_endpoint(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => "https://login.microsoftonline.com",
            Cloud::GccHigh | Cloud::Dod => "https://login.microsoftonline.us",
        }
    }

    /// Microsoft Graph's root where the cloud has the audit log search (commercial and GCC,
    /// on the global endpoints); `None` for GCC High and DoD, which do not serve it.
    pub fn graph_root(self) -> Option<&'static str> {
        match self {
            Cloud::Commercial | Cloud::Gcc => Some("https://graph.microsoft.com"),
            Cloud::GccHigh | Cloud::Dod => None,
        }
    }
}

impl std::fmt::Display for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is none of the four clouds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCloud(pub String);

impl UnknownCloud {
    /// What is allowed.
    pub fn allowed() -> String {
        format!("allowed are {}", Cloud::ALL.map(|c| c.name()).join(", "))
    }
}

impl std::fmt::Display for UnknownCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not a cloud: {}", self.0, Self::allowed())
    }
}

impl std::error::Error for UnknownCloud {}

impl FromStr for Cloud {
    type Err = UnknownCloud;
    /// Any case, `_` for `-`, and `gcchigh` for `gcc-high`.
    fn from_str(s: &str) -> Result<Self, UnknownCloud> {
        let n = s.trim().to_ascii_lowercase().replace('_', "-");
        Cloud::ALL
            .into_iter()
            .find(|c| c.name() == n || (n == "gcchigh" && *c == Cloud::GccHigh))
            .ok_or_else(|| UnknownCloud(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_by_its_name_and_its_hosts_agree() {
        for c in Cloud::ALL {
            assert_eq!(c.name().parse::<Cloud>(), Ok(c));
            assert_eq!(c.api_root(), format!("https://{}", c.api_host()));
            assert_eq!(c.login_endpoint(), format!("https://{}", c.login_host()));
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.name())
            );
        }
        assert_eq!("GCC_High".parse::<Cloud>(), Ok(Cloud::GccHigh));
        assert_eq!("gcchigh".parse::<Cloud>(), Ok(Cloud::GccHigh));
        assert!("azure".parse::<Cloud>().is_err());
    }
}
