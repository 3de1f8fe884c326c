//! The action journal: one row per action run, never a secret.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::{json_col, parse_ts, ts, Store, StoreError};

/// One action run, as journaled. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Row id (0 before it is written).
    #[serde(default)]
    pub id: i64,
    /// When the action started.
    pub at: DateTime<Utc>,
    /// Tenant the action was for.
    pub tenant: String,
    /// Action name, e.g. `Start Subscription`.
    pub action: String,
    /// Where it came from: `cli`, `action`, `mcp`, `demo`, `collect`.
    pub via: String,
    /// Case id.
    pub case_id: String,
    /// Alert group identifiers.
    pub alert_group_identifiers: Vec<String>,
    /// Scope.
    pub scope: String,
    /// Target entities (as given).
    pub target_entities: serde_json::Value,
    /// Content types asked for (canonical spelling).
    pub content_types: Vec<String>,
    /// `Completed` or `Failed`.
    pub status: String,
    /// Whether every requested type reached its state.
    pub result_value: bool,
    /// The output message.
    pub output_message: String,
    /// Per content type outcomes (the result's `json_result.subscriptions`).
    pub outcomes: serde_json::Value,
    /// Duration in milliseconds.
    pub duration_ms: u64,
}

impl Store {
    /// Write one journal row; returns its id.
    pub fn record_action(&self, e: &JournalEntry) -> Result<i64, StoreError> {
        let c = self.writer()?;
        c.execute(
            "INSERT INTO journal (at, tenant, action, via, case_id, alert_group_identifiers, scope,
                target_entities, content_types, status, result_value, output_message, outcomes, duration_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                ts(e.at),
                e.tenant,
                e.action,
                e.via,
                e.case_id,
                serde_json::to_string(&e.alert_group_identifiers).unwrap_or_default(),
                e.scope,
                e.target_entities.to_string(),
                serde_json::to_string(&e.content_types).unwrap_or_default(),
                e.status,
                e.result_value,
                e.output_message,
                e.outcomes.to_string(),
                e.duration_ms as i64,
            ],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// Journal rows (of one tenant, or all), newest first.
    pub fn journal(
        &self,
        tenant: Option<&str>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let c = self.conn.lock();
        let mut st = c.prepare(
            "SELECT id, at, tenant, action, via, case_id, alert_group_identifiers, scope, target_entities,
                content_types, status, result_value, output_message, outcomes, duration_ms
             FROM journal WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![tenant, limit as i64], |r| {
            Ok(JournalEntry {
                id: r.get(0)?,
                at: parse_ts(&r.get::<_, String>(1)?)?,
                tenant: r.get(2)?,
                action: r.get(3)?,
                via: r.get(4)?,
                case_id: r.get(5)?,
                alert_group_identifiers: json_col(&r.get::<_, String>(6)?)?,
                scope: r.get(7)?,
                target_entities: json_col(&r.get::<_, String>(8)?)?,
                content_types: json_col(&r.get::<_, String>(9)?)?,
                status: r.get(10)?,
                result_value: r.get(11)?,
                output_message: r.get(12)?,
                outcomes: json_col(&r.get::<_, String>(13)?)?,
                duration_ms: r.get::<_, i64>(14)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
