//! Which key a tenant's state is kept under. A tenant is its GUID (the token's `tid`), however
//! it is configured: its GUID in any case, or one of its domains. State kept by an earlier
//! version under the configured spelling (an upper-case GUID, a domain) is used where it is,
//! so changing how a tenant is written never starts it over nor collects it twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use o365_api::Client;

use crate::sinks::{SinkError, SinkSpec};

/// Why a tenant's key could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The sign-in that names the tenant's GUID failed.
    #[error("{0}")]
    Api(#[from] o365_api::Error),
    /// The sink's state could not be read.
    #[error("{0}")]
    Sink(#[from] SinkError),
    /// State for the tenant is kept under more than one spelling.
    #[error("the sink holds state for tenant {tid} under {} spellings ({}), made by earlier runs that wrote the tenant differently: keep one (collecting into a new sink begins anew), or ask for help before merging them by hand", spellings.len(), spellings.join(", "))]
    Split {
        /// The tenant's GUID.
        tid: String,
        /// The keys found for it.
        spellings: Vec<String>,
    },
    /// Another configured tenant is the same tenant.
    #[error("{this} and {other} are the same tenant ({tid}): each event would be collected twice; keep one of them")]
    Twice {
        /// The tenant refused.
        this: String,
        /// The tenant collecting it already.
        other: String,
        /// Their GUID.
        tid: String,
    },
}

/// The key for tenant `tid` (its normal GUID), configured as `configured`, among the keys a
/// sink already holds (`known`): the GUID itself, or the one earlier spelling of it (the GUID
/// in another case, or the configured domain) that holds state. Never a key of another tenant.
pub fn key_for(tid: &str, configured: &str, known: &[String]) -> Result<String, IdentityError> {
    let tid = o365_api::ids::normal_guid(tid).unwrap_or_else(|| tid.trim().to_string());
    if known.contains(&tid) {
        return Ok(tid);
    }
    let configured = configured.trim();
    let mut spellings: Vec<String> = known
        .iter()
        .filter(|k| {
            let k = k.trim();
            k.eq_ignore_ascii_case(&tid)
                || (!configured.is_empty() && k.eq_ignore_ascii_case(configured))
        })
        .cloned()
        .collect();
    spellings.sort();
    spellings.dedup();
    match spellings.len() {
        0 => Ok(tid),
        1 => Ok(spellings.remove(0)),
        _ => Err(IdentityError::Split { tid, spellings }),
    }
}

/// The GUID and key of the tenant `client` signs in to (see [`key_for`]): the configured GUID
/// needs no request; a domain needs a sign-in to learn the GUID, remembered in `store` for
/// what reads state without signing in ([`offline_key`]).
pub async fn resolve(
    client: &Client,
    configured: &str,
    known: &[String],
    store: Option<&o365_store::Store>,
) -> Result<(String, String), IdentityError> {
    let tid = client.tenant_guid().await?;
    if o365_api::ids::normal_guid(configured).is_none() {
        if let Some(st) = store {
            if let Err(e) = st.remember_tenant(configured, &tid, chrono::Utc::now()) {
                tracing::warn!(error = %e, "could not remember which tenant {configured} is");
            }
        }
    }
    let key = key_for(&tid, configured, known)?;
    if key != tid {
        tracing::info!(%tid, %key, "this tenant's state is kept under an earlier spelling; it stays there");
    }
    Ok((tid, key))
}

/// The key for reading a tenant's state without signing in: as [`resolve`], with a domain's
/// GUID from the last sign-in remembered in `store` (the domain itself when none is).
pub fn offline_key(
    configured: &str,
    known: &[String],
    store: Option<&o365_store::Store>,
) -> String {
    let tid = o365_api::ids::normal_guid(configured)
        .or_else(|| store.and_then(|s| s.tenant_of(configured).ok().flatten()))
        .unwrap_or_else(|| configured.trim().to_string());
    key_for(&tid, configured, known).unwrap_or(tid)
}

/// The keys a sink holds state for (read on a blocking thread: a Kafka sink reads its
/// checkpoint topic).
pub async fn known(spec: &SinkSpec) -> Result<Vec<String>, IdentityError> {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || spec.tenants())
        .await
        .map_err(|e| SinkError::Bus(format!("reading the sink's tenants: {e}")))?
        .map_err(IdentityError::from)
}

/// What the tenant loops of one process share to decide their keys: the sink's keys (read
/// once) and the tenants claimed.
#[derive(Debug, Default)]
pub struct Keys {
    known: tokio::sync::OnceCell<Vec<String>>,
    claims: Claims,
}

impl Keys {
    /// The key and GUID of the tenant `client` signs in to, configured as `configured` under
    /// the name `name`, claimed for this process while the returned claim lives.
    pub async fn decide(
        &self,
        spec: &SinkSpec,
        client: &Client,
        configured: &str,
        name: &str,
        store: Option<&o365_store::Store>,
    ) -> Result<(String, Claim), IdentityError> {
        let known = self.known.get_or_try_init(|| known(spec)).await?;
        let (tid, key) = resolve(client, configured, known, store).await?;
        // One tenant is one GUID at one service (two emulators may serve the same GUID).
        let at = client.api_root().trim_end_matches('/').to_ascii_lowercase();
        let claim = self.claims.claim(&tid, &at, name)?;
        Ok((key, claim))
    }
}

/// Tenants collected now in one process, by GUID: the second configured name of one tenant is
/// refused while the first runs.
#[derive(Debug, Default, Clone)]
pub struct Claims(Arc<Mutex<HashMap<String, (String, usize)>>>);

/// A tenant claimed; released when dropped.
#[derive(Debug)]
pub struct Claim {
    claims: Claims,
    key: String,
}

impl Claims {
    /// Claim `tid` at the service `at` (its API root) for the configured tenant `name`.
    pub fn claim(&self, tid: &str, at: &str, name: &str) -> Result<Claim, IdentityError> {
        let key = format!("{at} {tid}");
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(&key) {
            Some((other, _)) if other != name => Err(IdentityError::Twice {
                this: name.to_string(),
                other: other.clone(),
                tid: tid.to_string(),
            }),
            Some((_, n)) => {
                *n += 1;
                Ok(Claim {
                    claims: self.clone(),
                    key,
                })
            }
            None => {
                m.insert(key.clone(), (name.to_string(), 1));
                Ok(Claim {
                    claims: self.clone(),
                    key,
                })
            }
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut m = self.claims.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, n)) = m.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TID: &str = "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80";

    #[test]
    fn the_guid_unless_an_earlier_spelling_holds_the_state() {
        let k = |configured: &str, known: &[&str]| {
            let known: Vec<String> = known.iter().map(|s| s.to_string()).collect();
            key_for(TID, configured, &known).map_err(|e| e.to_string())
        };
        assert_eq!(k(TID, &[]).unwrap(), TID);
        assert_eq!(k("contoso.onmicrosoft.com", &[]).unwrap(), TID);
        let upper = TID.to_ascii_uppercase();
        assert_eq!(k(TID, &[&upper]).unwrap(), upper);
        assert_eq!(
            k("Contoso.onmicrosoft.com", &["contoso.onmicrosoft.com"]).unwrap(),
            "contoso.onmicrosoft.com"
        );
        // The GUID's own state wins over an earlier spelling's.
        assert_eq!(k(&upper, &[&upper, TID]).unwrap(), TID);
        // Another tenant's state is never taken.
        assert_eq!(
            k(
                TID,
                &[
                    "fabrikam.onmicrosoft.com",
                    "00000000-0000-0000-0000-000000000001"
                ]
            )
            .unwrap(),
            TID
        );
        let e = k(
            "contoso.onmicrosoft.com",
            &[&upper, "contoso.onmicrosoft.com"],
        )
        .unwrap_err();
        assert!(e.contains("2 spellings") && e.contains(&upper), "{e}");
    }

    #[test]
    fn a_tenant_is_claimed_once_until_released() {
        let c = Claims::default();
        let a = c.claim(TID, "https://manage.office.com", "main").unwrap();
        let e = c
            .claim(TID, "https://manage.office.com", "contoso")
            .unwrap_err()
            .to_string();
        assert!(e.contains("contoso and main are the same tenant"), "{e}");
        let again = c.claim(TID, "https://manage.office.com", "main");
        assert!(again.is_ok(), "a restart of the same name");
        drop(again);
        assert!(
            c.claim(TID, "http://127.0.0.1:9", "emulated").is_ok(),
            "the same GUID at another service"
        );
        drop(a);
        assert!(c.claim(TID, "https://manage.office.com", "contoso").is_ok());
    }

    proptest! {
        /// The key is the GUID or a spelling of this tenant that holds state; never another's.
        #[test]
        fn the_key_is_always_this_tenant(
            known in proptest::collection::vec(
                prop_oneof![
                    Just(TID.to_string()),
                    Just(TID.to_ascii_uppercase()),
                    Just("contoso.onmicrosoft.com".to_string()),
                    Just("fabrikam.onmicrosoft.com".to_string()),
                    Just("00000000-0000-0000-0000-000000000001".to_string()),
                ],
                0..5,
            ),
            configured in prop_oneof![
                Just(TID.to_string()),
                Just(TID.to_ascii_uppercase()),
                Just("CONTOSO.onmicrosoft.com".to_string()),
            ],
        ) {
            if let Ok(k) = key_for(TID, &configured, &known) {
                prop_assert!(
                    k == TID
                        || (known.contains(&k)
                            && (k.eq_ignore_ascii_case(TID) || k.eq_ignore_ascii_case(&configured)))
                );
                if known.iter().any(|x| x == TID) {
                    prop_assert_eq!(k, TID);
                }
            }
        }
    }
}
