//! Control API, configuration files, start-up facts.

use serde_json::json;

use crate::Env;

#[tokio::test]
async fn info_clock_and_counters() {
    let env = Env::new().await;
    let info = env.control_get("/info").await;
    assert_eq!(info["api_root"], env.info.api_root);
    assert_eq!(info["tenant_id"], o365_emulator::config::DEFAULT_TENANT_ID);
    assert!(env.info.api_root.starts_with("http://127.0.0.1:"));
    assert!(!env.info.api_root.ends_with(":0"), "the bound port, not 0");
    let before = env.now_ms().await;
    env.advance(86_400.0).await;
    let after = env.now_ms().await;
    assert!(after - before >= 86_400_000 && after - before < 86_460_000);
    let r = env
        .control_send(reqwest::Method::POST, "/clock/advance", json!({"secs": 1}))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("seconds"));
    // Counters count wire requests by route and status; control calls are not counted.
    let tok = env.token().await;
    env.start(&tok, "Audit.General").await;
    env.start(&tok, "Audit.General").await;
    let c = env.control_get("/counters").await;
    assert_eq!(c["routes"]["POST /{tenant}/oauth2/v2.0/token"]["200"], 1);
    let start = &c["routes"]["POST /api/v1.0/{tenant}/activity/feed/subscriptions/start"];
    assert_eq!(
        (start["200"].as_u64(), start["400"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(c["total"], 3);
    env.control_send(reqwest::Method::DELETE, "/counters", json!({}))
        .await;
    assert_eq!(env.control_get("/counters").await["total"], 0);
}

#[tokio::test]
async fn example_config_file_loads_and_bad_configs_are_named() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../emulator.example.toml"
    ))
    .unwrap();
    let mut cfg = o365_emulator::EmulatorConfig::from_toml(&text).expect("example parses");
    assert_eq!(cfg.seed, 42);
    assert_eq!(cfg.tenants.len(), 3);
    assert_eq!(
        cfg.tenants[1].cloud,
        o365_emulator::cloud::Cloud::GccHigh,
        "the example has a GCC High tenant"
    );
    // Certificate paths are relative to where the emulator runs: the repo root here.
    for a in &mut cfg.tenants[0].apps {
        for c in &mut a.certificates {
            *c = format!("{}/../../{c}", env!("CARGO_MANIFEST_DIR"));
        }
    }
    let env = Env::with(cfg).await;
    // The preset subscription has content from the last 48 hours.
    let m = env.control_get("/manifest?contentType=Audit.General").await;
    assert!(
        m["blob_count"].as_u64().unwrap() > 500,
        "{}",
        m["blob_count"]
    );
    for (toml, field) in [
        ("seed = \"x\"", "seed"),
        ("[api]\npage_size = 0", "api.page_size"),
        ("[api]\nnext_page_header = \"Next\"", "api.next_page_header"),
        ("[faults]\nrate_500 = 2.0", "faults.rate_500"),
        ("[throttle]\nstatus = 500", "throttle.status"),
        ("[[tenants]]\nid = \"nope\"", "tenants[0].id"),
        ("[api]\nbogus = 1", "bogus"),
        ("[[tenants]]\nid = \"7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80\"\n[[tenants.subscriptions]]\ncontent_type = \"Audit.Nope\"", "content_type"),
    ] {
        let e = o365_emulator::EmulatorConfig::from_toml(toml).expect_err(toml).to_string();
        assert!(e.contains(field), "{toml:?} -> {e}");
    }
}

#[tokio::test]
async fn date_header_follows_the_emulated_clock() {
    let env = Env::new().await;
    env.advance(3.0 * 86_400.0).await;
    let now = env.now_ms().await;
    let tok = env.token().await;
    let r = reqwest::Client::new()
        .get(format!("{}/subscriptions/list", env.feed()))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    let date = r.headers()["date"].to_str().unwrap().to_string();
    let served = chrono::DateTime::parse_from_rfc2822(&date)
        .unwrap()
        .timestamp_millis();
    assert!(
        (served - now).abs() < 5_000,
        "Date {date} vs emulated now {now}"
    );
}
