//! What a subscription listing tells the ledger: states seen, and stops made elsewhere.

use chrono::{DateTime, Utc};
use o365_api::{Client, ContentType, Subscription};
use o365_store::{Store, SubscriptionState};

use crate::result::ActionResult;
use crate::Runner;

/// The state of `ct` in a listing.
pub fn state_in(subs: &[Subscription], ct: ContentType) -> SubscriptionState {
    match Subscription::find(subs, ct) {
        Some(s) if s.is_enabled() => SubscriptionState::Enabled,
        Some(_) => SubscriptionState::Disabled,
        None => SubscriptionState::Absent,
    }
}

/// Record what a subscription listing shows: a type whose state differs from the last one known
/// gets an `observed` transition (a stop seen this way opens a gap). Returns warnings for people.
pub fn observe_subscriptions(
    store: &Store,
    tenant: &str,
    subs: &[Subscription],
    now: DateTime<Utc>,
) -> Result<Vec<String>, o365_store::StoreError> {
    let mut warnings = Vec::new();
    for ct in ContentType::ALL {
        let state = state_in(subs, ct);
        if store
            .observe(tenant, ct, state, now, None)?
            .stopped_elsewhere(state)
        {
            warnings.push(format!(
                "{ct} was stopped outside this tool (seen {state} now, enabled before): content since then is lost; the gap is in the ledger"
            ));
        }
    }
    Ok(warnings)
}

impl Runner {
    /// Record observed subscription states in the ledger; warnings go into the result.
    pub(crate) fn observe(&self, client: &Client, subs: &[Subscription], r: &mut ActionResult) {
        let (Some(store), Some(tenant)) = (&self.store, self.ledger_tenant()) else {
            return;
        };
        match observe_subscriptions(store, &tenant, subs, client.server_now()) {
            Ok(w) => r.warnings.extend(w),
            Err(e) => self.state_not_recorded(r, "data-gap ledger", &e),
        }
    }
}
