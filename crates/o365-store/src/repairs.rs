//! What backfilling made of a gap: repaired (with the events it recovered), or why it could
//! not be (older than the search reaches, no permission, a cloud without the search).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::{parse_ts, ts, Store, StoreError};

/// The outcome of repairing a gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repair {
    /// When.
    pub at: DateTime<Utc>,
    /// Whether the gap is filled.
    pub repaired: bool,
    /// Events the repair wrote.
    pub events_written: u64,
    /// Events of the span already in the sink.
    pub already_there: u64,
    /// Why it is not repaired (empty when it is).
    pub reason: String,
}

impl Store {
    /// Record what repairing gap `gap_id` came to (the latest attempt counts).
    pub fn record_repair(&self, gap_id: i64, r: &Repair) -> Result<(), StoreError> {
        let c = self.writer()?;
        c.execute(
            "INSERT INTO gap_repairs (gap_id, at, repaired, events_written, already_there, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(gap_id) DO UPDATE SET at = excluded.at, repaired = excluded.repaired,
               events_written = excluded.events_written, already_there = excluded.already_there,
               reason = excluded.reason",
            params![
                gap_id,
                ts(r.at),
                r.repaired,
                r.events_written as i64,
                r.already_there as i64,
                r.reason
            ],
        )?;
        Ok(())
    }

    /// Every repair recorded, by gap id.
    pub fn repairs(&self) -> Result<HashMap<i64, Repair>, StoreError> {
        let c = self.conn.lock();
        let has: i64 = c.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'gap_repairs'",
            [],
            |r| r.get(0),
        )?;
        if has == 0 {
            return Ok(HashMap::new());
        }
        let mut st = c.prepare(
            "SELECT gap_id, at, repaired, events_written, already_there, reason FROM gap_repairs",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Repair {
                    at: parse_ts(&r.get::<_, String>(1)?)?,
                    repaired: r.get(2)?,
                    events_written: r.get::<_, i64>(3)?.max(0) as u64,
                    already_there: r.get::<_, i64>(4)?.max(0) as u64,
                    reason: r.get(5)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GapSource;

    #[test]
    fn a_gap_shows_its_latest_repair() {
        let s = Store::in_memory().unwrap();
        let t = |h: i64| DateTime::from_timestamp(h * 3600, 0).unwrap();
        s.record_gap(
            "t",
            o365_vocab::ContentType::General,
            t(1),
            t(5),
            GapSource::Retention,
        )
        .unwrap();
        let g = s.gaps(Some("t")).unwrap();
        assert_eq!(g[0].repair, None);
        let mut r = Repair {
            at: t(9),
            repaired: false,
            events_written: 0,
            already_there: 0,
            reason: "no permission".into(),
        };
        s.record_repair(g[0].id, &r).unwrap();
        r.repaired = true;
        r.events_written = 12;
        r.reason.clear();
        s.record_repair(g[0].id, &r).unwrap();
        assert_eq!(s.gaps(Some("t")).unwrap()[0].repair, Some(r));
    }
}
