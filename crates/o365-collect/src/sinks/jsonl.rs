//! JSON lines: each raw event on one line, de-duplicated through a checkpoint beside the file
//! (`PATH.checkpoint.sqlite`) that also holds the committed length: after a crash the file is cut
//! back to it, so no line is ever written twice. One writer per file (advisory lock).

use std::fs::File;
use std::io::{IoSlice, Seek as _, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::checkpoint::{beside, Checkpoint, Layout, Tx};
use crate::local::{EventWriter, Local};
use crate::sinks::{
    path_after, BlobOut, Sink, SinkError, SinkKind, SinkSpec, SpecContext, TypeStatus,
};
use crate::status::status_at;

/// `jsonl:PATH`.
#[derive(Debug, Clone)]
pub struct JsonlKind {
    path: PathBuf,
    map: Option<Arc<dyn LineMap>>,
    /// `?envelope`: the map is [`Envelope`].
    envelope: bool,
}

/// Turns the events of a blob seen for the first time into the lines written, instead of the
/// events themselves (the alerts: one alert per record, or none). The file, its checkpoint and
/// its crash safety stay the JSONL sink's.
pub trait LineMap: Send + Sync + std::fmt::Debug {
    /// The scheme the sink is named by (`alerts`).
    fn scheme(&self) -> &'static str;
    /// The lines (without newlines) for `events`, the raw events of `blob` seen first now. An
    /// error fails the commit: nothing of it is recorded, and it is all done again later.
    fn lines(&self, blob: &BlobOut, events: &[&[u8]]) -> Result<Vec<Vec<u8>>, String>;
    /// Whether what the lines become is written to standard output (then reports are not).
    fn output_on_stdout(&self) -> bool {
        false
    }
}

impl JsonlKind {
    /// JSON lines at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            map: None,
            envelope: false,
        }
    }

    /// Each event inside an [`Envelope`] line at `path`.
    pub fn enveloped(path: PathBuf) -> Self {
        Self {
            path,
            map: Some(Arc::new(Envelope)),
            envelope: true,
        }
    }

    /// Lines made by `map` at `path`.
    pub fn mapped(path: PathBuf, map: Arc<dyn LineMap>) -> Self {
        Self {
            path,
            map: Some(map),
            envelope: false,
        }
    }
}

/// Parse `jsonl:PATH` or `jsonl:PATH?envelope`.
pub fn parse(rest: Option<&str>, _: &SpecContext) -> Result<SinkSpec, String> {
    let (path, option) = match rest.and_then(|r| r.rsplit_once('?')) {
        Some((p, o)) => (Some(p), Some(o)),
        None => (rest, None),
    };
    let path = path_after(path, "jsonl:events.jsonl")?;
    match option {
        None => Ok(SinkSpec::new(JsonlKind::new(path))),
        Some("envelope") => Ok(SinkSpec::new(JsonlKind::enveloped(path))),
        Some(o) => Err(format!(
            "unknown option {o:?}: jsonl:PATH takes ?envelope (each event inside a line that names its tenant, content type and blob), or nothing"
        )),
    }
}

/// Each event inside a line that names where it comes from, so a pipeline can route it
/// without parsing the event: `{"tenant_id", "content_type", "content_id", "content_created",
/// "event"}`, the event as the service sent it.
#[derive(Debug)]
pub struct Envelope;

impl LineMap for Envelope {
    fn scheme(&self) -> &'static str {
        "jsonl"
    }

    fn lines(&self, blob: &BlobOut, events: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
        let head = serde_json::json!({
            "tenant_id": blob.tenant,
            "content_type": blob.content_type.as_str(),
            "content_id": blob.content_id,
            "content_created": blob.content_created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
        .to_string();
        // `{...head...,"event":RAW}`: the event's bytes as they came.
        let head = &head[..head.len() - 1];
        Ok(events
            .iter()
            .map(|raw| {
                let mut line = Vec::with_capacity(head.len() + raw.len() + 10);
                line.extend_from_slice(head.as_bytes());
                line.extend_from_slice(b",\"event\":");
                line.extend_from_slice(raw);
                line.push(b'}');
                line
            })
            .collect())
    }
}

/// The lines `map` makes of the first sightings `picked`, which come blob by blob: `written[i]`
/// of them for `blobs[i]`.
pub(crate) fn map_lines(
    map: &dyn LineMap,
    blobs: &[BlobOut],
    written: &[u64],
    picked: &[&[u8]],
) -> Result<Vec<Vec<u8>>, SinkError> {
    let mut rest = picked;
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for (b, w) in blobs.iter().zip(written) {
        let (mine, others) = rest.split_at((*w as usize).min(rest.len()));
        rest = others;
        lines.extend(map.lines(b, mine).map_err(SinkError::Bus)?);
    }
    Ok(lines)
}

/// Write each slice followed by a newline, with vectored writes; returns the bytes written.
pub(crate) fn write_lines(w: &mut impl Write, lines: &[&[u8]]) -> std::io::Result<u64> {
    let mut total = 0u64;
    for group in lines.chunks(512) {
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(group.len() * 2);
        for l in group {
            slices.push(IoSlice::new(l));
            slices.push(IoSlice::new(b"\n"));
            total += l.len() as u64 + 1;
        }
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = w.write_vectored(rest)?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut rest, n);
        }
    }
    w.flush()?;
    Ok(total)
}

/// Open the events file for appending, private to the user when created.
pub(crate) fn open_file(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        o365_store::files::create_private_dir(dir)?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

struct Lines {
    file: File,
    path: PathBuf,
    offset: u64,
    map: Option<Arc<dyn LineMap>>,
}

impl EventWriter for Lines {
    fn write(&mut self, tx: &Tx<'_>, blobs: &[BlobOut]) -> Result<Vec<u64>, SinkError> {
        let (written, picked) = tx.first_sightings(blobs)?;
        let io = |e| SinkError::io(&self.path, e);
        let n = match &self.map {
            // Straight from the response buffers to the file: no copy in between.
            None => write_lines(&mut self.file, &picked).map_err(io)?,
            Some(map) => {
                let lines = map_lines(map.as_ref(), blobs, &written, &picked)?;
                let refs: Vec<&[u8]> = lines.iter().map(|l| l.as_slice()).collect();
                write_lines(&mut self.file, &refs).map_err(io)?
            }
        };
        self.file.sync_data().map_err(io)?;
        self.offset += n;
        tx.set_offset(self.offset)?;
        Ok(written)
    }
}

impl SinkKind for JsonlKind {
    fn name(&self) -> String {
        let scheme = self.map.as_ref().map_or("jsonl", |m| m.scheme());
        let envelope = if self.envelope { "?envelope" } else { "" };
        format!("{scheme}:{}{envelope}", self.path.display())
    }

    fn remembered(&self) -> Option<String> {
        // A mapped file (the alerts' spool) is not a `--sink` of its own.
        if self.map.is_some() && !self.envelope {
            return None;
        }
        let p = std::path::absolute(&self.path).ok()?;
        let envelope = if self.envelope { "?envelope" } else { "" };
        Some(format!("jsonl:{}{envelope}", p.display()))
    }

    fn check(&self) -> Result<(), SinkError> {
        let cp = beside(&self.path);
        for (what, p) in [("the JSONL sink", &self.path), ("its checkpoint", &cp)] {
            o365_store::files::check_regular(what, p).map_err(|e| SinkError::io(p, e))?;
        }
        // Writable now, or it would fail only after the listings.
        open_file(&self.path)
            .map(drop)
            .map_err(|e| SinkError::io(&self.path, e))
    }

    fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        self.check()?;
        let cp = Checkpoint::open(Some(&beside(&self.path)), Layout::WithSeen, "")?;
        let committed = cp.offset()?;
        let io = |e| SinkError::io(&self.path, e);
        let mut f = open_file(&self.path).map_err(io)?;
        // One writer per file: a second collector appending here would interleave lines.
        if f.try_lock().is_err() {
            return Err(io(std::io::Error::other(
                "another collector is writing to this file; stop it first or use another --sink",
            )));
        }
        let len = f.metadata().map_err(io)?.len();
        if len > committed {
            tracing::info!(path = %self.path.display(), len, committed, "cutting uncommitted lines from the JSONL file");
            f.set_len(committed).map_err(io)?;
        }
        let offset = len.min(committed);
        f.seek(SeekFrom::Start(offset)).map_err(io)?;
        let lines = Lines {
            file: f,
            path: self.path.clone(),
            offset,
            map: self.map.clone(),
        };
        Ok(Box::new(Local::new(cp, lines)))
    }

    fn status(&self, tenant: &str) -> Result<Option<Vec<TypeStatus>>, SinkError> {
        status_at(&beside(&self.path), tenant)
    }

    fn checkpoint_path(&self) -> Option<PathBuf> {
        Some(beside(&self.path))
    }

    fn writes_stdout(&self) -> bool {
        self.map.as_ref().is_some_and(|m| m.output_on_stdout())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_writer_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SinkSpec::jsonl(dir.path().join("e.jsonl"));
        let first = spec.open().unwrap();
        let err = spec
            .open()
            .err()
            .expect("second writer refused")
            .to_string();
        assert!(err.contains("another collector"), "{err}");
        drop(first);
        spec.open().expect("free again once the first is closed");
    }

    #[cfg(unix)]
    #[test]
    fn devices_directories_and_read_only_files_are_refused_before_anything_is_created() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [PathBuf::from("/dev/full"), dir.path().to_path_buf()] {
            let e = SinkSpec::jsonl(&bad).check().unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
        assert!(!Path::new("/dev/full.checkpoint.sqlite").exists());
        let ro = dir.path().join("ro.jsonl");
        std::fs::write(&ro, "").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o400)).unwrap();
        // Root can write anyway; everyone else is refused before any request.
        let root = std::fs::OpenOptions::new().write(true).open(&ro).is_ok();
        assert_eq!(SinkSpec::jsonl(&ro).check().is_err(), !root);
    }
}
