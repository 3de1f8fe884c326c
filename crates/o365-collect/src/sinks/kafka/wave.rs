//! Records go to librdkafka in waves of at most one request per partition: before a record that
//! would take what is queued past one batch, the producer waits until everything queued is
//! acknowledged.
//!
//! Why: an idempotent (so every transactional) librdkafka 2.x producer keeps at most one
//! produce request in flight per partition, and while a further batch of that partition is
//! ready it wakes its broker thread again and again without waiting (`poll` with a timeout of
//! 0) until the answer comes. Measured here (one KRaft node, 1 KB records), that spin was half
//! of the sink's CPU. Sent in waves that fit one batch, with a linger long enough that nothing
//! leaves before the wave is flushed, no batch is ever ready while another is in flight, and
//! the broker thread sleeps while it waits.

/// The bytes a record takes in a batch besides its key, value and headers (an upper bound of
/// the record framing in a v2 record batch).
pub(super) const RECORD_OVERHEAD: usize = 64;

/// librdkafka's default `batch.size`.
const DEFAULT_BATCH_SIZE: usize = 1_000_000;
/// librdkafka's default `message.max.bytes`.
const DEFAULT_MESSAGE_MAX_BYTES: usize = 1_000_000;

/// The linger the producer is given unless the user set one: longer than any wave takes to
/// fill, so that a wave leaves as one request per partition when it is flushed.
pub(super) const LINGER_MS: &str = "1000";

/// What is queued and not yet known acknowledged, against the bytes one wave may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Waves {
    limit: usize,
    queued: usize,
}

impl Waves {
    /// Waves of at most `limit` bytes.
    pub(super) fn new(limit: usize) -> Self {
        Waves {
            limit: limit.max(1),
            queued: 0,
        }
    }

    /// Waves that fit one batch of a producer with these librdkafka settings (`batch.size`,
    /// `message.max.bytes`; unset or unreadable: librdkafka's defaults), a tenth kept back for
    /// the batch's own framing.
    pub(super) fn for_settings(get: impl Fn(&str) -> Option<String>) -> Self {
        let read = |k: &str, d: usize| {
            get(k)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|n| *n > 0)
                .unwrap_or(d)
        };
        let batch = read("batch.size", DEFAULT_BATCH_SIZE)
            .min(read("message.max.bytes", DEFAULT_MESSAGE_MAX_BYTES));
        Waves::new(batch / 10 * 9)
    }

    /// Whether everything queued must be acknowledged before a record of `size` bytes is
    /// queued (it then starts the next wave).
    pub(super) fn must_wait(&self, size: usize) -> bool {
        self.queued > 0 && self.queued.saturating_add(size) > self.limit
    }

    /// A record of `size` bytes was queued.
    pub(super) fn queue(&mut self, size: usize) {
        self.queued = self.queued.saturating_add(size);
    }

    /// Everything queued was acknowledged.
    pub(super) fn drained(&mut self) {
        self.queued = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_wave_fits_one_batch_of_the_settings() {
        assert_eq!(Waves::for_settings(|_| None).limit, 900_000);
        let set = |k: &str| (k == "batch.size").then(|| "200000".to_string());
        assert_eq!(Waves::for_settings(set).limit, 180_000);
        let set = |k: &str| (k == "message.max.bytes").then(|| "100000".to_string());
        assert_eq!(Waves::for_settings(set).limit, 90_000);
        let bad = |_: &str| Some("lots".to_string());
        assert_eq!(Waves::for_settings(bad).limit, 900_000);
    }

    proptest! {
        /// Between two acknowledged points the records queued never exceed the limit, unless
        /// one record alone does (it then goes alone); nothing waits before anything is queued.
        #[test]
        fn waves_never_hold_more_than_the_limit(
            limit in 1usize..10_000,
            // A record takes its framing at least (`RECORD_OVERHEAD`): never 0 bytes.
            sizes in proptest::collection::vec(1usize..3_000, 0..200),
            drains in proptest::collection::vec(any::<bool>(), 200),
        ) {
            let mut w = Waves::new(limit);
            let mut wave: Vec<usize> = Vec::new();
            for (i, size) in sizes.iter().enumerate() {
                let wait = w.must_wait(*size);
                if wave.is_empty() {
                    prop_assert!(!wait, "a wait with nothing queued");
                }
                if wait {
                    // The producer waits for its acknowledgements.
                    w.drained();
                    wave.clear();
                }
                w.queue(*size);
                wave.push(*size);
                let sum: usize = wave.iter().sum();
                prop_assert!(sum <= limit || wave.len() == 1, "{:?} over {}", wave, limit);
                if drains[i] {
                    w.drained();
                    wave.clear();
                }
            }
        }
    }
}
