//! The sink a tenant was last collected into (a local one: its kind and path), so that reading
//! commands (`status`, `collect status`) show where the events went without being told again.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension as _};

use crate::{ts, Store, StoreError};

impl Store {
    /// Remember that `tenant` was collected into `sink` (e.g. `jsonl:/var/lib/o365/events.jsonl`).
    pub fn remember_sink(
        &self,
        tenant: &str,
        sink: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let c = self.writer()?;
        c.execute(
            "INSERT INTO tenant_sinks (tenant, sink, at) VALUES (?1, ?2, ?3)
             ON CONFLICT(tenant) DO UPDATE SET sink = excluded.sink, at = excluded.at",
            params![tenant, sink, ts(now)],
        )?;
        Ok(())
    }

    /// The sink `tenant` was last collected into, if one was remembered.
    pub fn last_sink(&self, tenant: &str) -> Result<Option<String>, StoreError> {
        let c = self.conn.lock();
        let has: i64 = c.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'tenant_sinks'",
            [],
            |r| r.get(0),
        )?;
        if has == 0 {
            return Ok(None);
        }
        Ok(c.query_row(
            "SELECT sink FROM tenant_sinks WHERE tenant = ?1",
            [tenant],
            |r| r.get(0),
        )
        .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_sink_of_each_tenant() {
        let s = Store::in_memory().unwrap();
        assert_eq!(s.last_sink("a").unwrap(), None);
        s.remember_sink("a", "jsonl:/x.jsonl", Utc::now()).unwrap();
        s.remember_sink("b", "sqlite:/y.sqlite", Utc::now())
            .unwrap();
        s.remember_sink("a", "sqlite:/z.sqlite", Utc::now())
            .unwrap();
        assert_eq!(
            s.last_sink("a").unwrap().as_deref(),
            Some("sqlite:/z.sqlite")
        );
        assert_eq!(
            s.last_sink("b").unwrap().as_deref(),
            Some("sqlite:/y.sqlite")
        );
    }
}
