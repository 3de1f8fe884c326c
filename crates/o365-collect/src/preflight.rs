//! Before collecting: sign in and list the subscriptions (a clear error beats five failed
//! listings), record what is seen, and start the types that are not enabled when asked to.

use std::sync::Arc;

use o365_actions::config::Settings;
use o365_actions::input::CaseContext;
use o365_actions::result::{diagnose, Failure};
use o365_actions::Runner;
use o365_api::{Client, ContentType, Subscription};
use o365_store::Store;

/// What the check found: things to tell the user.
#[derive(Debug, Default)]
pub struct Preflight {
    /// Warnings (stops seen, types not subscribed, what auto-start did).
    pub warnings: Vec<String>,
}

/// Sign in, list, observe, and start missing types when `auto_start`. An `Err` means nothing
/// can be collected (sign-in or listing failed), with its cause and fix.
pub async fn check(
    settings: &Settings,
    store: Option<&Arc<Store>>,
    client: &Client,
    tenant: &str,
    types: &[ContentType],
    auto_start: bool,
) -> Result<Preflight, Failure> {
    let subs = client
        .list_subscriptions()
        .await
        .map_err(|e| diagnose(&e, settings.secret_looks_like_id()))?;
    let mut out = Preflight::default();
    if let Some(store) = store {
        let history = o365_api::cloud::history_key(tenant, client.api_root());
        match o365_actions::observe_subscriptions(store, &history, &subs, client.server_now()) {
            Ok(w) => out.warnings.extend(w),
            Err(e) => out
                .warnings
                .push(format!("the data-gap ledger could not be written: {e}")),
        }
    }
    let missing: Vec<ContentType> = types
        .iter()
        .copied()
        .filter(|ct| !Subscription::enabled_in(&subs, *ct))
        .collect();
    if missing.is_empty() {
        return Ok(out);
    }
    if auto_start {
        let runner = Runner::new(settings.clone(), store.cloned(), "collect");
        let ctx = CaseContext {
            case_id: "collector".into(),
            ..CaseContext::manual()
        };
        let r = runner.start(ctx, missing).await;
        out.warnings
            .extend(r.output_message.lines().map(|l| format!("auto-start: {l}")));
    } else {
        out.warnings.push(format!(
            "not subscribed: {} — nothing is produced for them; start them with `o365mgmt start-subscription` or collect with --auto-start",
            missing.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(out)
}
