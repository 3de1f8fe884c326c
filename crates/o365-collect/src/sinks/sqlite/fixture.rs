//! Test fixtures of the SQLite sink: blobs of small events, and what a file shows of them.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _};

use crate::sinks::BlobOut;

/// A blob of `tenant` with events `(Id, CreationTime)`; an event with a time has a user,
/// a workload and a record type too.
pub(super) fn blob(tenant: &str, content_id: &str, events: &[(&str, Option<&str>)]) -> BlobOut {
    let body: Vec<String> = events
        .iter()
        .map(|(id, at)| match at {
            Some(t) => format!(
                r#"{{"Id":"{id}","CreationTime":"{t}","Operation":"Op","UserId":"u@x","Workload":"W","RecordType":2}}"#
            ),
            None => format!(r#"{{"Id":"{id}","Operation":"Op"}}"#),
        })
        .collect();
    BlobOut {
        tenant: tenant.into(),
        content_type: o365_api::ContentType::Exchange,
        content_id: content_id.into(),
        content_created: chrono::Utc::now(),
        events: o365_api::event::decode_blob_shared(
            format!("[{}]", body.join(",")).into_bytes().into(),
        )
        .unwrap(),
        lost: None,
    }
}

/// An event as `events` shows it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Row {
    pub tenant: String,
    pub id: String,
    pub content_type: String,
    pub creation_time: String,
    pub content_id: String,
    pub record_type: Option<i64>,
    pub raw: String,
    pub dedup: i64,
}

/// Every event as the view `events` (or the wide table) shows it, by id and tenant.
pub(super) fn rows(path: &Path) -> Vec<Row> {
    let c = Connection::open(path).unwrap();
    let mut st = c
        .prepare(
            "SELECT tenant, id, content_type, creation_time, content_id, record_type, raw, dedup
               FROM events ORDER BY id, tenant",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok(Row {
            tenant: r.get(0)?,
            id: r.get(1)?,
            content_type: r.get(2)?,
            creation_time: r.get(3)?,
            content_id: r.get(4)?,
            record_type: r.get(5)?,
            raw: r.get(6)?,
            dedup: r.get(7)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// What `name` is in the file's schema (`table`, `view`, `index`), if anything.
pub(super) fn object_type(path: &Path, name: &str) -> Option<String> {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .unwrap()
}
