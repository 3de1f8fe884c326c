//! `--webhook`, `--webhook-url`, `--auth-id` for `collect --follow` and `serve`: the receiver
//! bound and the address the service is told.

use std::sync::Arc;

use anyhow::{bail, Context as _};
use o365_collect::webhook::{Receiver, WebhookSpec, Webhooks};
use o365_collect::Metrics;

use crate::cli::WebhookArgs;

/// How long polling waits between passes when notifications bring the new blobs.
pub const SAFETY_NET_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The pause between passes: `interval` as given (`given`), else the safety net's 15 minutes
/// when notifications bring the new blobs. Notifications need a run that keeps going
/// (`follows`: `serve`, `collect --follow`).
pub fn pass_interval(
    w: &WebhookArgs,
    interval: std::time::Duration,
    given: bool,
    follows: bool,
) -> anyhow::Result<std::time::Duration> {
    if w.webhook.is_none() {
        return Ok(interval);
    }
    if !follows {
        bail!("--webhook receives notifications while collecting goes on: add --follow");
    }
    Ok(if given { interval } else { SAFETY_NET_INTERVAL })
}

/// `--webhook-url` checked (HTTPS, or http:// on loopback), before anything starts.
pub fn check(w: &WebhookArgs) -> anyhow::Result<()> {
    let Some(listen) = w.webhook else {
        return Ok(());
    };
    match w.auth_id.as_deref().map(str::trim) {
        Some("") => bail!("--auth-id (O365_WEBHOOK_AUTH_ID) is empty, which would turn the check off: give a random value (e.g. `openssl rand -hex 16`), or unset it on loopback"),
        Some(a) if !a.bytes().all(|b| b.is_ascii_graphic()) => bail!("--auth-id (O365_WEBHOOK_AUTH_ID) holds spaces or characters other than printable ASCII, which an HTTP header cannot carry back: give letters, digits and punctuation only (e.g. `openssl rand -hex 16`)"),
        None if !listen.ip().is_loopback() => bail!("--webhook {listen} listens beyond loopback without --auth-id: anyone who finds the address could send notifications; set O365_WEBHOOK_AUTH_ID (or --auth-id) to a random value (e.g. `openssl rand -hex 16`), which the service sends back with each one"),
        _ => {}
    }
    match &w.webhook_url {
        Some(u) => {
            if let Err(why) = o365_api::cloud::check_destination(u) {
                bail!("--webhook-url {u:?}: {why}; give the HTTPS address at which the service reaches --webhook, e.g. https://collector.example.com/o365");
            }
            Ok(())
        }
        None if listen.ip().is_loopback() => Ok(()),
        None => bail!("--webhook {listen} listens beyond loopback: add --webhook-url with the HTTPS address at which the service reaches it (e.g. a reverse proxy: https://collector.example.com/o365)"),
    }
}

/// Bind the receiver (counting into `metrics`) and say where notifications are expected.
pub async fn start(w: &WebhookArgs, metrics: Arc<Metrics>) -> anyhow::Result<Option<Webhooks>> {
    let Some(listen) = w.webhook else {
        return Ok(None);
    };
    check(w)?;
    let rx = Receiver::bind(listen, w.auth_id.clone(), metrics)
        .await
        .with_context(|| format!("--webhook {listen}"))?;
    let url = match &w.webhook_url {
        Some(u) => u.trim().to_string(),
        None => format!("http://{}/", rx.addr()),
    };
    crate::term::note(&format!(
        "webhook notifications at {url} (listening on {})",
        rx.addr()
    ));
    Ok(Some(Webhooks {
        spec: WebhookSpec {
            url,
            auth_id: w.auth_id.clone(),
        },
        receiver: Arc::new(rx),
    }))
}
