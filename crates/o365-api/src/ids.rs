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
        assert!(is_domain("contoso.onmicrosoft.com"));
        assert!(!is_domain("contoso"));
        assert!(!is_domain("contoso..com"));
    }
}
