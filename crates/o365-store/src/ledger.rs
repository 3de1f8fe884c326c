//! Subscription transitions and the data-gap ledger, kept in step in one transaction.

use chrono::{DateTime, Utc};
use o365_vocab::ContentType;
use rusqlite::{params, OptionalExtension as _};
use serde::{Deserialize, Serialize};

use crate::values::{GapSource, SubscriptionState, TransitionCause};
use crate::{parse_ts, ts, Store, StoreError};

/// A subscription state change we caused or saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Row id.
    pub id: i64,
    /// When (service time).
    pub at: DateTime<Utc>,
    /// Tenant.
    pub tenant: String,
    /// Content type.
    pub content_type: String,
    /// Known state before, if any.
    pub from_state: Option<SubscriptionState>,
    /// State after.
    pub to_state: SubscriptionState,
    /// We caused it, or we saw it in a listing.
    pub cause: TransitionCause,
    /// The case the action ran for.
    pub case_id: Option<String>,
}

/// A span of time in which a content type was not subscribed: its content is lost for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant: String,
    /// Content type.
    pub content_type: String,
    /// Start of the gap (inclusive).
    pub stopped_at: DateTime<Utc>,
    /// End of the gap (exclusive); `None` while still stopped.
    pub started_at: Option<DateTime<Utc>>,
    /// How we know.
    pub source: GapSource,
    /// Case of the stop.
    pub stop_case_id: Option<String>,
    /// Case of the start that ended it.
    pub start_case_id: Option<String>,
    /// What backfilling made of it, if it was tried.
    #[serde(default)]
    pub repair: Option<crate::Repair>,
}

impl Gap {
    /// Length in seconds (up to `now` while open).
    pub fn seconds(&self, now: DateTime<Utc>) -> i64 {
        (self.started_at.unwrap_or(now) - self.stopped_at).num_seconds()
    }
}

/// What [`Store::observe`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The state known before, if any.
    pub before: Option<SubscriptionState>,
    /// Whether a transition was recorded (the state differed from the last one known).
    pub recorded: bool,
    /// The gap this observation closed, if any.
    pub closed: Option<Gap>,
}

impl Observed {
    /// True when a type known as enabled was seen stopped (someone else stopped it).
    pub fn stopped_elsewhere(&self, now: SubscriptionState) -> bool {
        self.recorded && self.before == Some(SubscriptionState::Enabled) && !now.is_enabled()
    }
}

impl Store {
    /// The last known state of a subscription, with when it was recorded.
    pub fn last_state(
        &self,
        tenant: &str,
        content_type: ContentType,
    ) -> Result<Option<Transition>, StoreError> {
        let c = self.conn.lock();
        Ok(c.query_row(
            "SELECT id, at, tenant, content_type, from_state, to_state, cause, case_id FROM transitions
             WHERE tenant = ?1 AND content_type = ?2 ORDER BY id DESC LIMIT 1",
            params![tenant, content_type.as_str()],
            transition_row,
        )
        .optional()?)
    }

    /// All transitions of a tenant (or all), oldest first.
    pub fn transitions(&self, tenant: Option<&str>) -> Result<Vec<Transition>, StoreError> {
        let c = self.conn.lock();
        let mut st = c.prepare(
            "SELECT id, at, tenant, content_type, from_state, to_state, cause, case_id FROM transitions
             WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([tenant], transition_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Record a state change and keep the gap ledger in step with it, in one transaction.
    ///
    /// Going to `disabled`/`absent` from `enabled` opens a gap at `at` (unless one is open);
    /// going to `enabled` closes the open gap at `at` and returns it.
    pub fn transition(
        &self,
        tenant: &str,
        content_type: ContentType,
        to_state: SubscriptionState,
        cause: TransitionCause,
        at: DateTime<Utc>,
        case_id: Option<&str>,
    ) -> Result<Option<Gap>, StoreError> {
        let mut c = self.writer()?;
        let tx = c.transaction()?;
        let from: Option<SubscriptionState> = tx
            .query_row(
                "SELECT to_state FROM transitions WHERE tenant = ?1 AND content_type = ?2
                 ORDER BY id DESC LIMIT 1",
                params![tenant, content_type.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute(
            "INSERT INTO transitions (at, tenant, content_type, from_state, to_state, cause, case_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![ts(at), tenant, content_type.as_str(), from, to_state, cause, case_id],
        )?;
        let open: Option<i64> = tx
            .query_row(
                "SELECT id FROM gaps WHERE tenant = ?1 AND content_type = ?2 AND started_at IS NULL
                 ORDER BY id DESC LIMIT 1",
                params![tenant, content_type.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let mut closed = None;
        if to_state.is_enabled() {
            if let Some(id) = open {
                tx.execute(
                    "UPDATE gaps SET started_at = ?1, start_case_id = ?2 WHERE id = ?3",
                    params![ts(at), case_id, id],
                )?;
                closed = Some(tx.query_row(
                    "SELECT id, tenant, content_type, stopped_at, started_at, source, stop_case_id,
                        start_case_id FROM gaps WHERE id = ?1",
                    [id],
                    gap_row,
                )?);
            }
        } else if open.is_none() && from == Some(SubscriptionState::Enabled) {
            tx.execute(
                "INSERT INTO gaps (tenant, content_type, stopped_at, source, stop_case_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    tenant,
                    content_type.as_str(),
                    ts(at),
                    GapSource::from(cause),
                    case_id
                ],
            )?;
        }
        tx.commit()?;
        Ok(closed)
    }

    /// Record a state seen in a listing (or answer) when it differs from the last one known (a
    /// stop seen this way opens a gap; a start closes one). `case_id` names the case whose
    /// action saw it, if any.
    pub fn observe(
        &self,
        tenant: &str,
        content_type: ContentType,
        state: SubscriptionState,
        at: DateTime<Utc>,
        case_id: Option<&str>,
    ) -> Result<Observed, StoreError> {
        let before = self.last_state(tenant, content_type)?.map(|t| t.to_state);
        if before == Some(state) {
            return Ok(Observed {
                before,
                recorded: false,
                closed: None,
            });
        }
        let closed = self.transition(
            tenant,
            content_type,
            state,
            TransitionCause::Observed,
            at,
            case_id,
        )?;
        Ok(Observed {
            before,
            recorded: true,
            closed,
        })
    }

    /// Record a closed gap directly (e.g. content older than the retention limit).
    pub fn record_gap(
        &self,
        tenant: &str,
        content_type: ContentType,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        source: GapSource,
    ) -> Result<(), StoreError> {
        let c = self.writer()?;
        c.execute(
            "INSERT INTO gaps (tenant, content_type, stopped_at, started_at, source)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![tenant, content_type.as_str(), ts(from), ts(to), source],
        )?;
        Ok(())
    }

    /// Every gap ever recorded (of one tenant, or all), oldest first.
    pub fn gaps(&self, tenant: Option<&str>) -> Result<Vec<Gap>, StoreError> {
        let c = self.conn.lock();
        let mut st = c.prepare(
            "SELECT id, tenant, content_type, stopped_at, started_at, source, stop_case_id, start_case_id
             FROM gaps WHERE ?1 IS NULL OR tenant = ?1 ORDER BY stopped_at, id",
        )?;
        let rows = st.query_map([tenant], gap_row)?;
        let mut gaps: Vec<Gap> = rows.collect::<Result<_, _>>()?;
        drop(st);
        drop(c);
        let repairs = self.repairs()?;
        for g in &mut gaps {
            g.repair = repairs.get(&g.id).cloned();
        }
        Ok(gaps)
    }
}

fn transition_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Transition> {
    Ok(Transition {
        id: r.get(0)?,
        at: parse_ts(&r.get::<_, String>(1)?)?,
        tenant: r.get(2)?,
        content_type: r.get(3)?,
        from_state: r.get(4)?,
        to_state: r.get(5)?,
        cause: r.get(6)?,
        case_id: r.get(7)?,
    })
}

fn gap_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Gap> {
    Ok(Gap {
        id: r.get(0)?,
        tenant: r.get(1)?,
        content_type: r.get(2)?,
        stopped_at: parse_ts(&r.get::<_, String>(3)?)?,
        started_at: match r.get::<_, Option<String>>(4)? {
            Some(s) => Some(parse_ts(&s)?),
            None => None,
        },
        source: r.get(5)?,
        stop_case_id: r.get(6)?,
        start_case_id: r.get(7)?,
        repair: None,
    })
}
