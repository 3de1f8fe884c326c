//! What one tenant's transaction of blobs writes: its events (new ones only), then, once they
//! are acknowledged, the records that say they are done, the cursors, and the tail: where the
//! events topic ended before this transaction (a scan from there finds all of its events).

use std::collections::HashMap;

use o365_api::ContentType;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::BaseRecord;

use super::producer::TxProducer;
use super::records::*;
use super::spec::KafkaSpec;
use crate::key::{KeySet, TenantHash};
use crate::sinks::{BlobOut, CursorMove};

/// One tenant's share of a commit.
pub(super) struct Batch<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// Its blobs.
    pub blobs: Vec<&'a BlobOut>,
    /// Where each of them is in the commit.
    pub index: Vec<usize>,
    /// Its cursor moves.
    pub cursors: Vec<&'a CursorMove>,
}

impl<'a> Batch<'a> {
    /// A commit's blobs and cursor moves, by tenant.
    pub fn split(blobs: &'a [BlobOut], cursors: &'a [CursorMove]) -> HashMap<&'a str, Self> {
        fn of<'a, 'm>(
            m: &'m mut HashMap<&'a str, Batch<'a>>,
            tenant: &'a str,
        ) -> &'m mut Batch<'a> {
            m.entry(tenant).or_insert_with(|| Batch {
                tenant,
                blobs: vec![],
                index: vec![],
                cursors: vec![],
            })
        }
        let mut out = HashMap::new();
        for (i, b) in blobs.iter().enumerate() {
            let batch = of(&mut out, &b.tenant);
            batch.blobs.push(b);
            batch.index.push(i);
        }
        for c in cursors {
            of(&mut out, &c.tenant).cursors.push(c);
        }
        out
    }
}

/// What a transaction of blobs wrote, to take into the checkpoint once committed.
pub(super) struct Written {
    /// Events written per blob (in the batch's order).
    pub written: Vec<u64>,
    keys: Vec<(i64, i64)>,
    blobs: Vec<(String, BlobRec)>,
    cursors: Vec<(ContentType, CursorRec)>,
    /// The new tail, when events were written.
    tail: HashMap<i32, i64>,
}

impl Written {
    /// Put the counts of `batch`'s blobs in their places in the commit's `written`.
    pub fn place(&self, batch: Option<&Batch<'_>>, written: &mut [u64]) {
        let index = batch.map(|b| &b.index[..]).unwrap_or(&[]);
        for (i, n) in index.iter().zip(&self.written) {
            written[*i] = *n;
        }
    }

    /// Take the committed transaction into the tenant's checkpoint.
    pub fn apply(&self, st: &mut TenantState) {
        st.seen.extend(self.keys.iter().copied());
        for (id, rec) in &self.blobs {
            let mut r = rec.clone();
            r.keys.clear();
            st.blobs.insert(id.clone(), r);
        }
        for (ct, rec) in &self.cursors {
            st.cursors.insert(*ct, rec.clone());
        }
        if !self.tail.is_empty() {
            st.tail = self.tail.clone();
        }
    }
}

/// The names of an event's headers.
const HEADER_NAMES: [&str; 4] = ["tenant", "content_type", "content_id", "creation_time"];

/// An event's headers, and the bytes they take in a batch (names, values and 8 bytes of framing
/// each, at most).
fn event_headers(tenant: &str, b: &BlobOut, created: &str) -> (OwnedHeaders, usize) {
    let values = [
        tenant,
        b.content_type.as_str(),
        b.content_id.as_str(),
        created,
    ];
    let mut headers = OwnedHeaders::new_with_capacity(HEADER_NAMES.len());
    let mut bytes = 0;
    for (key, value) in HEADER_NAMES.into_iter().zip(values) {
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
        bytes += key.len() + value.len() + 8;
    }
    (headers, bytes)
}

/// A batch's events sent into an open transaction, not yet acknowledged.
pub(super) struct Sent {
    /// The keys of the events sent, per blob (in the batch's order).
    per_blob: Vec<Vec<(i64, i64)>>,
    /// Whether any event was sent.
    pub any: bool,
}

/// Write the batch into the open transaction of `p`. `before` is the end of the events topic's
/// partitions before any of this transaction's events (the tail it records); `id` names this
/// instance; `now` is when the cursors moved (ms).
pub(super) fn write(
    spec: &KafkaSpec,
    before: &HashMap<i32, i64>,
    id: &str,
    p: &TxProducer,
    st: &TenantState,
    batch: &Batch<'_>,
    now: i64,
) -> Result<Written, KafkaError> {
    let sent = send_events(spec, p, st, batch)?;
    // Events first, acknowledged before any checkpoint record that counts them: whatever a
    // consumer may see of this transaction, the checkpoint never claims more than that.
    if sent.any {
        p.flush()?;
    }
    send_checkpoints(spec, before, id, p, st, batch, sent, now)
}

/// Send the batch's new events (those the tenant's checkpoint has not seen) into the open
/// transaction of `p`. Their checkpoint records go after they are acknowledged
/// ([`send_checkpoints`]); a transaction of many tenants sends every tenant's events, waits
/// once, then sends every tenant's checkpoint records.
pub(super) fn send_events(
    spec: &KafkaSpec,
    p: &TxProducer,
    st: &TenantState,
    batch: &Batch<'_>,
) -> Result<Sent, KafkaError> {
    let tenant = batch.tenant;
    let hash = TenantHash::new(tenant);
    let events: usize = batch.blobs.iter().map(|b| b.events.len()).sum();
    let mut fresh = KeySet::with_capacity_and_hasher(events, Default::default());
    let mut per_blob: Vec<Vec<(i64, i64)>> = Vec::with_capacity(batch.blobs.len());
    let mut key = String::new();
    let mut created = String::new();
    for b in &batch.blobs {
        let mut mine = Vec::with_capacity(b.events.len());
        for e in &b.events {
            let k = hash.event_key(e);
            if st.seen.contains(&k) || !fresh.insert(k) {
                continue; // a duplicate: already written, here or before
            }
            mine.push(k);
            key.clear();
            key.push_str(tenant);
            key.push('/');
            key.push_str(e.id());
            created.clear();
            if let Some(t) = &e.creation_time {
                o365_api::seconds::push_seconds(t, &mut created);
            }
            let (headers, header_bytes) = event_headers(tenant, b, &created);
            p.send(
                BaseRecord::to(&spec.topic)
                    .key(key.as_str())
                    .payload(&e.raw[..])
                    .headers(headers),
                header_bytes,
            )?;
        }
        per_blob.push(mine);
    }
    Ok(Sent {
        per_blob,
        any: !fresh.is_empty(),
    })
}

/// Send the records that say the batch's events (`sent`, acknowledged by now) are done: each
/// blob's, the cursors, and the tail.
#[allow(clippy::too_many_arguments)]
pub(super) fn send_checkpoints(
    spec: &KafkaSpec,
    before: &HashMap<i32, i64>,
    id: &str,
    p: &TxProducer,
    st: &TenantState,
    batch: &Batch<'_>,
    sent: Sent,
    now: i64,
) -> Result<Written, KafkaError> {
    let tenant = batch.tenant;
    let mut w = Written {
        written: Vec::with_capacity(batch.blobs.len()),
        keys: vec![],
        blobs: vec![],
        cursors: vec![],
        tail: HashMap::new(),
    };
    let any = sent.any;
    for (b, mine) in batch.blobs.iter().zip(sent.per_blob) {
        let rec = BlobRec {
            w: id.to_string(),
            ct: b.content_type,
            created: ms(b.content_created),
            events: b.events.len() as u64,
            written: mine.len() as u64,
            lost: b.lost.clone(),
            keys: pack_keys(&mine),
        };
        let bkey = blob_key(tenant, &b.content_id);
        p.record(&spec.checkpoint_topic, &bkey, &rec)?;
        w.written.push(mine.len() as u64);
        w.keys.extend(mine);
        w.blobs.push((b.content_id.clone(), rec));
    }
    for c in &batch.cursors {
        let rec = CursorRec {
            w: id.to_string(),
            cursor: ms(c.cursor),
            origin: st
                .cursors
                .get(&c.content_type)
                .map_or(ms(c.origin), |o| o.origin),
            service_now: ms(c.service_now),
            at: now,
        };
        let ckey = cursor_key(tenant, c.content_type);
        p.record(&spec.checkpoint_topic, &ckey, &rec)?;
        w.cursors.push((c.content_type, rec));
    }
    if any {
        // Where a scan for this transaction's events would start, should it never commit.
        let mut tail = st.tail.clone();
        for (part, end) in before {
            let e = tail.entry(*part).or_insert(0);
            *e = (*e).max(*end);
        }
        if tail != st.tail {
            let rec = TailRec {
                w: id.to_string(),
                partitions: tail.clone(),
            };
            let tkey = tail_key(tenant);
            p.record(&spec.checkpoint_topic, &tkey, &rec)?;
            w.tail = tail;
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers as _;

    #[test]
    fn the_headers_size_is_what_they_hold() {
        let b = BlobOut {
            tenant: "t".into(),
            content_type: ContentType::Exchange,
            content_id: "20261204-abc".into(),
            content_created: chrono::Utc::now(),
            events: vec![],
            lost: None,
        };
        let (h, bytes) = event_headers("tenant-1", &b, "2026-12-04T10:00:00");
        let read: usize = h
            .iter()
            .map(|h| h.key.len() + h.value.map_or(0, <[u8]>::len) + 8)
            .sum();
        assert_eq!(h.count(), 4);
        assert_eq!(bytes, read);
        let names: Vec<&str> = h.iter().map(|h| h.key).collect();
        assert_eq!(names, HEADER_NAMES);
    }
}
