//! A tenant this instance writes, and transactions of several tenants run side by side.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::producer::TenantProducer;
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
    pub producer: Option<TenantProducer>,
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
        fill: impl FnOnce(&TenantProducer, &TenantState) -> Result<T, KafkaError>,
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
pub(super) fn side_by_side<T: Send>(
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
