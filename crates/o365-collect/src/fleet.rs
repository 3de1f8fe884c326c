//! Many tenants in one process: one task per tenant (its own client, token cache and request
//! budget), one shared writer, one cap on blobs in flight shared by all. Tenants are added,
//! removed and restarted by applying a new list, without disturbing the unchanged ones.

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;

use o365_actions::config::Settings;
use secrecy::ExposeSecret as _;
use tokio::sync::{Mutex, Semaphore};
use tracing::Instrument as _;

use crate::options::Stop;
use crate::sinks::{SinkError, SinkSpec};
use crate::tenant::{TenantOptions, TenantRun, TenantShared, TenantStatus};
use crate::writer::{Writer, WriterHandle};

/// What a reload changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// Tenants started.
    pub added: Vec<String>,
    /// Tenants stopped.
    pub removed: Vec<String>,
    /// Tenants whose settings changed: stopped and started again.
    pub restarted: Vec<String>,
    /// Tenants left running as they were.
    pub unchanged: Vec<String>,
}

struct Running {
    fingerprint: u64,
    stop: Stop,
    /// `None` once awaited.
    join: Option<tokio::task::JoinHandle<()>>,
    shared: Arc<TenantShared>,
    /// What it runs with.
    settings: Settings,
}

/// The tenants of a service, collecting into one sink.
pub struct Fleet {
    spec: SinkSpec,
    opts: TenantOptions,
    store: Option<Arc<o365_store::Store>>,
    writer: std::sync::Mutex<Option<Writer>>,
    stats: Arc<crate::writer::SinkStats>,
    handle: std::sync::Mutex<Option<WriterHandle>>,
    global: Arc<Semaphore>,
    running: Mutex<BTreeMap<String, Running>>,
    keys: Arc<crate::identity::Keys>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("sink", &self.spec)
            .finish_non_exhaustive()
    }
}

/// A fingerprint of everything that would change how a tenant is collected (secrets included,
/// hashed: it is never shown).
fn fingerprint(s: &Settings) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for row in s.show() {
        (row.key, row.value, row.source).hash(&mut h);
    }
    if let Ok(Some(sec)) = s.secret() {
        sec.value.expose_secret().hash(&mut h);
    }
    if let Some(p) = &s.certificate_path {
        std::fs::read(&p.value).unwrap_or_default().hash(&mut h);
    }
    h.finish()
}

impl Fleet {
    /// Open the sink and its writer; `max_in_flight` blobs at most across all tenants.
    pub fn start(
        spec: SinkSpec,
        opts: TenantOptions,
        store: Option<Arc<o365_store::Store>>,
        max_in_flight: usize,
    ) -> Result<Self, SinkError> {
        // A commit may take every blob in flight: with many tenants, a tenant's share of a
        // smaller group would be a blob or two (and a Kafka transaction each).
        let batch = opts.collect.batch_blobs.max(max_in_flight);
        let writer = Writer::start(&spec, batch, crate::writer::queue_for(max_in_flight))?;
        let handle = writer.handle();
        let stats = writer.stats();
        Ok(Self {
            stats,
            spec,
            opts,
            store,
            writer: std::sync::Mutex::new(Some(writer)),
            handle: std::sync::Mutex::new(Some(handle)),
            global: Arc::new(Semaphore::new(max_in_flight.max(1))),
            running: Mutex::new(BTreeMap::new()),
            keys: Arc::default(),
        })
    }

    fn spawn(&self, settings: Settings, writer: WriterHandle) -> Running {
        let shared = Arc::new(TenantShared::new(&settings));
        let stop = Stop::default();
        let fingerprint = fingerprint(&settings);
        let span = tracing::info_span!("tenant", tenant = %settings.name);
        let run = TenantRun {
            settings: settings.clone(),
            shared: shared.clone(),
            opts: self.opts.clone(),
            spec: self.spec.clone(),
            writer,
            global: self.global.clone(),
            store: self.store.clone(),
            stop: stop.clone(),
            keys: self.keys.clone(),
        };
        Running {
            fingerprint,
            stop,
            join: Some(tokio::spawn(run.run().instrument(span))),
            shared,
            settings,
        }
    }

    async fn finish(r: Running) {
        r.stop.stop();
        if let Some(j) = r.join {
            let _ = j.await;
        }
        r.shared.stopped();
    }

    /// Make the running tenants these: start new ones, stop removed ones, restart changed ones.
    pub async fn apply(&self, tenants: Vec<Settings>) -> Applied {
        let mut running = self.running.lock().await;
        let mut out = Applied::default();
        let Some(writer) = self.handle.lock().ok().and_then(|h| h.clone()) else {
            return out; // shut down
        };
        let wanted: BTreeMap<String, Settings> =
            tenants.into_iter().map(|s| (s.name.clone(), s)).collect();
        let gone: Vec<String> = running
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for name in gone {
            if let Some(r) = running.remove(&name) {
                tracing::info!(tenant = %name, "tenant removed: stopping it");
                Self::finish(r).await;
                out.removed.push(name);
            }
        }
        // Every tenant about to run, to the sink at once (Kafka starts their producers first).
        let ids: Vec<String> = wanted
            .values()
            .filter_map(|s| s.tenant().ok().map(str::to_string))
            .collect();
        writer.prepare(ids).await;
        for (name, settings) in wanted {
            match running.get(&name) {
                Some(r) if r.fingerprint == fingerprint(&settings) => out.unchanged.push(name),
                Some(_) => {
                    if let Some(r) = running.remove(&name) {
                        tracing::info!(tenant = %name, "tenant changed: restarting it");
                        Self::finish(r).await;
                    }
                    running.insert(name.clone(), self.spawn(settings, writer.clone()));
                    out.restarted.push(name);
                }
                None => {
                    tracing::info!(tenant = %name, "tenant added: starting it");
                    running.insert(name.clone(), self.spawn(settings, writer.clone()));
                    out.added.push(name);
                }
            }
        }
        out
    }

    /// Every running tenant's shared state (metrics, client, status).
    pub async fn tenants(&self) -> Vec<Arc<TenantShared>> {
        self.running
            .lock()
            .await
            .values()
            .map(|r| r.shared.clone())
            .collect()
    }

    /// How the sink's commits go.
    pub fn sink_stats(&self) -> Arc<crate::writer::SinkStats> {
        self.stats.clone()
    }

    /// The settings every running tenant runs with (as the last reload applied them).
    pub async fn settings(&self) -> Vec<Settings> {
        self.running
            .lock()
            .await
            .values()
            .map(|r| r.settings.clone())
            .collect()
    }

    /// Every running tenant's status.
    pub async fn statuses(&self) -> Vec<TenantStatus> {
        self.tenants().await.iter().map(|t| t.status()).collect()
    }

    /// Wait until every tenant's loop has ended (without `follow`: after one pass each).
    pub async fn wait(&self) {
        let mut running = self.running.lock().await;
        for r in running.values_mut() {
            if let Some(j) = r.join.take() {
                let _ = j.await;
            }
        }
    }

    /// Stop every tenant (blobs in flight finish), then make everything durable. Later calls
    /// do nothing.
    pub async fn shutdown(&self) -> Result<(), SinkError> {
        let running = std::mem::take(&mut *self.running.lock().await);
        for (_, r) in running {
            Self::finish(r).await;
        }
        drop(self.handle.lock().ok().and_then(|mut h| h.take()));
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        match writer {
            Some(w) => w.close().await,
            None => Ok(()),
        }
    }
}
