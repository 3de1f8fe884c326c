//! Webhook notifications, really delivered: for every subscription with an enabled webhook, the
//! blobs that became available since the last look are POSTed to its address (one JSON array per
//! subscription and look, `Webhook-AuthID` as registered), retried with doubling pauses, recorded
//! for `/subscriptions/notifications`; repeated failures disable the webhook, and its expiration
//! expires it.

use std::time::Duration;

use crate::api::{parse_time, DAY_MS};
use crate::content::{fmt_content_time, BlobFacts, ContentType};
use crate::state::{Shared, Webhook};

/// How often (real time) the emulated clock is looked at for new blobs.
const TICK: Duration = Duration::from_millis(100);

/// How far back (emulated) a look reaches for blobs that became available late.
const LOOKBACK_MS: i64 = DAY_MS;

/// Deliver notifications until the task is aborted.
pub(crate) async fn deliver(st: Shared) {
    loop {
        tokio::time::sleep(TICK).await;
        for ti in 0..st.tenants.len() {
            for Due {
                ct,
                hook,
                from,
                since,
            } in due(&st, ti)
            {
                let now = st.clock.now_ms();
                let blobs: Vec<BlobFacts> = st
                    .blobs_in(ti, ct, from.max(0) - LOOKBACK_MS, now + 1, Some(now))
                    .into_iter()
                    .filter(|b| b.available_ms > from && b.created_ms >= since)
                    .collect();
                if blobs.is_empty() {
                    continue;
                }
                let until = blobs.iter().map(|b| b.available_ms).max().unwrap_or(from);
                let delivered = send(&st, ti, ct, &hook, &blobs).await;
                record(&st, ti, ct, &hook, &blobs, until, now, delivered);
            }
        }
    }
}

/// A subscription whose webhook is to be looked at.
struct Due {
    ct: ContentType,
    hook: Webhook,
    /// Blobs available up to here were notified (or attempted).
    from: i64,
    /// The webhook is there since (only blobs created since are notified).
    since: i64,
}

/// Subscriptions of tenant `ti` whose webhook is enabled (expiring those past their expiration).
fn due(st: &Shared, ti: usize) -> Vec<Due> {
    let now = st.clock.now_ms();
    let mut subs = st.tenants[ti].subs.write();
    let mut out = vec![];
    for (ct, s) in subs.iter_mut() {
        let Some(w) = s.webhook.as_mut().filter(|w| w.status == "enabled") else {
            continue;
        };
        if !s.enabled {
            continue;
        }
        if w.expiration
            .as_deref()
            .and_then(parse_time)
            .is_some_and(|e| e <= now)
        {
            w.status = "expired".into();
            tracing::info!(tenant = %st.tenants[ti].info.id, content_type = ct.as_str(), "webhook expired");
            continue;
        }
        out.push(Due {
            ct: *ct,
            hook: w.clone(),
            from: s.notified_until_ms,
            since: s.webhook_since_ms,
        });
    }
    out
}

/// POST one notification with retries; true when an attempt got a 2xx (or the notification was
/// lost on the way by the configured fault, which the service cannot tell from a delivery).
async fn send(
    st: &Shared,
    ti: usize,
    ct: ContentType,
    hook: &Webhook,
    blobs: &[BlobFacts],
) -> bool {
    let t = &st.tenants[ti];
    let items: Vec<serde_json::Value> = blobs
        .iter()
        .map(|f| {
            let id = st.gen.content_id(&t.info, f);
            serde_json::json!({
                "tenantId": t.info.id,
                "clientId": hook.client_id,
                "contentType": ct.as_str(),
                "contentId": id,
                "contentUri": format!("{}/api/v1.0/{}/activity/feed/audit/{id}", hook.origin, t.info.id),
                "contentCreated": fmt_content_time(f.created_ms),
                "contentExpiration": fmt_content_time(f.created_ms + 7 * DAY_MS),
            })
        })
        .collect();
    let lost = st.faults.read().notification_drop_rate;
    if lost > 0.0 && st.fault_draw() < lost {
        tracing::debug!(
            content_type = ct.as_str(),
            n = items.len(),
            "notification lost (fault)"
        );
        return true;
    }
    let body = serde_json::Value::Array(items).to_string();
    let mut pause = Duration::from_millis(100);
    for attempt in 1..=st.cfg.api.webhook_attempts.max(1) {
        let mut req = st
            .http
            .post(&hook.address)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body.clone());
        if !hook.auth_id.is_empty() {
            req = req.header("Webhook-AuthID", &hook.auth_id);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => {
                tracing::debug!(attempt, status = r.status().as_u16(), address = %hook.address, "notification refused")
            }
            Err(e) => {
                tracing::debug!(attempt, error = %e, address = %hook.address, "notification not delivered")
            }
        }
        if attempt < st.cfg.api.webhook_attempts {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    false
}

/// Remember what was attempted; count failures in a row and disable the webhook after too many.
#[allow(clippy::too_many_arguments)]
fn record(
    st: &Shared,
    ti: usize,
    ct: ContentType,
    hook: &Webhook,
    blobs: &[BlobFacts],
    until: i64,
    sent_ms: i64,
    delivered: bool,
) {
    let t = &st.tenants[ti];
    {
        let mut n = t.notified.lock();
        for b in blobs {
            n.insert(b.key, (sent_ms, delivered));
        }
    }
    let mut subs = t.subs.write();
    let Some(s) = subs.get_mut(&ct) else { return };
    // The webhook may have been replaced meanwhile: then this attempt is not its business.
    if s.webhook.as_ref().map(|w| &w.address) != Some(&hook.address) {
        return;
    }
    s.notified_until_ms = s.notified_until_ms.max(until);
    if delivered {
        s.webhook_failures = 0;
        return;
    }
    s.webhook_failures += 1;
    if s.webhook_failures >= st.cfg.api.webhook_disable_after.max(1) {
        if let Some(w) = s.webhook.as_mut() {
            w.status = "disabled".into();
        }
        tracing::info!(tenant = %t.info.id, content_type = ct.as_str(), failures = s.webhook_failures, "webhook disabled after failed notifications");
    }
}
