//! The Kafka sink at work: one transactional producer per tenant, and each group of blobs
//! written as one transaction holding the events **and** the checkpoint records that say they
//! are done. A new producer fences any older one with the same id (its open transaction is
//! aborted), then the tenant's checkpoint is read back from the topic: a restarted or
//! replacement instance resumes exactly where the last commit left off. The tenants of one
//! commit have their transactions run side by side.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use o365_api::ContentType;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::BaseRecord;

use super::batch::{json, Batch};
use super::producer::{is_fenced, TenantProducer};
use super::reader::Reader;
use super::records::*;
use super::spec::KafkaSpec;
use super::tail::Ends;
use crate::sinks::{BlobOut, Committed, CursorMove, Resume, RetentionGap, Sink, SinkError};

const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A tenant not in the state its next step needs (never expected).
fn state_error() -> KafkaError {
    KafkaError::MessageProduction(RDKafkaErrorCode::State)
}

fn bus(what: &str, e: impl std::fmt::Display) -> SinkError {
    SinkError::Bus(format!("kafka: {what}: {e}"))
}

/// A tenant this instance writes: its producer (none after a failed transaction: the next one
/// is made afresh) and its checkpoint.
struct Owned {
    producer: Option<TenantProducer>,
    state: TenantState,
    /// The checkpoint was read from the topic.
    loaded: bool,
    /// What consumers see beyond the checkpoint's tail was taken in, for this producer.
    scanned: bool,
    pruned: Instant,
}

impl Owned {
    fn new() -> Self {
        Self {
            producer: None,
            state: TenantState::default(),
            loaded: false,
            scanned: false,
            pruned: Instant::now(),
        }
    }

    fn ready(&self) -> bool {
        self.producer.is_some() && self.loaded && self.scanned
    }

    /// Run `fill` in one transaction of this tenant's producer; once committed, `apply` takes
    /// it into the checkpoint.
    fn transaction<T>(
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
/// overlap), and return the results by tenant.
fn side_by_side<T: Send>(
    owned: &mut HashMap<String, Owned>,
    tenants: &HashSet<&str>,
    job: impl Fn(&str, &mut Owned) -> Result<T, KafkaError> + Sync,
) -> Vec<(String, Result<T, KafkaError>)> {
    let mut mine: Vec<(&String, &mut Owned)> = owned
        .iter_mut()
        .filter(|(t, _)| tenants.contains(t.as_str()))
        .collect();
    if mine.len() == 1 {
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

/// The Kafka sink.
pub(super) struct KafkaWriter {
    spec: KafkaSpec,
    /// This instance, in the records it writes.
    id: String,
    reader: Option<Reader>,
    ends: Option<Ends>,
    owned: HashMap<String, Owned>,
    fenced: HashMap<String, String>,
}

impl KafkaWriter {
    pub(super) fn new(spec: KafkaSpec) -> Self {
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        Self {
            spec,
            id: format!("{:016x}", h.finish()),
            reader: None,
            ends: None,
            owned: HashMap::new(),
            fenced: HashMap::new(),
        }
    }

    fn reader(&mut self) -> Result<&mut Reader, SinkError> {
        if self.reader.is_none() {
            super::topics::ensure(&self.spec)?;
            let ends = Ends::new(&self.spec)?;
            ends.all()?;
            self.ends = Some(ends);
            self.reader = Some(Reader::new(&self.spec)?);
        }
        self.reader.as_mut().ok_or_else(|| bus("reader", "missing"))
    }

    /// Make the named tenants ready to write: producers started (all before any tail is read,
    /// so that reading one tenant's tail never waits on another's open transaction),
    /// checkpoints read, and what consumers can already see beyond each tail taken in (see
    /// `tail.rs`). Each step is done once for all of them. Returns the tenants that could not
    /// be made ready, and why.
    fn ready(&mut self, tenants: &[&str]) -> Vec<(String, SinkError)> {
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
        let started = side_by_side(&mut self.owned, &new, |t, o| {
            o.producer = Some(TenantProducer::start(spec, t)?);
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
                Ok(found) => {
                    for (t, keys) in found {
                        if let Some(o) = self.owned.get_mut(&t) {
                            o.state.seen.extend(keys);
                            o.scanned = true;
                        }
                    }
                }
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
        let done = side_by_side(&mut self.owned, &first, |t, o| {
            let rec = TailRec {
                w: id.to_string(),
                partitions: ends.clone(),
            };
            let key = tail_key(t);
            o.transaction(
                |p, _| {
                    p.send(
                        BaseRecord::to(&spec.checkpoint_topic)
                            .key(key.as_str())
                            .payload(&json(&rec)[..]),
                    )
                },
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

    /// The tenant, ready to write.
    fn own(&mut self, tenant: &str) -> Result<&mut Owned, SinkError> {
        if let Some((_, e)) = self.ready(&[tenant]).pop() {
            return Err(e);
        }
        self.owned
            .get_mut(tenant)
            .ok_or_else(|| bus("tenant", "missing"))
    }

    /// One transaction of one tenant.
    fn transaction<T>(
        &mut self,
        tenant: &str,
        fill: impl FnOnce(&TenantProducer, &TenantState) -> Result<T, KafkaError>,
        apply: impl FnOnce(&mut TenantState, &T),
    ) -> Result<T, SinkError> {
        let r = self.own(tenant)?.transaction(fill, apply);
        r.map_err(|e| self.failed(tenant, e))
    }

    /// A transaction failed: a fenced tenant is given up for good (another instance collects
    /// it); otherwise its producer is dropped, and the next one is made afresh.
    fn failed(&mut self, tenant: &str, e: KafkaError) -> SinkError {
        if is_fenced(&e) {
            tracing::error!(tenant, error = %e, "fenced: another instance now collects this tenant");
            self.owned.remove(tenant);
            self.fenced.insert(tenant.into(), e.to_string());
            return SinkError::Fenced {
                tenant: tenant.into(),
            };
        }
        if let Some(o) = self.owned.get_mut(tenant) {
            o.producer = None;
            o.scanned = false;
        }
        bus(&format!("transaction of tenant {tenant}"), e)
    }
}

impl Sink for KafkaWriter {
    fn prepare(&mut self, tenants: &[String]) {
        let names: Vec<&str> = tenants.iter().map(String::as_str).collect();
        for (t, e) in self.ready(&names) {
            tracing::warn!(tenant = %t, error = %e, "not ready to write yet (retried when the tenant is collected)");
        }
    }

    fn resume(&mut self, tenant: &str, ct: ContentType) -> Result<Option<Resume>, SinkError> {
        Ok(self.own(tenant)?.state.resume(ct))
    }

    fn done_since(
        &mut self,
        tenant: &str,
        ct: ContentType,
        since: DateTime<Utc>,
    ) -> Result<HashSet<String>, SinkError> {
        let cut = ms(since);
        Ok(self
            .own(tenant)?
            .state
            .blobs
            .iter()
            .filter(|(_, b)| b.ct == ct && b.created >= cut)
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn commit(
        &mut self,
        blobs: &[BlobOut],
        cursors: &[CursorMove],
    ) -> Result<Committed, SinkError> {
        let batches = Batch::split(blobs, cursors);
        let names: Vec<&str> = batches.keys().copied().collect();
        let mut out = Committed {
            written: vec![0; blobs.len()],
            failed: self.ready(&names),
        };
        let go: HashSet<&str> = names
            .into_iter()
            .filter(|t| !out.failed.iter().any(|(f, _)| f == t))
            .collect();
        let now = ms(Utc::now());
        let (spec, id) = (&self.spec, self.id.as_str());
        // The events topic's end before any of these transactions: their tails.
        let mut before = HashMap::new();
        if go
            .iter()
            .any(|t| batches.get(t).is_some_and(|b| !b.blobs.is_empty()))
        {
            let known = match self.ends.as_ref() {
                Some(ends) => ends.known().map_err(|e| bus("the events topic's end", e)),
                None => Err(bus("tail", "not started")),
            };
            match known {
                Ok(k) => before = k,
                Err(e) => {
                    for t in go {
                        out.failed
                            .push((t.to_string(), SinkError::Bus(e.to_string())));
                    }
                    return Ok(out);
                }
            }
        }
        let before = &before;
        let results = side_by_side(&mut self.owned, &go, |t, o| {
            let batch = batches.get(t).ok_or(state_error())?;
            o.transaction(
                |p, st| super::batch::write(spec, before, id, p, st, batch, now),
                |st, w| w.apply(st),
            )
        });
        for (t, r) in results {
            match r {
                Ok(w) => {
                    let index = batches.get(t.as_str()).map(|b| &b.index[..]).unwrap_or(&[]);
                    for (i, n) in index.iter().zip(w.written) {
                        out.written[*i] = n;
                    }
                }
                Err(e) => {
                    let e = self.failed(&t, e);
                    out.failed.push((t, e));
                }
            }
        }
        Ok(out)
    }

    fn record_gap(&mut self, g: &RetentionGap) -> Result<(), SinkError> {
        let rec = GapRec {
            w: self.id.clone(),
            ct: g.content_type,
            start: ms(g.start),
            end: ms(g.end),
        };
        let key = gap_key(&g.tenant, g.content_type, rec.start);
        let topic = self.spec.checkpoint_topic.clone();
        let fill = |p: &TenantProducer, _: &TenantState| {
            p.send(
                BaseRecord::to(&topic)
                    .key(key.as_str())
                    .payload(&json(&rec)[..]),
            )
        };
        let (k2, r2) = (key.clone(), rec.clone());
        self.transaction(&g.tenant, fill, move |st, _| {
            st.gaps.insert(k2, r2);
        })
    }

    fn prune(&mut self, older_than: DateTime<Utc>) -> Result<(), SinkError> {
        let due: Vec<String> = self
            .owned
            .iter()
            .filter(|(_, o)| o.pruned.elapsed() >= PRUNE_EVERY)
            .map(|(t, _)| t.clone())
            .collect();
        for tenant in due {
            let Some(o) = self.owned.get_mut(&tenant) else {
                continue;
            };
            o.pruned = Instant::now();
            let gone = o.state.prune(older_than);
            if gone.is_empty() {
                continue;
            }
            // Tombstones: a compacted topic then forgets these blobs too.
            let topic = self.spec.checkpoint_topic.clone();
            let fill = |p: &TenantProducer, _: &TenantState| {
                for id in &gone {
                    let key = blob_key(&tenant, id);
                    let rec: BaseRecord<'_, str, [u8]> = BaseRecord::to(&topic).key(key.as_str());
                    p.send(rec)?;
                }
                Ok(())
            };
            if let Err(e) = self.transaction(&tenant, fill, |_, _| {}) {
                tracing::warn!(tenant, error = %e, "could not write the pruning tombstones (retried in an hour)");
            }
        }
        Ok(())
    }
}
