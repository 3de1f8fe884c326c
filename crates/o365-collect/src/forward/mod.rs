//! Forwarding: the committed lines of a JSON-lines spool (the alerts) given to an output in
//! order, at most N per run, each line once. The spool is written effectively once by the
//! collector; a cursor per output ([`cursor`]) says how far that output has been given it, so
//! a capped run leaves the rest for the next, and a failed delivery is retried next time.
//!
//! Per output: `jsonl:PATH` exactly once (the file is cut back to the length its cursor
//! recorded); `kafka://…` exactly once (a batch that may have arrived is looked for in the
//! topic before it is sent again); `webhook:URL` and `stdout` at least once, a stop between
//! delivering and recording repeating at most the last line (webhook: with the same
//! `Idempotency-Key`) or the last batch (stdout).

pub mod cursor;
mod file;
mod kafka;
mod recent;
mod webhook;

pub use recent::recent;

use std::io::{BufRead as _, BufReader, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use crate::checkpoint::{beside, Checkpoint};
use crate::sinks::kafka::KafkaSpec;
use crate::sinks::SinkError;
use cursor::{Cursor, Position};

/// Lines read and given to an output at once.
const BATCH: usize = 500;

/// Where forwarded lines go: `stdout`, `jsonl:PATH`, `webhook:URL`, `kafka://…`.
#[derive(Debug, Clone)]
pub enum Target {
    /// Standard output.
    Stdout,
    /// A JSON-lines file.
    Jsonl(PathBuf),
    /// Each line POSTed to this URL.
    Webhook(url::Url),
    /// A Kafka topic.
    Kafka(KafkaSpec),
}

/// The forms a target is written in.
pub const FORMS: &str =
    "stdout, jsonl:PATH, webhook:https://HOST/PATH, kafka://HOST:PORT[,HOST:PORT]/TOPIC[?option=value&...]";

impl Target {
    /// Parse a `--sink` value of forwarding; the problem names what is allowed.
    pub fn parse(s: &str) -> Result<Target, String> {
        let t = s.trim();
        if t == "stdout" {
            return Ok(Target::Stdout);
        }
        if let Some(p) = t.strip_prefix("jsonl:") {
            return crate::sinks::path_after(Some(p), "jsonl:alerts.jsonl").map(Target::Jsonl);
        }
        if let Some(u) = t.strip_prefix("webhook:") {
            return o365_api::cloud::check_destination(u).map(Target::Webhook);
        }
        if let Some(k) = t.strip_prefix("kafka:") {
            return KafkaSpec::parse(k).map(Target::Kafka);
        }
        Err(format!("allowed are {FORMS}"))
    }

    /// The target as shown (no secrets: a webhook's query and user info, Kafka passwords).
    pub fn name(&self) -> String {
        match self {
            Target::Stdout => "stdout".into(),
            Target::Jsonl(p) => format!("jsonl:{}", p.display()),
            Target::Webhook(u) => format!("webhook:{}", shown_url(u)),
            Target::Kafka(k) => k.name(),
        }
    }

    /// What names its cursor: the same destination keeps its place when options change.
    fn cursor_key(&self) -> String {
        match self {
            Target::Kafka(k) => format!("kafka://{}/{}", k.brokers, k.topic),
            Target::Webhook(u) => format!("webhook:{}", shown_url(u)),
            other => other.name(),
        }
    }

    /// Whether lines go to standard output.
    pub fn writes_stdout(&self) -> bool {
        matches!(self, Target::Stdout)
    }
}

/// A URL without user info or query (they may hold secrets).
fn shown_url(u: &url::Url) -> String {
    let mut c = u.clone();
    let _ = c.set_username("");
    let _ = c.set_password(None);
    c.set_query(None);
    c.to_string()
}

/// One spool line.
#[derive(Debug, Clone)]
pub struct Line {
    /// Its offset in the spool.
    pub start: u64,
    /// The offset after its newline.
    pub end: u64,
    /// The line without its newline.
    pub text: Vec<u8>,
}

impl Line {
    /// A stable key for receivers to drop repeats: the alert's `ticket_id`, else the offset.
    pub fn key(&self) -> String {
        #[derive(serde::Deserialize)]
        struct Key {
            ticket_id: Option<String>,
        }
        serde_json::from_slice::<Key>(&self.text)
            .ok()
            .and_then(|k| k.ticket_id)
            .unwrap_or_else(|| format!("offset-{}", self.start))
    }
}

/// An output of forwarded lines.
trait Output: Send {
    /// Finish what a stopped run left (`pos` is then true of the output).
    fn recover(
        &mut self,
        _pos: &mut Position,
        _spool: &Spool,
        _cursor: &Cursor,
    ) -> Result<(), SinkError> {
        Ok(())
    }
    /// Deliver `lines` (they follow `pos`), recording in `cursor` as they arrive.
    fn deliver(
        &mut self,
        lines: &[Line],
        pos: &mut Position,
        cursor: &Cursor,
    ) -> Result<(), SinkError>;
}

/// Which spool lines an output is given, and in what form (e.g. one connector's alerts, their
/// findings masked): `keep` answers `None` for a line to pass over, else the line to deliver.
/// `key` names the selection: each selection keeps its own place in the spool, so what one run
/// passes over is still there for a run that asks for it.
#[derive(Clone)]
pub struct Selection {
    /// Names the selection (part of its cursor's name).
    pub key: String,
    /// The line to deliver for a spool line, or `None` to pass over it.
    pub keep: Keep,
}

/// A selection's judgement of one spool line: the line to deliver, or `None`.
pub type Keep = std::sync::Arc<dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync>;

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selection").field("key", &self.key).finish()
    }
}

/// The spool, read up to what its checkpoint says is committed.
pub struct Spool {
    path: PathBuf,
    /// The lines this output is given (all, as they are, when `None`).
    select: Option<Selection>,
}

impl Spool {
    /// The committed length (0 before anything was committed).
    fn committed(&self) -> Result<u64, SinkError> {
        match Checkpoint::open_read_only(&beside(&self.path))? {
            Some(cp) => cp.offset(),
            None => Ok(0),
        }
    }

    /// Up to `max` selected lines from `from`, not beyond `to`, and the offset up to which the
    /// spool was read (lines passed over included).
    fn read(&self, from: u64, to: u64, max: usize) -> Result<(Vec<Line>, u64), SinkError> {
        let io = |e| SinkError::io(&self.path, e);
        if from >= to || max == 0 {
            return Ok((vec![], from));
        }
        let mut f = std::fs::File::open(&self.path).map_err(io)?;
        f.seek(SeekFrom::Start(from)).map_err(io)?;
        let mut r = BufReader::new(f);
        let mut out = Vec::new();
        let mut at = from;
        while at < to && out.len() < max {
            let mut text = Vec::new();
            let n = r.read_until(b'\n', &mut text).map_err(io)? as u64;
            if n == 0 || at + n > to || text.last() != Some(&b'\n') {
                return Err(self.damaged(format!(
                    "the committed line at offset {at} ends {}",
                    if n == 0 {
                        "before it begins (the file is cut short)".to_string()
                    } else {
                        format!(
                            "{} bytes past where the spool's checkpoint says it should",
                            (at + n).saturating_sub(to)
                        )
                    }
                )));
            }
            text.pop();
            if serde_json::from_slice::<serde::de::IgnoredAny>(&text).is_err() {
                return Err(self.damaged(format!("the committed line at offset {at} is not JSON")));
            }
            let text = match &self.select {
                None => text,
                Some(s) => match (s.keep)(&text) {
                    Some(t) => t,
                    None => {
                        at += n;
                        continue;
                    }
                },
            };
            out.push(Line {
                start: at,
                end: at + n,
                text,
            });
            at += n;
        }
        Ok((out, at))
    }

    /// The spool does not hold what its checkpoint says was committed: `what` is found.
    fn damaged(&self, what: String) -> SinkError {
        SinkError::io(
            &self.path,
            std::io::Error::other(format!(
                "the spool is damaged: {what}. Nothing more is delivered from it (what was delivered stays delivered). Restore the file from a backup; or, to start afresh, move it aside with its .checkpoint.sqlite and .forward.sqlite files (the next run collects again from --since)"
            )),
        )
    }

    /// Check the spool is at least as long as what its checkpoint says was committed.
    fn check_length(&self, committed: u64) -> Result<(), SinkError> {
        let len = match std::fs::metadata(&self.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && committed == 0 => return Ok(()),
            Err(e) => return Err(SinkError::io(&self.path, e)),
        };
        if len < committed {
            return Err(self.damaged(format!(
                "it is {len} bytes long, shorter than the {committed} its checkpoint says were committed (cut or replaced)"
            )));
        }
        Ok(())
    }

    /// Lines between `from` and `to` (their newlines, counted without keeping the text).
    fn count(&self, from: u64, to: u64) -> Result<u64, SinkError> {
        let io = |e| SinkError::io(&self.path, e);
        if from >= to {
            return Ok(0);
        }
        let mut f = std::fs::File::open(&self.path).map_err(io)?;
        f.seek(SeekFrom::Start(from)).map_err(io)?;
        let mut r = std::io::Read::take(f, to - from);
        let mut buf = vec![0u8; 64 * 1024];
        let mut n = 0;
        loop {
            let got = std::io::Read::read(&mut r, &mut buf).map_err(io)?;
            if got == 0 {
                return Ok(n);
            }
            n += buf[..got].iter().filter(|b| **b == b'\n').count() as u64;
        }
    }
}

/// What a forwarding run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwarded {
    /// Lines delivered in this run.
    pub delivered: u64,
    /// Lines committed to the spool and not yet delivered (beyond the cap, or after a failure).
    pub waiting: u64,
    /// Lines delivered to this output ever.
    pub total: u64,
}

/// Forwards one spool to one output.
pub struct Forwarder {
    spool: Spool,
    target: Target,
    cursor: Cursor,
    out: Box<dyn Output>,
    /// Held while this forwarder lives: one run at a time delivers a spool to an output.
    _lock: std::fs::File,
}

/// Take the lock of delivering `spool` to the output named `key` (a file beside the spool,
/// `SPOOL.forward-HASH.lock`); refused while another process holds it.
fn lock(spool: &Path, key: &str, shown: &str) -> Result<std::fs::File, SinkError> {
    // FNV-1a: stable across runs and builds.
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut name = spool.as_os_str().to_owned();
    name.push(format!(".forward-{hash:016x}.lock"));
    let path = PathBuf::from(name);
    let io = |e| SinkError::io(&path, e);
    o365_store::files::create_private_file(&path).map_err(io)?;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(io)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(io(std::io::Error::other(format!(
            "another run is delivering these alerts to {shown} (it holds this lock); two at once would deliver them twice: stop it first, or let it deliver"
        )))),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("spool", &self.spool.path)
            .field("target", &self.target.name())
            .finish()
    }
}

impl Forwarder {
    /// Open the output and its cursor for `spool`; `rt` runs a webhook's requests, which
    /// trust and take the route `trust` says.
    pub fn open(
        spool: &Path,
        target: Target,
        trust: &o365_api::Trust,
        rt: tokio::runtime::Handle,
    ) -> Result<Self, SinkError> {
        Self::open_selected(spool, target, trust, rt, None)
    }

    /// [`Forwarder::open`], giving the output only the lines `select` keeps, in the form it
    /// gives them (a selection has its own cursor).
    pub fn open_selected(
        spool: &Path,
        target: Target,
        trust: &o365_api::Trust,
        rt: tokio::runtime::Handle,
        select: Option<Selection>,
    ) -> Result<Self, SinkError> {
        let key = match &select {
            Some(s) => format!("{}#{}", target.cursor_key(), s.key),
            None => target.cursor_key(),
        };
        let lock = lock(spool, &key, &target.name())?;
        let cursor = Cursor::open(spool, &key)?;
        let out: Box<dyn Output> = match &target {
            Target::Stdout => Box::new(file::Stdout),
            Target::Jsonl(p) => Box::new(file::Jsonl::open(p)?),
            Target::Webhook(u) => Box::new(webhook::Webhook::new(u.clone(), trust, rt)?),
            Target::Kafka(k) => Box::new(kafka::Kafka::open(k.clone(), spool)?),
        };
        let mut f = Self {
            spool: Spool {
                path: spool.to_path_buf(),
                select,
            },
            target,
            cursor,
            out,
            _lock: lock,
        };
        let mut pos = f.cursor.position()?;
        f.out.recover(&mut pos, &f.spool, &f.cursor)?;
        Ok(f)
    }

    /// The output's name.
    pub fn name(&self) -> String {
        self.target.name()
    }

    /// Give the output the committed lines it has not had, at most `max` (all when `None`).
    pub fn forward(&mut self, max: Option<u64>) -> Result<Forwarded, SinkError> {
        let committed = self.spool.committed()?;
        self.spool.check_length(committed)?;
        let mut pos = self.cursor.position()?;
        if pos.pending.is_some() {
            // A batch of a failed delivery: only what did not arrive is sent again.
            self.out.recover(&mut pos, &self.spool, &self.cursor)?;
        }
        let mut left = max.unwrap_or(u64::MAX);
        let mut delivered = 0;
        while left > 0 {
            let (lines, scanned) =
                self.spool
                    .read(pos.offset, committed, (left.min(BATCH as u64)) as usize)?;
            if !lines.is_empty() {
                let before = pos.delivered;
                self.out.deliver(&lines, &mut pos, &self.cursor)?;
                let n = pos.delivered - before;
                delivered += n;
                left = left.saturating_sub(n);
            }
            // Lines passed over after the last one delivered: recorded as seen.
            if scanned > pos.offset {
                self.cursor.advance(scanned, 0, pos.out_len)?;
                pos.offset = scanned;
            }
            if lines.is_empty() {
                break;
            }
        }
        Ok(Forwarded {
            delivered,
            waiting: self.spool.count(pos.offset, committed)?,
            total: pos.delivered,
        })
    }
}

#[cfg(test)]
mod tests;
