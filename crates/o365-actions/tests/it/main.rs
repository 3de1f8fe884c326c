//! Integration tests of the actions against the emulator over real HTTP.
#![allow(missing_docs, clippy::result_large_err)]

mod actions;
mod config;

use std::sync::Arc;

use o365_actions::config::{Loader, Source};
use o365_actions::input::CaseContext;
use o365_actions::Runner;
use o365_emulator::{Emulator, EmulatorConfig};
use o365_store::Store;

/// A running emulator and helpers to build runners against it.
pub struct Env {
    pub emu: Emulator,
    pub store: Arc<Store>,
}

impl Env {
    pub async fn new() -> Env {
        Self::with(EmulatorConfig::default()).await
    }

    /// Against an emulator configured with `cfg`.
    pub async fn with(cfg: EmulatorConfig) -> Env {
        Env {
            emu: Emulator::start(cfg).await.unwrap(),
            store: Arc::new(Store::in_memory().unwrap()),
        }
    }

    /// A loader pointed at the emulator with the default app; `overrides` win.
    pub fn loader(&self, overrides: &[(&str, &str)]) -> Loader {
        let i = self.emu.info();
        let mut l = Loader::new();
        for (k, v) in [
            ("api_root", i.api_root.as_str()),
            ("login_endpoint", i.login_endpoint.as_str()),
            ("tenant_id", i.tenant_id.as_str()),
            ("client_id", i.client_id.as_str()),
            ("client_secret", i.client_secret.as_str()),
        ] {
            l.set(k, v, Source::Flag("test"));
        }
        for (k, v) in overrides {
            l.set(k, *v, Source::Flag("test"));
        }
        l
    }

    pub fn runner(&self, overrides: &[(&str, &str)]) -> Runner {
        Runner::new(
            self.loader(overrides).resolve().unwrap(),
            Some(self.store.clone()),
            "test",
        )
    }

    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let c = reqwest::Client::new();
        let mut rq = c.request(method, format!("{}/_emulator/{path}", self.emu.base_url()));
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        let r = rq.send().await.unwrap();
        assert!(r.status().is_success(), "control {path}: {}", r.status());
        r.json().await.unwrap_or(serde_json::Value::Null)
    }

    /// Requests the emulator has answered on the Activity API and token endpoints.
    pub async fn requests(&self) -> u64 {
        self.control(reqwest::Method::GET, "counters", None).await["total"]
            .as_u64()
            .unwrap()
    }
}

/// Answers the emulator gave on one route (e.g. `POST /api/.../subscriptions/start`), any status.
pub async fn route_count(env: &Env, route: &str) -> u64 {
    env.control(reqwest::Method::GET, "counters", None).await["routes"][route]
        .as_object()
        .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0)
}

pub fn ctx(id: &str) -> CaseContext {
    CaseContext {
        case_id: id.into(),
        alert_group_identifiers: vec!["g1".into()],
        ..CaseContext::manual()
    }
}
