//! `--webhook`, `--webhook-url`, `--auth-id` for `collect --follow` and `serve`: the receiver
//! bound and the address the service is told.

use std::sync::Arc;

use anyhow::{bail, Context as _};
use o365_collect::webhook::{Receiver, WebhookSpec, Webhooks};
use o365_collect::Metrics;

use crate::cli::WebhookArgs;
use crate::warn;

/// How long polling waits between passes when notifications bring the new blobs.
pub const SAFETY_NET_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// `--webhook-url` checked (HTTPS, or http:// on loopback), before anything starts.
pub fn check(w: &WebhookArgs) -> anyhow::Result<()> {
    let Some(listen) = w.webhook else {
        return Ok(());
    };
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
    warn(&format!(
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
