//! An event's identity across blobs and runs (tenant and `Id`, with its `CreationTime` second),
//! and the time stamps checkpoints store. A leaf: every sink takes these from here, whatever its
//! checkpoint.

use chrono::{DateTime, SecondsFormat, Utc};

/// FNV-1a (64 bits) of tenant and `Id`: the compact de-duplication key. Two different events
/// would have to share tenant, `CreationTime` second and this hash to be mistaken for each other.
pub fn dedup_key(tenant: &str, id: &str) -> i64 {
    TenantHash::new(tenant).dedup_key(id)
}

/// An event's de-duplication key: its `CreationTime` second and [`dedup_key`].
pub fn event_key(tenant: &str, e: &o365_api::SharedEvent) -> (i64, i64) {
    TenantHash::new(tenant).event_key(e)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// [`dedup_key`]'s hash with one tenant (and the separator) already taken in: the keys of that
/// tenant's events, the same values, without hashing the tenant again for each event.
#[derive(Debug, Clone, Copy)]
pub struct TenantHash(u64);

impl TenantHash {
    /// The hash after `tenant`.
    pub fn new(tenant: &str) -> Self {
        Self(fnv(fnv(FNV_OFFSET, tenant.as_bytes()), &[0]))
    }

    /// [`dedup_key`] of this tenant and `id`.
    pub fn dedup_key(self, id: &str) -> i64 {
        fnv(self.0, id.as_bytes()) as i64
    }

    /// [`event_key`] of this tenant's event `e`.
    pub fn event_key(self, e: &o365_api::SharedEvent) -> (i64, i64) {
        (
            e.creation_time
                .map(|t| t.and_utc().timestamp())
                .unwrap_or(0),
            self.dedup_key(e.id()),
        )
    }
}

/// Hashes event keys for a [`KeySet`]. An event key is a hash already (FNV-1a of tenant and
/// `Id`, beside a second): one multiply mixes it, where the standard hasher would hash the 16
/// bytes again. The ids come from the service, not from whoever could choose colliding ones.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv(self.0 ^ FNV_OFFSET, bytes);
    }

    fn write_i64(&mut self, n: i64) {
        self.0 = (self.0.rotate_left(26) ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A set of event keys (second, [`dedup_key`]).
pub type KeySet = std::collections::HashSet<(i64, i64), std::hash::BuildHasherDefault<KeyHasher>>;

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::hash::{BuildHasher as _, BuildHasherDefault};

    /// FNV-1a of tenant, a zero byte and id, one byte at a time (the definition).
    fn reference(tenant: &str, id: &str) -> i64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in tenant.bytes().chain([0u8]).chain(id.bytes()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h as i64
    }

    #[test]
    fn known_values_stay_what_checkpoints_stored() {
        // FNV-1a 64 of "\0" and of "t\0id": keys already stored must keep matching.
        assert_eq!(dedup_key("", "") as u64, 0xaf63_bd4c_8601_b7df);
        assert_eq!(dedup_key("t", "id"), reference("t", "id"));
    }

    proptest! {
        #[test]
        fn the_tenant_taken_in_once_gives_the_same_key(tenant in ".{0,40}", ids in proptest::collection::vec(".{0,40}", 1..8)) {
            let h = TenantHash::new(&tenant);
            for id in &ids {
                prop_assert_eq!(h.dedup_key(id), reference(&tenant, id));
                prop_assert_eq!(dedup_key(&tenant, id), reference(&tenant, id));
            }
        }

        #[test]
        fn a_key_set_finds_what_was_put_in_and_nothing_else(keys in proptest::collection::vec((any::<i64>(), any::<i64>()), 0..200), other in (any::<i64>(), any::<i64>())) {
            let set: KeySet = keys.iter().copied().collect();
            let std: std::collections::HashSet<(i64, i64)> = keys.iter().copied().collect();
            prop_assert_eq!(set.len(), std.len());
            for k in &keys {
                prop_assert!(set.contains(k));
            }
            prop_assert_eq!(set.contains(&other), std.contains(&other));
        }
    }

    #[test]
    fn keys_of_one_second_or_one_event_spread_over_the_table() {
        // The low bits pick the bucket, the top seven the control byte: both must vary when
        // only the second, or only the hash, does.
        let b = BuildHasherDefault::<KeyHasher>::default();
        let same_second: std::collections::HashSet<u64> = (0..1000i64)
            .map(|i| b.hash_one((1_700_000_000i64, reference("t", &i.to_string()))))
            .map(|h| h & 1023)
            .collect();
        let same_event: std::collections::HashSet<u64> = (0..1000i64)
            .map(|i| b.hash_one((1_700_000_000 + i, 42i64)))
            .map(|h| h & 1023)
            .collect();
        let tops: std::collections::HashSet<u64> = (0..1000i64)
            .map(|i| b.hash_one((1_700_000_000 + i, 42i64)) >> 57)
            .collect();
        assert!(same_second.len() > 500, "{}", same_second.len());
        assert!(same_event.len() > 500, "{}", same_event.len());
        assert_eq!(tops.len(), 128);
    }
}
