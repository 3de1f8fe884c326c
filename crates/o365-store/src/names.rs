//! Which tenant a configured name (a domain) is: learnt at a sign-in, so what reads state
//! without signing in (status, gaps) finds the tenant's state under its GUID.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension as _};

use crate::{ts, Store, StoreError};

impl Store {
    /// Remember that the configured name `name` is the tenant `tid`.
    pub fn remember_tenant(
        &self,
        name: &str,
        tid: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let c = self.writer()?;
        c.execute(
            "INSERT INTO tenant_names (name, tid, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET tid = excluded.tid, seen_at = excluded.seen_at",
            params![name.trim().to_ascii_lowercase(), tid, ts(now)],
        )?;
        Ok(())
    }

    /// The tenant GUID a sign-in last gave for the configured name `name`, if any.
    pub fn tenant_of(&self, name: &str) -> Result<Option<String>, StoreError> {
        let c = self.conn.lock();
        let has: i64 = c.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'tenant_names'",
            [],
            |r| r.get(0),
        )?;
        if has == 0 {
            return Ok(None);
        }
        Ok(c.query_row(
            "SELECT tid FROM tenant_names WHERE name = ?1",
            [name.trim().to_ascii_lowercase()],
            |r| r.get(0),
        )
        .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_remembered_and_its_latest_tenant_wins() {
        let s = Store::in_memory().unwrap();
        assert_eq!(s.tenant_of("contoso.onmicrosoft.com").unwrap(), None);
        s.remember_tenant("Contoso.onmicrosoft.com ", "t1", Utc::now())
            .unwrap();
        assert_eq!(
            s.tenant_of("contoso.onmicrosoft.com").unwrap().as_deref(),
            Some("t1")
        );
        s.remember_tenant("contoso.onmicrosoft.com", "t2", Utc::now())
            .unwrap();
        assert_eq!(
            s.tenant_of("CONTOSO.onmicrosoft.com").unwrap().as_deref(),
            Some("t2")
        );
    }
}
