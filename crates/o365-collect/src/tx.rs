//! The checkpoint's open transaction as a sink sees it: where it writes its events, and, for
//! sinks that cannot de-duplicate themselves, the table of event keys already seen.

use chrono::Utc;
use rusqlite::Connection;

use crate::blob::{BlobOut, SinkError};
use crate::checkpoint::{placeholders, ROWS_PER_STATEMENT};

/// A checkpoint transaction in progress, handed to a sink to write its events in.
pub struct Tx<'a> {
    /// The connection, inside the open transaction.
    pub tx: &'a Connection,
    pub(crate) db: &'a str,
}

impl Tx<'_> {
    /// The error maker for this database.
    pub fn sql(&self) -> impl Fn(rusqlite::Error) -> SinkError + '_ {
        move |source| SinkError::Sql {
            path: self.db.to_string(),
            source,
        }
    }

    /// For sinks that cannot de-duplicate themselves: record every event's key in the seen
    /// table (inside `tx`) and return the raw bytes of first sightings, and their count per blob.
    pub fn first_sightings<'b>(
        &self,
        blobs: &'b [BlobOut],
    ) -> Result<(Vec<u64>, Vec<&'b [u8]>), SinkError> {
        let epoch = Utc::now().timestamp();
        let sql = self.sql();
        let tx = self.tx;
        let mut picked: Vec<&[u8]> = Vec::new();
        let mut written = Vec::with_capacity(blobs.len());
        let mut fresh = crate::key::KeySet::default();
        for b in blobs {
            let hash = crate::key::TenantHash::new(&b.tenant);
            let mut w = 0;
            for chunk in b.events.chunks(ROWS_PER_STATEMENT) {
                let keys: Vec<(i64, i64)> = chunk.iter().map(|e| hash.event_key(e)).collect();
                let text = format!(
                    "INSERT OR IGNORE INTO collect_seen (creation_time, dedup, seen_at) VALUES {} RETURNING creation_time, dedup",
                    placeholders(chunk.len(), 3)
                );
                let mut st = tx.prepare_cached(&text).map_err(&sql)?;
                for (i, (c, d)) in keys.iter().enumerate() {
                    st.raw_bind_parameter(3 * i + 1, c).map_err(&sql)?;
                    st.raw_bind_parameter(3 * i + 2, d).map_err(&sql)?;
                    st.raw_bind_parameter(3 * i + 3, epoch).map_err(&sql)?;
                }
                // Only rows really inserted come back: those are first sightings.
                fresh.clear();
                let mut rows = st.raw_query();
                while let Some(r) = rows.next().map_err(&sql)? {
                    fresh.insert((r.get(0).map_err(&sql)?, r.get(1).map_err(&sql)?));
                }
                for (e, key) in chunk.iter().zip(&keys) {
                    // `remove`: a second copy inside the same blob is a duplicate too.
                    if fresh.remove(key) {
                        picked.push(&e.raw);
                        w += 1;
                    }
                }
            }
            written.push(w);
        }
        Ok((written, picked))
    }

    /// Set the committed length of the JSONL file, in this transaction.
    pub fn set_offset(&self, offset: u64) -> Result<(), SinkError> {
        self.tx
            .execute(
            "INSERT INTO collect_offset (id, offset) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET offset = excluded.offset",
            [offset as i64],
        )
        .map_err(self.sql())?;
        Ok(())
    }
}
