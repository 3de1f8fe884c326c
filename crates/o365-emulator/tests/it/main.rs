//! Integration tests: real HTTP against the emulator on 127.0.0.1 with port 0.
#![allow(missing_docs, clippy::print_stdout)]

mod api;
mod clouds;
mod control;
mod data;
mod faults;
mod paging;
mod token;

use o365_emulator::{Emulator, EmulatorConfig, StartInfo};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A running emulator plus a client.
pub struct Env {
    pub emu: Emulator,
    pub info: StartInfo,
    pub http: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
    pub fn af_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub async fn read(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    Resp {
        status,
        headers,
        text,
    }
}

impl Env {
    pub async fn new() -> Self {
        Self::with(EmulatorConfig::default()).await
    }

    pub async fn with(cfg: EmulatorConfig) -> Self {
        let emu = Emulator::start(cfg).await.expect("emulator starts");
        let info = emu.info();
        Self {
            emu,
            info,
            http: reqwest::Client::new(),
        }
    }

    pub fn feed(&self) -> String {
        format!(
            "{}/api/v1.0/{}/activity/feed",
            self.info.api_root, self.info.tenant_id
        )
    }

    /// POST a form to the v2 (or v1) token endpoint of `tenant`.
    pub async fn token_form(&self, tenant: &str, v2: bool, form: &[(&str, &str)]) -> Resp {
        let path = if v2 {
            "oauth2/v2.0/token"
        } else {
            "oauth2/token"
        };
        read(
            self.http
                .post(format!("{}/{tenant}/{path}", self.info.login_endpoint))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A v2 token for an app of the default tenant using the default secret.
    pub async fn token_for(&self, client_id: &str) -> String {
        let scope = format!("{}/.default", self.info.api_root);
        let r = self
            .token_form(
                &self.info.tenant_id,
                true,
                &[
                    ("client_id", client_id),
                    ("client_secret", &self.info.client_secret),
                    ("scope", &scope),
                    ("grant_type", "client_credentials"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["access_token"].as_str().unwrap().to_string()
    }

    pub async fn token(&self) -> String {
        self.token_for(&self.info.client_id.clone()).await
    }

    pub async fn get(&self, token: &str, url: &str) -> Resp {
        read(self.http.get(url).bearer_auth(token).send().await.unwrap()).await
    }

    pub async fn post(&self, token: &str, url: &str) -> Resp {
        read(
            self.http
                .post(url)
                .bearer_auth(token)
                .header("Content-Length", "0")
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn start(&self, token: &str, ct: &str) -> Resp {
        self.post(
            token,
            &format!("{}/subscriptions/start?contentType={ct}", self.feed()),
        )
        .await
    }

    pub async fn stop(&self, token: &str, ct: &str) -> Resp {
        self.post(
            token,
            &format!("{}/subscriptions/stop?contentType={ct}", self.feed()),
        )
        .await
    }

    pub async fn control_get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.info.control_root))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn control_send(&self, method: reqwest::Method, path: &str, body: Value) -> Resp {
        read(
            self.http
                .request(method, format!("{}{path}", self.info.control_root))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn advance(&self, seconds: f64) {
        let r = self
            .control_send(
                reqwest::Method::POST,
                "/clock/advance",
                serde_json::json!({ "seconds": seconds }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    pub async fn now_ms(&self) -> i64 {
        self.control_get("/clock").await["now_ms"].as_i64().unwrap()
    }

    /// List content in `[start, end)` following every NextPageUri; returns all items and the page count.
    pub async fn list_all(
        &self,
        token: &str,
        ct: &str,
        start: i64,
        end: i64,
    ) -> (Vec<Value>, usize) {
        let mut url = format!(
            "{}/subscriptions/content?contentType={ct}&startTime={}&endTime={}",
            self.feed(),
            fmt(start),
            fmt(end)
        );
        let mut items = Vec::new();
        let mut pages = 0;
        loop {
            let r = self.get(token, &url).await;
            assert_eq!(r.status, 200, "{url}: {}", r.text);
            pages += 1;
            items.extend(r.json().as_array().unwrap().iter().cloned());
            match r.headers.get("NextPageUri") {
                Some(n) => url = n.to_str().unwrap().to_string(),
                None => break,
            }
            assert!(pages < 10_000, "paging does not end");
        }
        (items, pages)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.fff` for a millisecond time.
pub fn fmt(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string()
}

/// Decode the claims of a JWT without verifying it.
pub fn claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let p = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap(),
    )
    .unwrap()
}

/// Test config: small, fast content with no quirks unless a test turns them on.
pub fn quiet_config() -> EmulatorConfig {
    let mut c = EmulatorConfig::default();
    c.data.duplicate_rate = 0.0;
    c.data.late_rate = 0.0;
    c.data.events_per_blob = 3;
    c.data.event_size = 300;
    c
}
