//! The newest committed lines of a spool, read backwards from its committed end in blocks, so a
//! look at the last alerts costs the same however long the spool has grown.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;

use crate::checkpoint::{beside, Checkpoint};
use crate::sinks::SinkError;

const BLOCK: u64 = 64 * 1024;

/// Up to `limit` committed lines of `spool` that `keep` accepts, newest first; lines that are
/// not JSON are passed over.
pub fn recent(
    spool: &Path,
    limit: usize,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> Result<Vec<serde_json::Value>, SinkError> {
    let io = |e| SinkError::io(spool, e);
    let end = match Checkpoint::open_read_only(&beside(spool))? {
        Some(cp) => cp.offset()?,
        None => return Ok(vec![]),
    };
    let mut f = std::fs::File::open(spool).map_err(io)?;
    let mut out = Vec::new();
    // `tail` holds the start of a line whose beginning lies in an earlier block.
    let mut tail: Vec<u8> = Vec::new();
    let mut at = end;
    while at > 0 && out.len() < limit {
        let from = at.saturating_sub(BLOCK);
        let mut block = vec![0u8; (at - from) as usize];
        f.seek(SeekFrom::Start(from)).map_err(io)?;
        f.read_exact(&mut block).map_err(io)?;
        block.extend_from_slice(&tail);
        let mut lines: Vec<&[u8]> = block.split(|b| *b == b'\n').collect();
        // The first piece may be cut (unless this block starts the file): keep it for later.
        let first = if from > 0 {
            lines.remove(0).to_vec()
        } else {
            Vec::new()
        };
        for l in lines.iter().rev() {
            if out.len() >= limit {
                break;
            }
            if l.is_empty() {
                continue;
            }
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(l) {
                if keep(&v) {
                    out.push(v);
                }
            }
        }
        tail = first;
        at = from;
    }
    Ok(out)
}
