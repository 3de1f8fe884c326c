//! What `collect status` shows: cursors, lag, blobs and events done, and retention gaps per
//! content type, read from a checkpoint without writing to it.

use std::path::Path;

use chrono::{DateTime, Utc};
use o365_api::ContentType;
use rusqlite::{params, OptionalExtension as _};

use crate::checkpoint::{parse_ts, Checkpoint};
use crate::sinks::SinkError;

/// Progress of one content type in one sink.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TypeStatus {
    /// Content type.
    pub content_type: &'static str,
    /// Everything with `contentCreated` before this is done.
    pub cursor: Option<DateTime<Utc>>,
    /// How far the cursor is behind the service's clock now.
    pub lag_seconds: Option<i64>,
    /// Blobs done (kept for 8 days).
    pub blobs_done: u64,
    /// Events in those blobs.
    pub events_seen: u64,
    /// Events written (the rest were duplicates).
    pub events_written: u64,
    /// Blobs that could not be fetched any more (expired or gone).
    pub blobs_lost: u64,
    /// Ranges that could not be listed any more: (start, end, reason).
    pub retention_gaps: Vec<(String, String, String)>,
    /// The earliest `contentCreated` of a blob done (of those kept): where the collected
    /// range begins. `None` when the sink keeps no blob records here (Kafka).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_done: Option<DateTime<Utc>>,
    /// Blobs and events written per hour of `contentCreated` (of the blobs kept), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hourly: Vec<HourCount>,
}

/// Blobs and events of one hour.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HourCount {
    /// The hour's start.
    pub hour: DateTime<Utc>,
    /// Blobs created in it that are done.
    pub blobs: u64,
    /// Events written from them.
    pub events: u64,
}

impl HourCount {
    /// Per hour, oldest first, from blobs' (`contentCreated` in ms, events written).
    pub fn tally(blobs: impl Iterator<Item = (i64, u64)>) -> Vec<HourCount> {
        let mut by: std::collections::BTreeMap<i64, (u64, u64)> = Default::default();
        for (created, written) in blobs {
            let e = by.entry(created.div_euclid(3_600_000)).or_default();
            e.0 += 1;
            e.1 += written;
        }
        by.into_iter()
            .filter_map(|(h, (blobs, events))| {
                Some(HourCount {
                    hour: DateTime::from_timestamp_millis(h * 3_600_000)?,
                    blobs,
                    events,
                })
            })
            .collect()
    }
}

impl Checkpoint {
    /// Cursors, blob counts and event counts per content type, for `collect status`.
    pub fn status(&self, tenant: &str) -> Result<Vec<TypeStatus>, SinkError> {
        let mut out = Vec::new();
        for ct in ContentType::ALL {
            let row: Option<(String, String, String)> = self
                .conn
                .query_row(
                    "SELECT cursor, updated_at, service_now FROM collect_cursors WHERE tenant = ?1 AND content_type = ?2",
                    params![tenant, ct.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(self.sql())?;
            let cursor = row.as_ref().and_then(|r| parse_ts(&r.0));
            // Service time now = its time at the last move + local time since.
            let lag_seconds = row.as_ref().and_then(|(c, upd, svc)| {
                Some((parse_ts(svc)? + (Utc::now() - parse_ts(upd)?) - parse_ts(c)?).num_seconds())
            });
            let (blobs, events, written, lost): (i64, i64, i64, i64) = self
                .conn
                .query_row(
                    "SELECT count(*), coalesce(sum(events), 0), coalesce(sum(written), 0), count(lost)
                     FROM collect_blobs WHERE tenant = ?1 AND content_type = ?2",
                    params![tenant, ct.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .map_err(self.sql())?;
            let mut st = self
                .conn
                .prepare_cached("SELECT start, end, reason FROM collect_gaps WHERE tenant = ?1 AND content_type = ?2 ORDER BY start")
                .map_err(self.sql())?;
            let gaps = st
                .query_map(params![tenant, ct.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(self.sql())?
                .collect::<Result<Vec<(String, String, String)>, _>>()
                .map_err(self.sql())?;
            let mut st = self
                .conn
                .prepare_cached(
                    "SELECT substr(content_created, 1, 13) AS h, count(*), coalesce(sum(written), 0)
                     FROM collect_blobs WHERE tenant = ?1 AND content_type = ?2 GROUP BY h ORDER BY h",
                )
                .map_err(self.sql())?;
            let hourly = st
                .query_map(params![tenant, ct.as_str()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(self.sql())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.sql())?
                .into_iter()
                .filter_map(|(h, b, e)| {
                    Some(HourCount {
                        hour: parse_ts(&format!("{h}:00:00Z"))?,
                        blobs: b as u64,
                        events: e as u64,
                    })
                })
                .collect();
            let first_done: Option<String> = self
                .conn
                .query_row(
                    "SELECT min(content_created) FROM collect_blobs WHERE tenant = ?1 AND content_type = ?2",
                    params![tenant, ct.as_str()],
                    |r| r.get(0),
                )
                .map_err(self.sql())?;
            out.push(TypeStatus {
                content_type: ct.as_str(),
                cursor,
                lag_seconds,
                blobs_done: blobs as u64,
                events_seen: events as u64,
                events_written: written as u64,
                blobs_lost: lost as u64,
                retention_gaps: gaps,
                first_done: first_done.as_deref().and_then(parse_ts),
                hourly,
            });
        }
        Ok(out)
    }
}

/// `status` for sinks with a local checkpoint file.
pub fn status_at(path: &Path, tenant: &str) -> Result<Option<Vec<TypeStatus>>, SinkError> {
    match Checkpoint::open_read_only(path)? {
        Some(c) => c.status(tenant).map(Some),
        None => Ok(None),
    }
}
