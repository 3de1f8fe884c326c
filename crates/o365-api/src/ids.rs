//! Shapes of identifiers: tenant GUIDs and verified domains.

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex digits; surrounding blanks ignored).
pub fn is_guid(s: &str) -> bool {
    let b = s.trim().as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The one spelling of a tenant GUID (lower case, no blanks); `None` when `s` is not a GUID.
pub fn normal_guid(s: &str) -> Option<String> {
    is_guid(s).then(|| s.trim().to_ascii_lowercase())
}

/// A DNS name with at least two labels, such as `contoso.onmicrosoft.com`.
pub fn is_domain(s: &str) -> bool {
    let t = s.trim();
    t.contains('.')
        && t.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_and_domains() {
        assert!(is_guid("7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80"));
        assert!(!is_guid("7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a8"));
        assert!(!is_guid("7c1e3a52x9d4b-4f0e-8a61-3b2d5e6f7a80"));
        assert_eq!(
            normal_guid(" 7C1E3A52-9D4B-4F0E-8A61-3B2D5E6F7A80 ").as_deref(),
            Some("7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80")
        );
        assert_eq!(normal_guid("contoso.onmicrosoft.com"), None);
        assert!(is_domain("contoso.onmicrosoft.com"));
        assert!(!is_domain("contoso"));
        assert!(!is_domain("contoso..com"));
    }
}
