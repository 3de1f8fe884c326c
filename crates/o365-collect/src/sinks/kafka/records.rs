//! The checkpoint topic's records and the state they add up to. Keys name what a record is
//! about; the latest record of a key wins (so the topic may be compacted), and a record with
//! no value (a tombstone) forgets its key.
//!
//! - `c|TENANT|TYPE`: the cursor of a content type and where its collection began;
//! - `b|TENANT|CONTENT_ID`: a blob done, with the de-duplication keys of its events;
//! - `g|TENANT|TYPE|START`: a range that could no longer be listed;
//! - `t|TENANT|events`: the tail of the events topic after the tenant's last transaction;
//! - `s|TENANT|ID`: events found beyond the tail when a producer started (written by a
//!   transaction that never committed, yet visible): their keys, kept before the tail moves on.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use o365_api::ContentType;
use serde::{Deserialize, Serialize};

use crate::sinks::Resume;

/// A cursor record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CursorRec {
    /// The instance that wrote it.
    #[serde(default)]
    pub w: String,
    /// The cursor (ms).
    pub cursor: i64,
    /// Where collection began (ms).
    pub origin: i64,
    /// The service's clock when it moved (ms).
    pub service_now: i64,
    /// The local clock when it moved (ms).
    pub at: i64,
}

/// A blob record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlobRec {
    /// The instance that wrote it.
    #[serde(default)]
    pub w: String,
    /// Content type.
    pub ct: ContentType,
    /// `contentCreated` (ms).
    pub created: i64,
    /// Events in the blob.
    pub events: u64,
    /// Events written (first sightings).
    pub written: u64,
    /// Why it can never be fetched, if so.
    #[serde(default)]
    pub lost: Option<String>,
    /// De-duplication keys of its events: packed little-endian (seconds, hash) pairs, base64.
    #[serde(default)]
    pub keys: String,
}

/// A gap record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GapRec {
    /// The instance that wrote it.
    #[serde(default)]
    pub w: String,
    /// Content type.
    pub ct: ContentType,
    /// Start (ms).
    pub start: i64,
    /// End (ms).
    pub end: i64,
}

/// A tail record: the next offset of every partition of the events topic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TailRec {
    /// The instance that wrote it.
    #[serde(default)]
    pub w: String,
    /// Partition → next offset.
    pub partitions: HashMap<i32, i64>,
}

/// A record of events found beyond the tail: the de-duplication keys of events that consumers
/// can see although no blob record counts them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FoundRec {
    /// The instance that wrote it.
    #[serde(default)]
    pub w: String,
    /// Their keys, packed as a blob record's.
    pub keys: String,
}

/// The record key of events found beyond a tenant's tail (`id` tells such records apart).
pub fn found_key(tenant: &str, id: &str) -> String {
    format!("s|{tenant}|{id}")
}

/// The record key of a tenant's tail.
pub fn tail_key(tenant: &str) -> String {
    format!("t|{tenant}|events")
}

/// Pack event keys.
pub fn pack_keys(keys: &[(i64, i64)]) -> String {
    let mut b = Vec::with_capacity(keys.len() * 16);
    for (t, h) in keys {
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&h.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(b)
}

/// Unpack event keys (what cannot be read is skipped).
pub fn unpack_keys(s: &str) -> Vec<(i64, i64)> {
    let b = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s)
        .unwrap_or_default();
    b.chunks_exact(16)
        .map(|c| {
            let mut t = [0u8; 8];
            let mut h = [0u8; 8];
            t.copy_from_slice(&c[..8]);
            h.copy_from_slice(&c[8..]);
            (i64::from_le_bytes(t), i64::from_le_bytes(h))
        })
        .collect()
}

/// The record key of a cursor.
pub fn cursor_key(tenant: &str, ct: ContentType) -> String {
    format!("c|{tenant}|{}", ct.as_str())
}

/// The record key of a blob.
pub fn blob_key(tenant: &str, content_id: &str) -> String {
    format!("b|{tenant}|{content_id}")
}

/// The record key of a gap.
pub fn gap_key(tenant: &str, ct: ContentType, start: i64) -> String {
    format!("g|{tenant}|{}|{start}", ct.as_str())
}

/// Milliseconds of a time.
pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The time of milliseconds (the epoch if out of range).
pub fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// One tenant's checkpoint.
#[derive(Debug, Default)]
pub struct TenantState {
    /// Cursors.
    pub cursors: HashMap<ContentType, CursorRec>,
    /// Blobs done (without their keys, which are in `seen`).
    pub blobs: HashMap<String, BlobRec>,
    /// Every event key of every blob done, and of every event found beyond a tail.
    pub seen: crate::key::KeySet,
    /// Records of events found beyond a tail (by id): the newest of their keys' seconds.
    pub found: HashMap<String, i64>,
    /// Gaps.
    pub gaps: HashMap<String, GapRec>,
    /// The tail of the events topic after its last transaction (empty before the first).
    pub tail: HashMap<i32, i64>,
}

impl TenantState {
    /// Where a content type stands.
    pub fn resume(&self, ct: ContentType) -> Option<Resume> {
        self.cursors.get(&ct).map(|c| Resume {
            cursor: time(c.cursor),
            origin: time(c.origin),
        })
    }

    /// Content ids of `ct` done with `contentCreated >= since`.
    pub fn done_since(&self, ct: ContentType, since: DateTime<Utc>) -> HashSet<String> {
        let cut = ms(since);
        self.blobs
            .iter()
            .filter(|(_, b)| b.ct == ct && b.created >= cut)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Take a blob record in.
    pub fn add_blob(&mut self, id: String, mut rec: BlobRec) {
        self.seen.extend(unpack_keys(&rec.keys));
        rec.keys.clear();
        self.blobs.insert(id, rec);
    }

    /// Take a record of events found beyond the tail in.
    pub fn add_found(&mut self, id: String, rec: &FoundRec) {
        let keys = unpack_keys(&rec.keys);
        let newest = keys.iter().map(|(t, _)| *t).max().unwrap_or(i64::MIN);
        self.seen.extend(keys);
        self.found.insert(id, newest);
    }

    /// Forget what is older than `older_than`: blobs, records of events found, and event
    /// keys. Returns the record keys of `tenant` to write tombstones for.
    pub fn prune(&mut self, tenant: &str, older_than: DateTime<Utc>) -> Vec<String> {
        let cut = ms(older_than);
        let secs = older_than.timestamp();
        let mut gone: Vec<String> = vec![];
        self.blobs.retain(|id, b| {
            // A backfill's finished windows are kept: a window recorded is never asked again.
            let keep = b.created >= cut || crate::backfill::plan::is_window_id(id);
            if !keep {
                gone.push(blob_key(tenant, id));
            }
            keep
        });
        self.found.retain(|id, newest| {
            let keep = *newest >= secs;
            if !keep {
                gone.push(found_key(tenant, id));
            }
            keep
        });
        self.seen.retain(|(t, _)| *t >= secs);
        gone
    }
}

/// Every tenant's checkpoint, as read from the topic.
#[derive(Debug, Default)]
pub struct Checkpoints {
    /// By tenant.
    pub tenants: HashMap<String, TenantState>,
    /// The instance that wrote each tenant's latest record (kept for every tenant, also the
    /// ones whose records are skipped).
    pub writers: HashMap<String, String>,
}

#[derive(Deserialize)]
struct Writer {
    #[serde(default)]
    w: String,
}

impl Checkpoints {
    /// Apply one record of the topic; records of tenants `keep` refuses are ignored (this
    /// instance writes them itself, or does not collect them). Unreadable records are skipped
    /// with a warning.
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>, keep: impl Fn(&str) -> bool) {
        let Ok(key) = std::str::from_utf8(key) else {
            return;
        };
        let mut parts = key.splitn(3, '|');
        let (Some(kind), Some(tenant), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        if let Some(w) = value
            .and_then(|v| serde_json::from_slice::<Writer>(v).ok())
            .filter(|w| !w.w.is_empty())
        {
            self.writers.insert(tenant.to_string(), w.w);
        }
        if !keep(tenant) {
            return;
        }
        let st = self.tenants.entry(tenant.to_string()).or_default();
        let bad = |e: serde_json::Error| {
            tracing::warn!(key, error = %e, "unreadable checkpoint record skipped");
        };
        match (kind, value) {
            ("c", Some(v)) => match (
                rest.parse::<ContentType>(),
                serde_json::from_slice::<CursorRec>(v),
            ) {
                (Ok(ct), Ok(c)) => {
                    st.cursors.insert(ct, c);
                }
                (_, Err(e)) => bad(e),
                _ => {}
            },
            ("b", Some(v)) => match serde_json::from_slice::<BlobRec>(v) {
                Ok(b) => st.add_blob(rest.to_string(), b),
                Err(e) => bad(e),
            },
            ("b", None) => {
                st.blobs.remove(rest);
            }
            ("s", Some(v)) => match serde_json::from_slice::<FoundRec>(v) {
                Ok(f) => st.add_found(rest.to_string(), &f),
                Err(e) => bad(e),
            },
            ("s", None) => {
                st.found.remove(rest);
            }
            ("t", Some(v)) => match serde_json::from_slice::<TailRec>(v) {
                Ok(tr) => st.tail = tr.partitions,
                Err(e) => bad(e),
            },
            ("g", Some(v)) => match serde_json::from_slice::<GapRec>(v) {
                Ok(g) => {
                    st.gaps.insert(rest.to_string(), g);
                }
                Err(e) => bad(e),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_add_up_to_the_state_and_tombstones_forget() {
        let mut cp = Checkpoints::default();
        let none = |_: &str| true;
        let cur = CursorRec {
            w: "me".into(),
            cursor: 5_000,
            origin: 1_000,
            service_now: 6_000,
            at: 6_000,
        };
        cp.apply(
            cursor_key("t", ContentType::General).as_bytes(),
            Some(&serde_json::to_vec(&cur).unwrap()),
            none,
        );
        let blob = BlobRec {
            w: "me".into(),
            ct: ContentType::General,
            created: 2_000,
            events: 2,
            written: 2,
            lost: None,
            keys: pack_keys(&[(1, 2), (3, -4)]),
        };
        cp.apply(
            blob_key("t", "b1").as_bytes(),
            Some(&serde_json::to_vec(&blob).unwrap()),
            none,
        );
        cp.apply(b"x|garbage", Some(b"{"), none);
        cp.apply(
            cursor_key("t", ContentType::Exchange).as_bytes(),
            Some(b"not json"),
            none,
        );
        let st = &cp.tenants["t"];
        assert_eq!(st.resume(ContentType::General).unwrap().cursor, time(5_000));
        assert!(st.resume(ContentType::Exchange).is_none());
        assert!(st.seen.contains(&(3, -4)));
        cp.apply(blob_key("t", "b1").as_bytes(), None, none);
        assert!(cp.tenants["t"].blobs.is_empty());
        let found = FoundRec {
            w: "me".into(),
            keys: pack_keys(&[(7, 8), (9, 10)]),
        };
        cp.apply(
            found_key("t", "f1").as_bytes(),
            Some(&serde_json::to_vec(&found).unwrap()),
            none,
        );
        let st = cp.tenants.get_mut("t").unwrap();
        assert!(st.seen.contains(&(7, 8)) && st.seen.contains(&(9, 10)));
        assert_eq!(st.found["f1"], 9);
        // Pruning forgets the found events once all are older than the cut, with a tombstone.
        assert!(st.prune("t", time(9_000)).is_empty());
        assert_eq!(st.prune("t", time(10_000)), [found_key("t", "f1")]);
        assert!(!st.seen.contains(&(9, 10)));
        cp.apply(found_key("t", "f1").as_bytes(), None, none);
        assert!(cp.tenants["t"].found.is_empty());
        // Records of a tenant this instance writes are not taken from the topic.
        let skip: HashSet<String> = ["u".to_string()].into();
        cp.apply(
            cursor_key("u", ContentType::General).as_bytes(),
            Some(&serde_json::to_vec(&cur).unwrap()),
            |t| !skip.contains(t),
        );
        assert!(!cp.tenants.contains_key("u"));
        assert_eq!(
            cp.writers["u"], "me",
            "writers are tracked for skipped tenants too"
        );
        assert_eq!(
            unpack_keys(&pack_keys(&[(i64::MIN, i64::MAX)])),
            [(i64::MIN, i64::MAX)]
        );
    }
}
