//! The checkpoint file's settings.

use super::*;

fn pragma(cp: &Checkpoint, name: &str) -> i64 {
    cp.conn
        .pragma_query_value(None, name, |r| r.get(0))
        .unwrap()
}

#[test]
fn event_files_get_16_kib_pages_and_a_128_mib_wal() {
    let dir = tempfile::tempdir().unwrap();
    let cp = Checkpoint::open(Some(&dir.path().join("e.sqlite")), Layout::WithEvents, "").unwrap();
    assert_eq!(pragma(&cp, "page_size"), 16384);
    assert_eq!(pragma(&cp, "wal_autocheckpoint"), 8192);
    let cp = Checkpoint::open(Some(&dir.path().join("s.sqlite")), Layout::WithSeen, "").unwrap();
    assert_eq!(pragma(&cp, "page_size"), 4096);
    assert_eq!(pragma(&cp, "wal_autocheckpoint"), 512);
}

#[test]
fn an_earlier_file_keeps_its_pages_and_its_wal_stays_128_mib() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    {
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "page_size", 65536).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.execute_batch("CREATE TABLE t (x)").unwrap();
    }
    let cp = Checkpoint::open(Some(&path), Layout::WithEvents, "").unwrap();
    assert_eq!(pragma(&cp, "page_size"), 65536);
    assert_eq!(pragma(&cp, "wal_autocheckpoint"), 2048);
}
