//! Forwarding to standard output and to a JSON-lines file.

use std::fs::File;
use std::io::{Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use super::cursor::{Cursor, Position};
use super::{Line, Output, Spool};
use crate::sinks::jsonl::write_lines;
use crate::sinks::SinkError;

/// Standard output: a batch is written and flushed, then recorded.
pub(super) struct Stdout;

impl Output for Stdout {
    fn deliver(
        &mut self,
        lines: &[Line],
        pos: &mut Position,
        cursor: &Cursor,
    ) -> Result<(), SinkError> {
        let refs: Vec<&[u8]> = lines.iter().map(|l| l.text.as_slice()).collect();
        let mut out = std::io::stdout().lock();
        write_lines(&mut out, &refs).map_err(|e| SinkError::io(Path::new("stdout"), e))?;
        advance(pos, cursor, lines, None)
    }
}

/// Record `lines` as delivered.
pub(super) fn advance(
    pos: &mut Position,
    cursor: &Cursor,
    lines: &[Line],
    out_len: Option<u64>,
) -> Result<(), SinkError> {
    let Some(last) = lines.last() else {
        return Ok(());
    };
    cursor.advance(last.end, lines.len() as u64, out_len)?;
    pos.offset = last.end;
    pos.delivered += lines.len() as u64;
    pos.out_len = out_len;
    pos.pending = None;
    Ok(())
}

/// A JSON-lines file, appended to and synced before the cursor records its new length; after a
/// stop in between, the file is cut back to the recorded length, so no line appears twice.
pub(super) struct Jsonl {
    file: File,
    path: PathBuf,
}

impl Jsonl {
    pub(super) fn open(path: &Path) -> Result<Self, SinkError> {
        let io = |e| SinkError::io(path, e);
        o365_store::files::check_regular("the alerts file", path).map_err(io)?;
        let file = crate::sinks::jsonl::open_file(path).map_err(io)?;
        if file.try_lock().is_err() {
            return Err(io(std::io::Error::other(
                "another process is writing alerts to this file; stop it first or use another --sink",
            )));
        }
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }
}

impl Output for Jsonl {
    fn recover(&mut self, pos: &mut Position, _: &Spool, _: &Cursor) -> Result<(), SinkError> {
        let io = |e| SinkError::io(&self.path, e);
        let len = self.file.metadata().map_err(io)?.len();
        let recorded = pos.out_len.unwrap_or(0);
        if len > recorded {
            tracing::info!(path = %self.path.display(), len, recorded, "cutting alerts not recorded as delivered");
            self.file.set_len(recorded).map_err(io)?;
        } else if len < recorded {
            // Cut or replaced by someone else: continue at its end.
            tracing::warn!(path = %self.path.display(), len, recorded, "the alerts file is shorter than recorded: appending at its end");
            pos.out_len = Some(len);
        }
        self.file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok(())
    }

    fn deliver(
        &mut self,
        lines: &[Line],
        pos: &mut Position,
        cursor: &Cursor,
    ) -> Result<(), SinkError> {
        let io = |e| SinkError::io(&self.path, e);
        let len = self.file.metadata().map_err(io)?.len();
        let refs: Vec<&[u8]> = lines.iter().map(|l| l.text.as_slice()).collect();
        let n = write_lines(&mut self.file, &refs).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        advance(pos, cursor, lines, Some(len + n))
    }
}
