//! Files that hold personal data or secrets: private modes whatever the umask, and never a
//! companion file created next to a device or a directory.

use std::io;
use std::path::Path;

/// Create `dir` and its missing parents; the ones created here get mode 0700.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Check that `path` is a regular file or does not exist yet: SQLite and our sinks create
/// companion files (`-wal`, `.checkpoint.sqlite`) next to it, which must never land beside a
/// device such as `/dev/null`.
pub fn check_regular(field: &str, path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{field} {} is {}, not a regular file: give a file path (it is created if missing)",
                path.display(),
                if m.is_dir() {
                    "a directory"
                } else {
                    "a device or other special file"
                }
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Create `path` (and its directory) with mode 0600 if it does not exist; an existing file
/// keeps its mode.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path).map(drop)
}

/// Open an SQLite file for reading without writing anything, not even the `-shm`/`-wal` files
/// WAL mode uses: when no `-wal` file exists (no writer is active), the file is opened as
/// immutable; otherwise read-only through the writer's shared index.
pub fn open_sqlite_read_only(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if Path::new(&wal).exists() {
        return rusqlite::Connection::open_with_flags(path, flags);
    }
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", c as u32)),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    rusqlite::Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
}

/// Whether other users may read `path` (unix mode bits), for warnings about secrets.
pub fn readable_by_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn private_whatever_the_umask() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a/b/state.sqlite");
        create_private_file(&f).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&f), 0o600);
        assert_eq!(mode(&d.path().join("a/b")), 0o700);
        assert_eq!(mode(&d.path().join("a")), 0o700);
        assert!(check_regular("--state", Path::new("/dev/null")).is_err());
        assert!(check_regular("--state", d.path()).is_err());
        check_regular("--state", &f).unwrap();
        check_regular("--state", &d.path().join("missing")).unwrap();
    }
}
