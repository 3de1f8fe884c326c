//! Bringing events up to the configured size the way real records differ in size: by a longer
//! free-text field they really carry, never by a field the service does not send.

use crate::content::mix;

/// Where padding goes: after one of these texts (the client string of Exchange, the user agent
/// of SharePoint, OneDrive, Azure AD and Power BI, an alert's comments, a DLP mail's subject),
/// else as the extra properties Teams records carry.
const PAD_AFTER: [&str; 4] = [
    "Client=OWA;Action=ViaProxy",
    "(Windows NT 10.0; Win64; x64)",
    r#""Comments":"New alert"#,
    r#""Subject":""#,
];

/// Lengthen a free-text field of the record that starts at `start` by `pad`.
pub(crate) fn pad_field(s: &mut String, start: usize, pad: &str) {
    for marker in PAD_AFTER {
        if let Some(i) = s[start..].find(marker) {
            s.insert_str(start + i + marker.len(), pad);
            return;
        }
    }
    if s[start..].contains(r#""Workload":"MicrosoftTeams""#) {
        s.push_str(r#","ExtraProperties":[{"Key":"UserAgent","Value":""#);
        s.push_str(pad);
        s.push_str(r#""}]"#);
    }
}

const PAD_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 ;=/.";
/// Length of the padding text.
pub(crate) const PAD_LEN: usize = 16 * 1024;

/// A fixed pseudo-random text; padding is a slice of it (copying beats generating per byte).
pub(crate) fn pad_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let mut k = 0x5eed_u64;
        (0..PAD_LEN)
            .map(|_| {
                k = mix(k);
                PAD_CHARS[(k % PAD_CHARS.len() as u64) as usize] as char
            })
            .collect()
    })
}
