//! Where events go. Every sink implements [`Sink`], which the writer thread drives: resume a
//! content type, commit a group of blobs together with the checkpoint that says they are done,
//! record gaps, prune. A sink is one file here plus one line in [`SCHEMES`].

pub mod jsonl;
pub mod kafka;
pub mod null;
pub mod sqlite;
pub mod stdout;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use o365_api::ContentType;

pub use crate::blob::{BlobOut, Committed, CursorMove, Resume, RetentionGap, SinkError};
pub use crate::status::TypeStatus;
pub use kafka::Held;

/// A sink with its checkpoint, driven by one writer thread.
pub trait Sink: Send {
    /// Where collection of `(tenant, ct)` stands, if it ever began.
    fn resume(&mut self, tenant: &str, ct: ContentType) -> Result<Option<Resume>, SinkError>;
    /// Content ids already done for `(tenant, ct)` with `contentCreated >= since`.
    fn done_since(
        &mut self,
        tenant: &str,
        ct: ContentType,
        since: DateTime<Utc>,
    ) -> Result<HashSet<String>, SinkError>;
    /// Make blobs and cursor moves durable, together: when this returns, every blob not of a
    /// failed tenant is done, and its events are in the sink exactly once.
    fn commit(&mut self, blobs: &[BlobOut], cursors: &[CursorMove])
        -> Result<Committed, SinkError>;
    /// Whether [`Sink::stage`] can write blobs ahead of the commit that makes them durable
    /// (then a commit may take more blobs than the writer holds at once).
    fn stages(&self) -> bool {
        false
    }
    /// Write `blobs` into the commit being built: nothing is durable until the next
    /// [`Sink::commit`], which makes them durable with its own (or, failing, none of them).
    /// The events written per blob. Only called when [`Sink::stages`] says so.
    fn stage(&mut self, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError> {
        let _ = blobs;
        Err(SinkError::Bus(
            "this sink writes blobs only when it commits".into(),
        ))
    }
    /// Record a range that can no longer be listed.
    fn record_gap(&mut self, gap: &RetentionGap) -> Result<(), SinkError>;
    /// Forget what can never be listed again (done blobs, seen ids older than `older_than`).
    fn prune(&mut self, older_than: DateTime<Utc>) -> Result<(), SinkError>;
    /// These tenants are about to be collected: get ready for all of them at once (a sink
    /// that needs nothing of the kind ignores it).
    fn prepare(&mut self, tenants: &[String]) {
        let _ = tenants;
    }
    /// How often [`Sink::idle`] must be called while no work arrives (none: never).
    fn idle_every(&self) -> Option<std::time::Duration> {
        None
    }
    /// Nothing arrived for [`Sink::idle_every`]: serve what needs serving (a group's rebalance).
    fn idle(&mut self) {}
}

/// How one kind of sink is named, checked, opened and read.
pub trait SinkKind: Send + Sync + std::fmt::Debug {
    /// A short name for reports (`sqlite:/path`).
    fn name(&self) -> String;
    /// Check what can be checked before any request (writable, not a device, ...).
    fn check(&self) -> Result<(), SinkError>;
    /// Open for writing.
    fn open(&self) -> Result<Box<dyn Sink>, SinkError>;
    /// Progress of a tenant, read without writing anything; `None` when nothing was collected.
    fn status(&self, tenant: &str) -> Result<Option<Vec<TypeStatus>>, SinkError>;
    /// How `--sink` names it, independent of the working directory, when reading commands may
    /// open it again by that name (local files only: nothing with options or secrets).
    fn remembered(&self) -> Option<String> {
        None
    }
    /// The keys of the tenants this sink holds state for, read without writing anything.
    fn tenants(&self) -> Result<Vec<String>, SinkError> {
        let Some(p) = self.checkpoint_path() else {
            return Ok(Vec::new());
        };
        match crate::checkpoint::Checkpoint::open_read_only(&p)? {
            Some(c) => c.tenants(),
            None => Ok(Vec::new()),
        }
    }
    /// Whether events go to standard output (then reports go to standard error).
    fn writes_stdout(&self) -> bool {
        false
    }
    /// The local checkpoint file, if the sink keeps one.
    fn checkpoint_path(&self) -> Option<PathBuf> {
        None
    }
    /// Rewrite the events it stores in the current layout, if an earlier version laid them out
    /// otherwise (only SQLite has a layout of its own).
    fn upgrade(&self) -> Result<sqlite::Upgrade, SinkError> {
        Ok(sqlite::Upgrade::NotApplicable)
    }
    /// The same sink for an instance `instance` of a fleet that shares the tenants among its
    /// instances, and what this instance holds as it changes; `None` when the sink cannot share
    /// (only Kafka can: its group protocol decides who collects what).
    fn in_fleet(&self, instance: &str) -> Option<(SinkSpec, tokio::sync::watch::Receiver<Held>)> {
        let _ = instance;
        None
    }
}

/// A parsed `--sink` value.
#[derive(Debug, Clone)]
pub struct SinkSpec(Arc<dyn SinkKind>);

/// A `--sink` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--sink {spec:?}: {problem}")]
pub struct SinkSpecError {
    /// What was given.
    pub spec: String,
    /// What is wrong, and what is allowed.
    pub problem: String,
}

/// What a spec parser may need besides the text after the scheme.
#[derive(Debug, Clone)]
pub struct SpecContext {
    /// Where `stdout` keeps its checkpoint.
    pub stdout_checkpoint: PathBuf,
}

type Parser = fn(Option<&str>, &SpecContext) -> Result<SinkSpec, String>;

/// Every sink: its scheme, the form it is written in, and its parser.
pub const SCHEMES: [(&str, &str, Parser); 5] = [
    ("sqlite", "sqlite:PATH", sqlite::parse),
    ("jsonl", "jsonl:PATH[?envelope]", jsonl::parse),
    ("stdout", "stdout[?envelope]", stdout::parse),
    ("null", "null", null::parse),
    (
        "kafka",
        "kafka://HOST:PORT[,HOST:PORT]/TOPIC[?option=value&...]",
        kafka::parse,
    ),
];

/// The path after `sqlite:` or `jsonl:`, or why it is missing.
pub(crate) fn path_after(rest: Option<&str>, example: &str) -> Result<PathBuf, String> {
    match rest.map(str::trim) {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(format!("give a file after the colon, e.g. {example}")),
    }
}

impl SinkSpec {
    /// Wrap a sink kind.
    pub fn new(kind: impl SinkKind + 'static) -> Self {
        SinkSpec(Arc::new(kind))
    }

    /// Parse a `--sink` value: `sqlite:PATH`, `jsonl:PATH`, `stdout`, `null` or `kafka://...`.
    pub fn parse(s: &str, ctx: &SpecContext) -> Result<SinkSpec, SinkSpecError> {
        let t = s.trim();
        // The scheme ends at the first `:` (what follows it is the sink's) or `?` (options
        // of a sink without a colon: `stdout?envelope`).
        let (scheme, rest) = match t.find([':', '?']) {
            Some(i) if t[i..].starts_with(':') => (&t[..i], Some(&t[i + 1..])),
            Some(i) => (&t[..i], Some(&t[i..])),
            None => (t, None),
        };
        let err = |problem: String| SinkSpecError {
            spec: s.into(),
            problem,
        };
        match SCHEMES.iter().find(|(name, _, _)| *name == scheme) {
            Some((_, _, parse)) => parse(rest, ctx).map_err(err),
            None => Err(err(format!(
                "allowed are {}",
                SCHEMES.map(|(_, form, _)| form).join(", ")
            ))),
        }
    }

    /// SQLite at `path`.
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        Self::new(sqlite::SqliteKind::new(path.into()))
    }

    /// JSON lines at `path`.
    pub fn jsonl(path: impl Into<PathBuf>) -> Self {
        Self::new(jsonl::JsonlKind::new(path.into()))
    }

    /// Discard events (the pipeline's limit); checkpoint in memory.
    pub fn null() -> Self {
        Self::new(null::NullKind)
    }

    /// The kind behind the spec.
    pub fn kind(&self) -> &dyn SinkKind {
        self.0.as_ref()
    }

    /// A short name for reports.
    pub fn name(&self) -> String {
        self.0.name()
    }

    /// Check what can be checked before any request.
    pub fn check(&self) -> Result<(), SinkError> {
        self.0.check()
    }

    /// Open for writing.
    pub fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        self.0.open()
    }

    /// Progress of a tenant, read-only.
    pub fn status(&self, tenant: &str) -> Result<Option<Vec<TypeStatus>>, SinkError> {
        self.0.status(tenant)
    }

    /// How `--sink` names it for reading commands later (local files only).
    pub fn remembered(&self) -> Option<String> {
        self.0.remembered()
    }

    /// The keys of the tenants this sink holds state for.
    pub fn tenants(&self) -> Result<Vec<String>, SinkError> {
        self.0.tenants()
    }

    /// Whether events go to standard output.
    pub fn writes_stdout(&self) -> bool {
        self.0.writes_stdout()
    }

    /// The local checkpoint file, if any.
    pub fn checkpoint_path(&self) -> Option<PathBuf> {
        self.0.checkpoint_path()
    }

    /// Rewrite its stored events in the current layout (see [`SinkKind::upgrade`]).
    pub fn upgrade(&self) -> Result<sqlite::Upgrade, SinkError> {
        self.0.upgrade()
    }

    /// This sink for instance `instance` of a fleet that shares tenants, if it can share.
    pub fn in_fleet(
        &self,
        instance: &str,
    ) -> Option<(SinkSpec, tokio::sync::watch::Receiver<Held>)> {
        self.0.in_fleet(instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_name_their_checkpoints_and_refuse_with_the_allowed_forms() {
        let ctx = SpecContext {
            stdout_checkpoint: "/s/stdout.sqlite".into(),
        };
        let p = |s| SinkSpec::parse(s, &ctx);
        assert_eq!(p("sqlite:a.db").unwrap().name(), "sqlite:a.db");
        assert_eq!(
            p("jsonl:/x/e.jsonl").unwrap().checkpoint_path().unwrap(),
            PathBuf::from("/x/e.jsonl.checkpoint.sqlite")
        );
        let out = p("stdout").unwrap();
        assert!(out.writes_stdout());
        assert_eq!(p("stdout?envelope").unwrap().name(), "stdout?envelope");
        let e = p("stdout?wrapped").unwrap_err();
        assert!(e.problem.contains("?envelope"), "{e}");
        let e = p("stdout:x").unwrap_err();
        assert!(e.problem.contains("?envelope"), "{e}");
        assert_eq!(out.checkpoint_path().unwrap(), ctx.stdout_checkpoint);
        assert_eq!(p("null").unwrap().checkpoint_path(), None);
        let e = p("sqlite:").unwrap_err();
        assert!(e.problem.contains("give a file"), "{e}");
        for bad in ["file.jsonl", "mysql:x"] {
            let e = p(bad).unwrap_err();
            assert!(
                e.problem.contains("sqlite:PATH") && e.problem.contains("kafka://"),
                "{e}"
            );
            assert_eq!(e.spec, bad);
        }
    }
}
