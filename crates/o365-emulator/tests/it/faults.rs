//! Throttling and fault injection.

use serde_json::json;

use crate::Env;

#[tokio::test]
async fn per_tenant_budget_answers_af429() {
    let mut cfg = crate::quiet_config();
    cfg.throttle.requests_per_minute = 5;
    let env = Env::with(cfg).await;
    let tok = env.token().await;
    let url = format!(
        "{}/subscriptions/list?PublisherIdentifier={}",
        env.feed(),
        env.info.tenant_id
    );
    for _ in 0..5 {
        assert_eq!(env.get(&tok, &url).await.status, 200);
    }
    let r = env.get(&tok, &url).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.text,
        format!(
            r#"{{"error":{{"code":"AF429","message":"Too many requests. Method=ListSubscriptions, PublisherId={}"}}}}"#,
            env.info.tenant_id
        )
    );
    assert!(r.headers.get("retry-after").is_none());
    // Without PublisherIdentifier the message names the all-zero pool; the blob method is GetBlob.
    let r = env.get(&tok, &format!("{}/audit/x", env.feed())).await;
    assert!(
        r.text
            .contains("Method=GetBlob, PublisherId=00000000-0000-0000-0000-000000000000"),
        "{}",
        r.text
    );
    // Switch to 429 + Retry-After at run time; the budget refills.
    let r = env
        .control_send(
            reqwest::Method::PUT,
            "/throttle",
            json!({"requests_per_minute": 2, "status": 429, "retry_after_secs": 7}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(env.get(&tok, &url).await.status, 200);
    assert_eq!(env.get(&tok, &url).await.status, 200);
    let r = env.get(&tok, &url).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "7");
    // Turning it off.
    env.control_send(
        reqwest::Method::PUT,
        "/throttle",
        json!({"requests_per_minute": 0, "status": 403}),
    )
    .await;
    for _ in 0..20 {
        assert_eq!(env.get(&tok, &url).await.status, 200);
    }
}

#[tokio::test]
async fn injected_faults_at_run_time() {
    let env = Env::with(crate::quiet_config()).await;
    let tok = env.token().await;
    let url = format!("{}/subscriptions/list", env.feed());
    let set = |f: serde_json::Value| {
        let env = &env;
        async move {
            let r = env.control_send(reqwest::Method::PUT, "/faults", f).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    };
    set(json!({"rate_500": 1.0})).await;
    let r = env.get(&tok, &url).await;
    assert_eq!((r.status, r.af_code()), (500, "AF50000".into()));
    set(json!({"rate_503": 1.0})).await;
    let r = env.get(&tok, &url).await;
    assert_eq!((r.status, r.text.as_str()), (503, ""));
    set(json!({"rate_429": 1.0})).await;
    let r = env.get(&tok, &url).await;
    assert_eq!((r.status, r.af_code()), (429, "AF429".into()));
    set(json!({"rate_drop": 1.0})).await;
    let res = env.http.get(&url).bearer_auth(&tok).send().await;
    let failed = match res {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(failed, "a dropped connection must fail on the client");
    // The token endpoint is untouched unless asked.
    let _ = env.token().await;
    set(json!({"latency_ms": 150})).await;
    let t = std::time::Instant::now();
    assert_eq!(env.get(&tok, &url).await.status, 200);
    assert!(t.elapsed() >= std::time::Duration::from_millis(150));
    // A 30% mix: some fail, some pass, and the counters see both.
    set(json!({"rate_500": 0.15, "rate_503": 0.15})).await;
    env.control_send(reqwest::Method::DELETE, "/counters", json!({}))
        .await;
    let mut ok = 0;
    for _ in 0..60 {
        if env.get(&tok, &url).await.status == 200 {
            ok += 1;
        }
    }
    assert!((20..60).contains(&ok), "{ok} of 60 passed");
    let c = env.control_get("/counters").await;
    let route = &c["routes"]["GET /api/v1.0/{tenant}/activity/feed/subscriptions/list"];
    assert_eq!(route["200"].as_u64().unwrap(), ok);
    assert_eq!(
        route["500"].as_u64().unwrap_or(0) + route["503"].as_u64().unwrap_or(0),
        60 - ok
    );
    // Bad settings are refused with the field named.
    let r = env
        .control_send(reqwest::Method::PUT, "/faults", json!({"rate_500": 1.5}))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("rate_500"), "{}", r.text);
}

#[tokio::test]
async fn faults_from_the_start_config() {
    let mut cfg = crate::quiet_config();
    cfg.faults.rate_503 = 1.0;
    cfg.faults.include_token_endpoint = true;
    let env = Env::with(cfg).await;
    let scope = format!("{}/.default", env.info.api_root);
    let r = env
        .token_form(
            &env.info.tenant_id,
            true,
            &[
                ("client_id", &env.info.client_id),
                ("client_secret", &env.info.client_secret),
                ("scope", &scope),
                ("grant_type", "client_credentials"),
            ],
        )
        .await;
    assert_eq!(r.status, 503);
}

#[tokio::test]
async fn a_server_that_closes_every_connection() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let env = Env::with(crate::quiet_config()).await;
    let tok = env.token().await;
    let url = reqwest::Url::parse(&format!("{}/subscriptions/list", env.feed())).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    // One request on a raw connection; its answer read to the end of the stream.
    let exchange = || {
        let (addr, url, tok) = (addr.clone(), url.clone(), tok.clone());
        async move {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let req = format!(
                "GET {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {tok}\r\n\r\n",
                url.path()
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut got = Vec::new();
            let ended =
                tokio::time::timeout(std::time::Duration::from_secs(2), s.read_to_end(&mut got))
                    .await
                    .is_ok();
            (ended, String::from_utf8_lossy(&got).to_lowercase())
        }
    };
    // By default the connection stays open after the answer.
    let (ended, text) = exchange().await;
    assert!(!ended && text.starts_with("http/1.1 200"), "{text}");
    let r = env
        .control_send(
            reqwest::Method::PUT,
            "/faults",
            json!({"close_connections": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (ended, text) = exchange().await;
    assert!(ended, "the server kept the connection open: {text}");
    assert!(
        text.starts_with("http/1.1 200") && text.contains("connection: close"),
        "{text}"
    );
}
