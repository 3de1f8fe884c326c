//! The bearer token a listener requires (`--auth-token-file`), read and checked once.

use anyhow::Context as _;

use crate::term::warn;

/// A bearer token from a file: at least 16 characters; a warning when others can read it.
pub fn read_token(p: &std::path::Path) -> anyhow::Result<String> {
    let t = o365_api::limits::read_file_capped(p)
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .with_context(|| format!("cannot read --auth-token-file {}", p.display()))?;
    if let Some(mode) = o365_store::files::readable_by_others(p) {
        warn(&format!(
            "{} holds the bearer token and other users can read it (mode {mode:04o}): run `chmod 600 {}`",
            p.display(),
            p.display()
        ));
    }
    if let Some(c) = t.chars().find(|c| !c.is_ascii_graphic()) {
        anyhow::bail!(
            "--auth-token-file {}: the token holds {c:?}, which an HTTP header cannot carry (so it could never match): use printable ASCII only (e.g. `openssl rand -hex 32 > {}`)",
            p.display(),
            p.display()
        );
    }
    if t.len() < 16 {
        anyhow::bail!("--auth-token-file {}: the token must be at least 16 characters (e.g. `openssl rand -hex 32 > {}`)", p.display(), p.display());
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_an_http_header_cannot_carry_is_refused_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        for bad in ["tökenabcdefghijklmnop", "two words abcdefghijklmnop"] {
            std::fs::write(&p, bad).unwrap();
            let e = read_token(&p).unwrap_err().to_string();
            assert!(
                e.contains("printable ASCII") && e.contains("--auth-token-file"),
                "{e}"
            );
        }
        std::fs::write(&p, "0123456789abcdef0123\n").unwrap();
        assert_eq!(read_token(&p).unwrap(), "0123456789abcdef0123");
    }
}
