//! The five content types.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A content type of the Activity API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ContentType {
    /// `Audit.AzureActiveDirectory`
    #[serde(rename = "Audit.AzureActiveDirectory")]
    AzureActiveDirectory,
    /// `Audit.Exchange`
    #[serde(rename = "Audit.Exchange")]
    Exchange,
    /// `Audit.SharePoint`
    #[serde(rename = "Audit.SharePoint")]
    SharePoint,
    /// `Audit.General`
    #[serde(rename = "Audit.General")]
    General,
    /// `DLP.All`
    #[serde(rename = "DLP.All")]
    DlpAll,
}

impl ContentType {
    /// All five, in canonical order.
    pub const ALL: [ContentType; 5] = [
        ContentType::AzureActiveDirectory,
        ContentType::Exchange,
        ContentType::SharePoint,
        ContentType::General,
        ContentType::DlpAll,
    ];

    /// Canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::AzureActiveDirectory => "Audit.AzureActiveDirectory",
            ContentType::Exchange => "Audit.Exchange",
            ContentType::SharePoint => "Audit.SharePoint",
            ContentType::General => "Audit.General",
            ContentType::DlpAll => "DLP.All",
        }
    }

    /// The content type spelled `s` exactly, or (with `case_insensitive`) in any case.
    pub fn parse(s: &str, case_insensitive: bool) -> Option<Self> {
        Self::ALL.into_iter().find(|c| {
            if case_insensitive {
                c.as_str().eq_ignore_ascii_case(s)
            } else {
                c.as_str() == s
            }
        })
    }
}

impl std::fmt::Display for ContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is none of the five content types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownContentType(pub String);

impl UnknownContentType {
    /// What is allowed.
    pub fn allowed() -> String {
        format!(
            "allowed are {}",
            ContentType::ALL.map(|c| c.as_str()).join(", ")
        )
    }
}

impl std::fmt::Display for UnknownContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not a content type: {}", self.0, Self::allowed())
    }
}

impl std::error::Error for UnknownContentType {}

impl FromStr for ContentType {
    type Err = UnknownContentType;
    /// Any case, surrounding blanks ignored.
    fn from_str(s: &str) -> Result<Self, UnknownContentType> {
        ContentType::parse(s.trim(), true).ok_or_else(|| UnknownContentType(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_parses_back_and_serialises_as_spelled() {
        for c in ContentType::ALL {
            assert_eq!(c.as_str().parse::<ContentType>(), Ok(c));
            assert_eq!(
                format!(" {} ", c.as_str().to_lowercase()).parse::<ContentType>(),
                Ok(c)
            );
            assert_eq!(ContentType::parse(&c.as_str().to_uppercase(), false), None);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        let e = "Audit.Teams".parse::<ContentType>().unwrap_err();
        assert!(e.to_string().contains("DLP.All"), "{e}");
    }
}
