//! An event's identity across blobs and runs (tenant and `Id`, with its `CreationTime` second),
//! and the time stamps checkpoints store. A leaf: every sink takes these from here, whatever its
//! checkpoint.

use chrono::{DateTime, SecondsFormat, Utc};

/// FNV-1a (64 bits) of tenant and `Id`: the compact de-duplication key. Two different events
/// would have to share tenant, `CreationTime` second and this hash to be mistaken for each other.
pub fn dedup_key(tenant: &str, id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tenant.bytes().chain([0u8]).chain(id.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// An event's de-duplication key: its `CreationTime` second and [`dedup_key`].
pub fn event_key(tenant: &str, e: &o365_api::SharedEvent) -> (i64, i64) {
    (
        e.creation_time
            .map(|t| t.and_utc().timestamp())
            .unwrap_or(0),
        dedup_key(tenant, e.id()),
    )
}

/// A time as checkpoints store it (RFC 3339, milliseconds, `Z`).
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A time checkpoints stored.
pub(crate) fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
