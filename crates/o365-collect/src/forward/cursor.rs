//! How far each output has been given the spool's lines, in a small SQLite file beside the spool
//! (`SPOOL.forward.sqlite`): one row per output, written only after what it says was delivered.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::sinks::SinkError;

/// A batch given to an output that may or may not have arrived (the process stopped between
/// sending it and recording it): the spool range and what the output noted before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Spool offset of its first line.
    pub from: u64,
    /// Spool offset after its last line.
    pub to: u64,
    /// The output's note (Kafka: the partitions' ends before sending).
    pub note: String,
}

/// One output's row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// Spool offset up to which every line was delivered.
    pub offset: u64,
    /// Lines delivered so far.
    pub delivered: u64,
    /// The output file's length when the row was written (a file output).
    pub out_len: Option<u64>,
    /// A batch sent but not known to have arrived.
    pub pending: Option<Pending>,
}

/// The cursor file, for one output.
pub struct Cursor {
    conn: Connection,
    path: PathBuf,
    target: String,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("path", &self.path)
            .field("target", &self.target)
            .finish()
    }
}

/// The cursor file of a spool.
pub fn path_of(spool: &Path) -> PathBuf {
    let mut s = spool.to_path_buf().into_os_string();
    s.push(".forward.sqlite");
    PathBuf::from(s)
}

impl Cursor {
    /// Open (creating) the row of `target` for `spool`.
    pub fn open(spool: &Path, target: &str) -> Result<Self, SinkError> {
        let path = path_of(spool);
        let sql = |source| SinkError::Sql {
            path: path.display().to_string(),
            source,
        };
        // What was delivered where says whose alerts these are: private, like the spool.
        o365_store::files::check_regular("the forwarding cursor", &path)
            .and_then(|()| o365_store::files::create_private_file(&path))
            .map_err(|e| SinkError::io(&path, e))?;
        let conn = Connection::open(&path).map_err(sql)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS forward(
               target TEXT PRIMARY KEY,
               offset INTEGER NOT NULL DEFAULT 0,
               delivered INTEGER NOT NULL DEFAULT 0,
               out_len INTEGER,
               pending_from INTEGER, pending_to INTEGER, pending_note TEXT);",
        )
        .map_err(sql)?;
        conn.execute(
            "INSERT OR IGNORE INTO forward(target) VALUES (?1)",
            params![target],
        )
        .map_err(sql)?;
        Ok(Self {
            conn,
            path,
            target: target.to_string(),
        })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> SinkError + '_ {
        move |source| SinkError::Sql {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Where this output stands.
    pub fn position(&self) -> Result<Position, SinkError> {
        type Row = (
            i64,
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<String>,
        );
        let r: Option<Row> = self
            .conn
            .query_row(
                "SELECT offset, delivered, out_len, pending_from, pending_to, pending_note FROM forward WHERE target = ?1",
                params![self.target],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()
            .map_err(self.sql())?;
        let Some((offset, delivered, out_len, pf, pt, note)) = r else {
            return Ok(Position::default());
        };
        Ok(Position {
            offset: offset.max(0) as u64,
            delivered: delivered.max(0) as u64,
            out_len: out_len.map(|l| l.max(0) as u64),
            pending: match (pf, pt) {
                (Some(from), Some(to)) => Some(Pending {
                    from: from.max(0) as u64,
                    to: to.max(0) as u64,
                    note: note.unwrap_or_default(),
                }),
                _ => None,
            },
        })
    }

    /// Everything before `offset` was delivered (`lines` more of them); clears a pending batch.
    pub fn advance(&self, offset: u64, lines: u64, out_len: Option<u64>) -> Result<(), SinkError> {
        self.conn
            .execute(
                "UPDATE forward SET offset = ?2, delivered = delivered + ?3, out_len = ?4,
                   pending_from = NULL, pending_to = NULL, pending_note = NULL WHERE target = ?1",
                params![
                    self.target,
                    offset as i64,
                    lines as i64,
                    out_len.map(|l| l as i64)
                ],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// A batch is about to be sent.
    pub fn set_pending(&self, p: &Pending) -> Result<(), SinkError> {
        self.conn
            .execute(
                "UPDATE forward SET pending_from = ?2, pending_to = ?3, pending_note = ?4 WHERE target = ?1",
                params![self.target, p.from as i64, p.to as i64, p.note],
            )
            .map_err(self.sql())?;
        Ok(())
    }
}
