//! Bounded reads: a file or stream that is larger than any sane input is refused, not read whole.

use std::io::Read;
use std::path::Path;

/// Largest configuration file, certificate or request read (1 MiB).
pub const MAX_INPUT_BYTES: u64 = 1 << 20;

/// Read at most `limit` bytes from `r`; more is an error that names `what` and the limit.
pub fn read_capped(r: impl Read, limit: u64, what: &str) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{what} is larger than {} KiB: that is not a file this tool reads (is it the right path?)",
                limit / 1024
            ),
        ));
    }
    Ok(buf)
}

/// Read a whole file of at most [`MAX_INPUT_BYTES`].
pub fn read_file_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    read_capped(f, MAX_INPUT_BYTES, &path.display().to_string())
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn an_endless_file_is_refused_quickly() {
        let e = super::read_file_capped(std::path::Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("larger than 1024 KiB"), "{e}");
    }
}
