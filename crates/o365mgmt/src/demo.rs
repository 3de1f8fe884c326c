//! `o365mgmt demo`: a guided tour of the Management Activity API on the embedded emulator.
//!
//! It speaks raw HTTP so a newcomer sees every request; the actions (issue 4) will replace the
//! subscription steps with `o365mgmt start-subscription` and friends.

/// Print a line; a closed stdout (e.g. `| head`) is not an error worth a panic.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use base64::Engine as _;
use serde_json::Value;

const TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

struct Tour {
    http: reqwest::Client,
    feed: String,
    control: String,
    token: String,
}

impl Tour {
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> anyhow::Result<(u16, Value, reqwest::header::HeaderMap)> {
        let r = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header("Content-Length", "0")
            .send()
            .await
            .with_context(|| format!("request to {url}"))?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await?;
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, v, headers))
    }

    /// Move the emulated clock; the access token (1 h) expires on the way, so get a new one.
    async fn advance(&mut self, hours: f64, info: &o365_emulator::StartInfo) -> anyhow::Result<()> {
        self.http
            .post(format!("{}/clock/advance", self.control))
            .json(&serde_json::json!({ "seconds": hours * 3600.0 }))
            .send()
            .await?
            .error_for_status()?;
        self.token = token(&self.http, info).await?.0;
        Ok(())
    }
}

async fn token(
    http: &reqwest::Client,
    info: &o365_emulator::StartInfo,
) -> anyhow::Result<(String, Value)> {
    let r = http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            info.login_endpoint, info.tenant_id
        ))
        .form(&[
            ("client_id", info.client_id.as_str()),
            ("client_secret", info.client_secret.as_str()),
            ("scope", &format!("{}/.default", info.api_root)),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await?;
    let body: Value = r.json().await?;
    let token = body["access_token"]
        .as_str()
        .context("no access_token")?
        .to_string();
    Ok((token, body))
}

fn step(n: u32, what: &str) {
    say!("\n[{n}] {what}");
}

/// Run the tour; exit 0 when every step behaved as the real service would.
pub async fn run() -> anyhow::Result<ExitCode> {
    let emu = o365_emulator::Emulator::start(o365_emulator::EmulatorConfig::default()).await?;
    let info = emu.info();
    say!("o365mgmt demo: an embedded emulator of login.microsoftonline.com + manage.office.com");
    say!(
        "  listening on {} (tenant {}, app {})",
        info.api_root,
        info.tenant_id,
        info.client_id
    );
    let http = reqwest::Client::new();

    step(
        1,
        "Get an access token (client credentials, v2 endpoint, scope = API root + /.default)",
    );
    let (token, body) = token(&http, &info).await?;
    let claims: Value = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    say!(
        "  token ok: expires_in {}s, roles {}",
        body["expires_in"],
        claims["roles"]
    );

    let mut tour = Tour {
        http,
        feed: format!(
            "{}/api/v1.0/{}/activity/feed",
            info.api_root, info.tenant_id
        ),
        control: info.control_root.clone(),
        token,
    };
    let pubq = format!("PublisherIdentifier={}", info.tenant_id);

    step(2, "List subscriptions (a new tenant has none)");
    let (s, v, _) = tour
        .call(
            reqwest::Method::GET,
            &format!("{}/subscriptions/list?{pubq}", tour.feed),
        )
        .await?;
    say!("  {s} {v}");

    step(3, "Start a subscription for each of the five content types");
    for ct in TYPES {
        let (s, v, _) = tour
            .call(
                reqwest::Method::POST,
                &format!("{}/subscriptions/start?contentType={ct}&{pubq}", tour.feed),
            )
            .await?;
        say!("  {ct:<28} {s} status={}", v["status"]);
        if s != 200 {
            bail!("start {ct} answered {s}: {v}");
        }
    }

    step(4, "Start Audit.General again: the service answers 400 AF20024, which means 'already enabled' (success)");
    let (s, v, _) = tour
        .call(
            reqwest::Method::POST,
            &format!(
                "{}/subscriptions/start?contentType=Audit.General&{pubq}",
                tour.feed
            ),
        )
        .await?;
    say!("  {s} {}", v["error"]);

    step(5, "Let six hours of emulated time pass, then list Audit.SharePoint content, following NextPageUri");
    tour.advance(6.0, &info).await?;
    let clock: Value = tour
        .http
        .get(format!("{}/clock", tour.control))
        .send()
        .await?
        .json()
        .await?;
    let now = clock["now_ms"].as_i64().unwrap_or_default();
    let fmt = chrono_like;
    let mut url = format!(
        "{}/subscriptions/content?contentType=Audit.SharePoint&startTime={}&endTime={}&{pubq}",
        tour.feed,
        fmt(now - 6 * 3_600_000),
        fmt(now)
    );
    let mut blobs = Vec::new();
    let mut pages = 0;
    loop {
        let (s, v, h) = tour.call(reqwest::Method::GET, &url).await?;
        if s != 200 {
            bail!("listing answered {s}: {v}");
        }
        pages += 1;
        blobs.extend(v.as_array().cloned().unwrap_or_default());
        match h.get("NextPageUri").and_then(|v| v.to_str().ok()) {
            Some(next) => url = format!("{next}&{pubq}"),
            None => break,
        }
    }
    say!(
        "  {} blobs on {pages} page(s); the first created at {}",
        blobs.len(),
        blobs
            .first()
            .map(|b| b["contentCreated"].to_string())
            .unwrap_or_default()
    );

    step(6, "Fetch one blob: a JSON array of audit events");
    let uri = blobs
        .first()
        .and_then(|b| b["contentUri"].as_str())
        .context("no blob listed")?;
    let (s, v, _) = tour
        .call(reqwest::Method::GET, &format!("{uri}?{pubq}"))
        .await?;
    let events = v.as_array().cloned().unwrap_or_default();
    say!(
        "  {s}: {} events; first: {} {} by {} at {}",
        events.len(),
        events
            .first()
            .map(|e| e["Workload"].to_string())
            .unwrap_or_default(),
        events
            .first()
            .map(|e| e["Operation"].to_string())
            .unwrap_or_default(),
        events
            .first()
            .map(|e| e["UserId"].to_string())
            .unwrap_or_default(),
        events
            .first()
            .map(|e| e["CreationTime"].to_string())
            .unwrap_or_default()
    );

    step(7, "Stop Audit.Exchange, wait two hours, start it again: content of those two hours is lost for good");
    let (s, _, _) = tour
        .call(
            reqwest::Method::POST,
            &format!(
                "{}/subscriptions/stop?contentType=Audit.Exchange&{pubq}",
                tour.feed
            ),
        )
        .await?;
    say!("  stop: {s}");
    tour.advance(2.0, &info).await?;
    let (s, _, _) = tour
        .call(
            reqwest::Method::POST,
            &format!(
                "{}/subscriptions/start?contentType=Audit.Exchange&{pubq}",
                tour.feed
            ),
        )
        .await?;
    say!("  start: {s}");
    let subs: Value = tour
        .http
        .get(format!(
            "{}/tenants/{}/subscriptions",
            tour.control, info.tenant_id
        ))
        .send()
        .await?
        .json()
        .await?;
    if let Some(ex) = subs
        .as_array()
        .and_then(|a| a.iter().find(|s| s["contentType"] == "Audit.Exchange"))
    {
        let iv = ex["intervals"].as_array().cloned().unwrap_or_default();
        if iv.len() == 2 {
            say!(
                "  gap: [{}, {}) has no Audit.Exchange content",
                iv[0]["end"],
                iv[1]["start"]
            );
        }
    }

    step(8, "What the emulator saw (its counters)");
    let c: Value = tour
        .http
        .get(format!("{}/counters", tour.control))
        .send()
        .await?
        .json()
        .await?;
    say!("  {} requests", c["total"]);
    emu.shutdown().await;
    say!("\nDone. Run `o365mgmt emulator` to keep an emulator running for your own experiments.");
    Ok(ExitCode::SUCCESS)
}

fn chrono_like(ms: i64) -> String {
    // `YYYY-MM-DDTHH:MM:SS` UTC, as the API expects.
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}
