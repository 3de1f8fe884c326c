//! Making tenants ready to write: producers started, checkpoints read, and what consumers can
//! already see beyond each tenant's tail taken in (see `tail.rs`), each step once for all.

use std::collections::{HashMap, HashSet};

use chrono::Utc;

use super::owned::{each_tenant, state_error, Owned};
use super::producer::TxProducer;
use super::records::*;
use super::tail::{Ends, Visible};
use super::writer::{bus, KafkaWriter};
use crate::sinks::SinkError;

impl KafkaWriter {
    /// Make the named tenants ready to write: producers started (all before any tail is read,
    /// so that reading one tenant's tail never waits on another's open transaction),
    /// checkpoints read, and what consumers can already see beyond each tail taken in (see
    /// `tail.rs`). Each step is done once for all of them. Returns the tenants that could not
    /// be made ready, and why.
    pub(super) fn ready(&mut self, tenants: &[&str]) -> Vec<(String, SinkError)> {
        let mut failed: Vec<(String, SinkError)> = vec![];
        let mut todo: HashSet<&str> = HashSet::new();
        for &t in tenants {
            if self.fenced.contains_key(t) {
                failed.push((t.into(), SinkError::Fenced { tenant: t.into() }));
            } else if !self.owned.get(t).is_some_and(Owned::ready) {
                todo.insert(t);
            }
        }
        if todo.is_empty() {
            return failed;
        }
        let fail_all =
            |todo: &HashSet<&str>, failed: &mut Vec<(String, SinkError)>, e: &SinkError| {
                failed.extend(
                    todo.iter()
                        .map(|t| (t.to_string(), SinkError::Bus(e.to_string()))),
                );
            };
        if let Err(e) = self.reader() {
            fail_all(&todo, &mut failed, &e);
            return failed;
        }
        if let Err(e) = self.start(&mut todo, &mut failed) {
            fail_all(&todo, &mut failed, &e);
            return failed;
        }
        if let Err(e) = self.load(&todo) {
            fail_all(&todo, &mut failed, &e);
            return failed;
        }
        self.scan(todo, &mut failed);
        failed
    }

    /// Start the producers of `todo` that have none, side by side. After a failure a new one is
    /// only made if no other instance has written for the tenant since (a broker may tell a
    /// fenced producer by closing its connection rather than with an error).
    fn start(
        &mut self,
        todo: &mut HashSet<&str>,
        failed: &mut Vec<(String, SinkError)>,
    ) -> Result<(), SinkError> {
        let restarts: Vec<&str> = todo
            .iter()
            .copied()
            .filter(|t| self.owned.get(*t).is_some_and(|o| o.producer.is_none()))
            .collect();
        if !restarts.is_empty() {
            let id = self.id.clone();
            let reader = self.reader()?;
            reader.catch_up()?;
            let taken: Vec<&str> = restarts
                .into_iter()
                .filter(|t| reader.checkpoints.writers.get(*t).is_some_and(|w| *w != id))
                .collect();
            for t in taken {
                tracing::error!(
                    tenant = t,
                    "fenced: another instance now collects this tenant"
                );
                self.fenced
                    .insert(t.into(), "another instance wrote since".into());
                self.owned.remove(t);
                todo.remove(t);
                failed.push((t.into(), SinkError::Fenced { tenant: t.into() }));
            }
        }
        let new: HashSet<&str> = todo
            .iter()
            .copied()
            .filter(|t| self.owned.get(*t).is_none_or(|o| o.producer.is_none()))
            .collect();
        for t in &new {
            self.owned.entry(t.to_string()).or_insert_with(Owned::new);
        }
        let spec = &self.spec;
        let started = each_tenant(&mut self.owned, &new, self.spec.transactions, |t, o| {
            o.producer = Some(TxProducer::start(
                spec,
                &spec.transactional_id(t),
                super::producer::TENANT_TIMEOUT,
            )?);
            o.scanned = false;
            Ok(())
        });
        for (t, r) in started {
            if let Err(e) = r {
                todo.remove(t.as_str());
                failed.push((t.clone(), self.failed(&t, e)));
            }
        }
        Ok(())
    }

    /// Read the checkpoints of the tenants of `todo` not read yet (one catch-up for all).
    fn load(&mut self, todo: &HashSet<&str>) -> Result<(), SinkError> {
        let unloaded: Vec<&str> = todo
            .iter()
            .copied()
            .filter(|t| !self.owned.get(*t).is_some_and(|o| o.loaded))
            .collect();
        if unloaded.is_empty() {
            return Ok(());
        }
        let reader = self.reader()?;
        reader.catch_up()?;
        let mut states = Vec::with_capacity(unloaded.len());
        for t in unloaded {
            reader.skip.insert(t.to_string());
            states.push((t, reader.checkpoints.tenants.remove(t).unwrap_or_default()));
        }
        for (t, state) in states {
            if let Some(o) = self.owned.get_mut(t) {
                o.state = state;
                o.loaded = true;
            }
        }
        Ok(())
    }

    /// Take in what consumers can see beyond the tails of the tenants of `todo` (one read for
    /// all); a tenant's first transaction records where its tail starts.
    fn scan(&mut self, todo: HashSet<&str>, failed: &mut Vec<(String, SinkError)>) {
        let mut first: HashSet<&str> = HashSet::new();
        let mut tails: HashMap<String, HashMap<i32, i64>> = HashMap::new();
        for t in todo {
            let Some(o) = self
                .owned
                .get(t)
                .filter(|o| o.producer.is_some() && !o.scanned)
            else {
                continue;
            };
            if o.state.tail.is_empty() {
                first.insert(t);
            } else {
                tails.insert(t.to_string(), o.state.tail.clone());
            }
        }
        if !tails.is_empty() {
            let found = match &self.ends {
                Some(ends) => super::tail::visible_after(&self.spec, ends, &tails),
                None => Err(bus("tail", "not started")),
            };
            match found {
                Ok(found) => self.keep_found(found, failed),
                Err(e) => failed.extend(
                    tails
                        .into_keys()
                        .map(|t| (t, SinkError::Bus(e.to_string()))),
                ),
            }
        }
        if first.is_empty() {
            return;
        }
        let ends = match self.ends.as_ref().map(Ends::all) {
            Some(Ok(e)) => Ok(e),
            Some(Err(e)) => Err(e),
            None => Err(bus("tail", "not started")),
        };
        let ends = match ends {
            Ok(e) => e,
            Err(e) => {
                failed.extend(
                    first
                        .iter()
                        .map(|t| (t.to_string(), SinkError::Bus(e.to_string()))),
                );
                return;
            }
        };
        let (spec, id) = (&self.spec, self.id.as_str());
        let done = each_tenant(&mut self.owned, &first, self.spec.transactions, |t, o| {
            let rec = TailRec {
                w: id.to_string(),
                partitions: ends.clone(),
            };
            let key = tail_key(t);
            o.transaction(
                |p, _| p.record(&spec.checkpoint_topic, &key, &rec),
                |st, _| st.tail = ends.clone(),
            )?;
            o.scanned = true;
            Ok(())
        });
        for (t, r) in done {
            if let Err(e) = r {
                failed.push((t.clone(), self.failed(&t, e)));
            }
        }
    }

    /// Keep what a scan found beyond the tails: events that no blob record counts, written by
    /// a transaction that never committed, yet visible. Their keys are recorded (one
    /// transaction per tenant) before the tenant's next transaction moves its tail past them:
    /// otherwise a later instance, scanning from the new tail, would write them again.
    fn keep_found(&mut self, found: Visible, failed: &mut Vec<(String, SinkError)>) {
        let mut new: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
        for (t, keys) in found {
            let Some(o) = self.owned.get_mut(&t) else {
                continue;
            };
            let keys: Vec<(i64, i64)> = keys
                .into_iter()
                .filter(|k| !o.state.seen.contains(k))
                .collect();
            if keys.is_empty() {
                o.scanned = true;
            } else {
                new.insert(t, keys);
            }
        }
        if new.is_empty() {
            return;
        }
        let names: HashSet<&str> = new.keys().map(String::as_str).collect();
        let (spec, id) = (&self.spec, self.id.as_str());
        let at = ms(Utc::now());
        let done = each_tenant(&mut self.owned, &names, self.spec.transactions, |t, o| {
            let keys = new.get(t).ok_or(state_error())?;
            let rec = FoundRec {
                w: id.to_string(),
                keys: pack_keys(keys),
            };
            let fid = format!("{id}-{at}");
            let key = found_key(t, &fid);
            o.transaction(
                |p, _| p.record(&spec.checkpoint_topic, &key, &rec),
                |st, _| st.add_found(fid.clone(), &rec),
            )?;
            o.scanned = true;
            Ok(())
        });
        for (t, r) in done {
            if let Err(e) = r {
                failed.push((t.clone(), self.failed(&t, e)));
            }
        }
    }
}
