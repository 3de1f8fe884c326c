//! A tenant this instance writes, and jobs for several tenants, side by side or one at a time.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::producer::TxProducer;
use super::records::TenantState;
use super::spec::Transactions;

/// A tenant not in the state its next step needs (never expected).
pub(super) fn state_error() -> KafkaError {
    KafkaError::MessageProduction(RDKafkaErrorCode::State)
}

/// A tenant this instance writes: its producer (none after a failed transaction: the next one
/// is made afresh) and its checkpoint.
pub(super) struct Owned {
    /// Its producer (none until started, and after a failed transaction).
    pub producer: Option<TxProducer>,
    /// Its checkpoint.
    pub state: TenantState,
    /// The checkpoint was read from the topic.
    pub loaded: bool,
    /// What consumers see beyond the checkpoint's tail was taken in, for this producer.
    pub scanned: bool,
    /// When its checkpoint was last pruned.
    pub pruned: Instant,
}

impl Owned {
    /// A tenant not started yet.
    pub fn new() -> Self {
        Self {
            producer: None,
            state: TenantState::default(),
            loaded: false,
            scanned: false,
            pruned: Instant::now(),
        }
    }

    /// Started, its checkpoint read, and what lies beyond its tail taken in.
    pub fn ready(&self) -> bool {
        self.producer.is_some() && self.loaded && self.scanned
    }

    /// Run `fill` in one transaction of this tenant's producer; once committed, `apply` takes
    /// it into the checkpoint.
    pub fn transaction<T>(
        &mut self,
        fill: impl FnOnce(&TxProducer, &TenantState) -> Result<T, KafkaError>,
        apply: impl FnOnce(&mut TenantState, &T),
    ) -> Result<T, KafkaError> {
        let p = self.producer.as_ref().ok_or(state_error())?;
        let st = &self.state;
        let t = p.transaction(|p| fill(p, st))?;
        apply(&mut self.state, &t);
        Ok(t)
    }
}

/// Run `job` for each tenant named, side by side (one thread each: their brokers' round trips
/// overlap) or one after another as `how` says, and return the results by tenant.
pub(super) fn each_tenant<T: Send>(
    owned: &mut HashMap<String, Owned>,
    tenants: &HashSet<&str>,
    how: Transactions,
    job: impl Fn(&str, &mut Owned) -> Result<T, KafkaError> + Sync,
) -> Vec<(String, Result<T, KafkaError>)> {
    let mut mine: Vec<(&String, &mut Owned)> = owned
        .iter_mut()
        .filter(|(t, _)| tenants.contains(t.as_str()))
        .collect();
    if mine.len() == 1 || how == Transactions::OneAtATime {
        return mine
            .drain(..)
            .map(|(t, o)| (t.clone(), job(t, o)))
            .collect();
    }
    let job = &job;
    std::thread::scope(|s| {
        let handles: Vec<_> = mine
            .into_iter()
            .map(|(t, o)| (t.clone(), s.spawn(move || job(t, o))))
            .collect();
        handles
            .into_iter()
            .map(|(t, h)| {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(KafkaError::MessageProduction(RDKafkaErrorCode::Fail)));
                (t, r)
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// The most jobs seen running at once over four tenants, each job waiting (up to 500 ms)
    /// for another to be running beside it.
    fn most_at_once(how: Transactions) -> usize {
        let mut owned: HashMap<String, Owned> =
            (0..4).map(|i| (format!("t{i}"), Owned::new())).collect();
        let names: Vec<String> = owned.keys().cloned().collect();
        let tenants: HashSet<&str> = names.iter().map(String::as_str).collect();
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let results = each_tenant(&mut owned, &tenants, how, |_, _| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let t0 = Instant::now();
            while running.load(Ordering::SeqCst) < 2 && t0.elapsed() < Duration::from_millis(500) {
                std::thread::yield_now();
            }
            most.fetch_max(running.load(Ordering::SeqCst), Ordering::SeqCst);
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        });
        assert_eq!(results.len(), 4);
        assert!(results.iter().all(|(_, r)| r.is_ok()));
        most.load(Ordering::SeqCst)
    }

    #[test]
    fn one_at_a_time_never_overlaps_side_by_side_does() {
        assert_eq!(most_at_once(Transactions::OneAtATime), 1);
        assert!(most_at_once(Transactions::SideBySide) >= 2);
    }
}
