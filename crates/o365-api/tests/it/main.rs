//! Integration tests of the client against the emulator (real HTTP on 127.0.0.1, port 0).
#![allow(missing_docs)]

mod client;
mod props;

use std::time::Duration;

use o365_api::{Client, ClientBuilder, Credentials, RetryPolicy};
use o365_emulator::{Emulator, EmulatorConfig};

pub const APP_KEY: &str = include_str!("../../../../testdata/app-key.pem");
pub const APP_CERT: &str = include_str!("../../../../testdata/app-cert.pem");
pub const PFX: &[u8] = include_bytes!("../../../../testdata/app.pfx");

pub struct Env {
    pub emu: Emulator,
    pub http: reqwest::Client,
}

impl Env {
    pub async fn new(f: impl FnOnce(&mut EmulatorConfig)) -> Self {
        let mut cfg = EmulatorConfig::default();
        cfg.data.duplicate_rate = 0.0;
        cfg.data.late_rate = 0.0;
        cfg.data.events_per_blob = 3;
        cfg.data.event_size = 300;
        f(&mut cfg);
        Self {
            emu: Emulator::start(cfg).await.unwrap(),
            http: reqwest::Client::new(),
        }
    }

    /// A builder for the default tenant and app with the given credentials, fast retries.
    pub fn builder_with(&self, creds: Credentials) -> ClientBuilder {
        let i = self.emu.info();
        Client::builder(i.tenant_id, i.client_id, creds)
            .api_root(i.api_root.clone())
            .login_endpoint(i.login_endpoint)
            .retry(RetryPolicy {
                max_attempts: 6,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                max_elapsed: Duration::from_secs(30),
            })
    }

    pub fn builder(&self) -> ClientBuilder {
        self.builder_with(Credentials::secret(self.emu.info().client_secret))
    }

    pub fn client(&self) -> Client {
        self.builder().build().unwrap()
    }

    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let r = self
            .http
            .request(method, format!("{}{path}", self.emu.info().control_root))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(serde_json::Value::Null)
    }

    pub async fn advance(&self, secs: f64) {
        self.control(
            reqwest::Method::POST,
            "/clock/advance",
            serde_json::json!({ "seconds": secs }),
        )
        .await;
    }

    pub async fn counters(&self) -> serde_json::Value {
        self.control(reqwest::Method::GET, "/counters", serde_json::Value::Null)
            .await
    }
}
