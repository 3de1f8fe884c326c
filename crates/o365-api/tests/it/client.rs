//! The client against the emulator.

use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use o365_api::window::Window;
use o365_api::*;
use o365_emulator::config as ecfg;
use serde_json::json;

use crate::{Env, APP_CERT, APP_KEY, PFX};

const LIST: &str = "GET /api/v1.0/{tenant}/activity/feed/subscriptions/list";

fn route_count(c: &serde_json::Value, route: &str) -> u64 {
    c["routes"][route]
        .as_object()
        .map(|m| m.values().map(|v| v.as_u64().unwrap()).sum())
        .unwrap_or(0)
}

#[tokio::test]
async fn secret_auth_v1_and_v2_with_a_shared_token_cache() {
    let env = Env::new(|_| {}).await;
    for v in [TokenVersion::V2, TokenVersion::V1] {
        let c = env.builder().token_version(v).build().unwrap();
        assert!(c.list_subscriptions().await.unwrap().is_empty());
        let c2 = c.clone();
        let (a, b) = tokio::join!(c.list_subscriptions(), c2.list_subscriptions());
        a.unwrap();
        b.unwrap();
        assert_eq!(
            c.token_requests_made(),
            1,
            "one token for every call and clone"
        );
        let info = c.token_info().await.unwrap();
        assert!(info.roles.contains(&"ActivityFeed.Read".to_string()));
        assert_eq!(info.tenant_id, ecfg::DEFAULT_TENANT_ID);
    }
    // Concurrent first calls share one token request.
    let c = env.client();
    let calls: Vec<_> = (0..8).map(|_| c.list_subscriptions()).collect();
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(c.token_requests_made(), 1);
}

#[tokio::test]
async fn certificate_auth_pem_and_pfx_both_algorithms_v1_and_v2() {
    let env = Env::new(|_| {}).await;
    let pem = Certificate::from_pem(APP_CERT, APP_KEY).unwrap();
    let pfx = Certificate::from_pkcs12(PFX, "emulator").unwrap();
    assert_eq!(pem.thumbprint(), pfx.thumbprint());
    assert_eq!(pem.thumbprint().len(), 40);
    assert!(!format!("{pem:?}").contains("PRIVATE"));
    for cert in [pem, pfx] {
        for alg in [AssertionAlgorithm::Ps256, AssertionAlgorithm::Rs256] {
            for v in [TokenVersion::V2, TokenVersion::V1] {
                let c = env
                    .builder_with(Credentials::Certificate(Box::new(
                        cert.clone().with_algorithm(alg),
                    )))
                    .token_version(v)
                    .build()
                    .unwrap();
                c.list_subscriptions()
                    .await
                    .unwrap_or_else(|e| panic!("{alg:?} {v:?}: {e}"));
            }
        }
    }
    let e = Certificate::from_pkcs12(PFX, "wrong")
        .unwrap_err()
        .to_string();
    assert!(e.contains("password"), "{e}");
    // An unregistered certificate is refused with the AADSTS code and a hint.
    let other = Certificate::from_pem(
        include_str!("../../../../testdata/other-cert.pem"),
        include_str!("../../../../testdata/other-key.pem"),
    )
    .unwrap();
    let e = env
        .builder_with(Credentials::Certificate(Box::new(other)))
        .build()
        .unwrap()
        .list_subscriptions()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Aadsts { code: 700027, .. }), "{e}");
    assert!(e.to_string().contains("upload the certificate"));
    // Certificates load from files too.
    let dir = std::env::temp_dir().join(format!("o365-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("both.pem"), format!("{APP_CERT}{APP_KEY}")).unwrap();
    std::fs::write(dir.join("app.pfx"), PFX).unwrap();
    Certificate::from_file(&dir.join("both.pem"), None).unwrap();
    let pw = secrecy::SecretString::from("emulator".to_string());
    Certificate::from_file(&dir.join("app.pfx"), Some(&pw)).unwrap();
    assert!(Certificate::from_file(&dir.join("nope.pem"), None).is_err());
}

#[tokio::test]
async fn each_error_kind_with_its_text_and_no_secret_anywhere() {
    let env = Env::new(|_| {}).await;
    let secret = "super-secret-value-that-must-not-leak";
    let c = env
        .builder_with(Credentials::secret(secret))
        .build()
        .unwrap();
    let e = c.list_subscriptions().await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Aadsts {
                code: 7000215,
                status: 401,
                ..
            }
        ),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.contains("secret's ID instead of its Value"), "{text}");
    for s in [
        text,
        format!("{e:?}"),
        format!("{c:?}"),
        format!("{:?}", Credentials::secret(secret)),
    ] {
        assert!(!s.contains(secret), "secret leaked: {s}");
    }
    // Unknown tenant, app not in tenant.
    let i = env.emu.info();
    let c = Client::builder(
        "99999999-9999-4999-8999-999999999999",
        &i.client_id,
        Credentials::secret(&i.client_secret),
    )
    .api_root(&i.api_root)
    .login_endpoint(&i.login_endpoint)
    .build()
    .unwrap();
    let e = c.list_subscriptions().await.unwrap_err();
    assert!(matches!(e, Error::Aadsts { code: 90002, .. }), "{e}");
    // Missing permission.
    let c = Client::builder(
        &i.tenant_id,
        ecfg::NO_ROLES_CLIENT_ID,
        Credentials::secret(&i.client_secret),
    )
    .api_root(&i.api_root)
    .login_endpoint(&i.login_endpoint)
    .build()
    .unwrap();
    let e = c
        .start_subscription(ContentType::General, None)
        .await
        .unwrap_err();
    assert_eq!(e.af_code(), Some("AF10001"));
    assert_eq!(e.status(), Some(401));
    assert!(e.to_string().contains("grant the app"), "{e}");
    // Auditing off.
    let c = Client::builder(
        ecfg::AUDIT_OFF_TENANT_ID,
        ecfg::AUDIT_OFF_CLIENT_ID,
        Credentials::secret(&i.client_secret),
    )
    .api_root(&i.api_root)
    .login_endpoint(&i.login_endpoint)
    .build()
    .unwrap();
    let e = c
        .start_subscription(ContentType::General, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::AuditingOff { tenant } if tenant == ecfg::AUDIT_OFF_TENANT_ID),
        "{e:?}"
    );
    // Not subscribed, and AF20024 as success.
    let c = env.client();
    let e = c
        .stop_subscription(ContentType::Exchange)
        .await
        .unwrap_err();
    assert_eq!(e.af_code(), Some("AF20022"));
    assert!(
        matches!(c.start_subscription(ContentType::Exchange, None).await.unwrap(), StartOutcome::Started(s) if s.is_enabled())
    );
    assert_eq!(
        c.start_subscription(ContentType::Exchange, None)
            .await
            .unwrap(),
        StartOutcome::AlreadyEnabled
    );
    c.stop_subscription(ContentType::Exchange).await.unwrap();
    let subs = c.list_subscriptions().await.unwrap();
    assert_eq!(subs[0].status, "disabled");
    // Unreachable host: a transport error, retried, then reported.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let c = env
        .builder()
        .login_endpoint(format!("http://{addr}"))
        .retry(RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(5),
            max_elapsed: Duration::from_secs(5),
        })
        .build()
        .unwrap();
    let e = c.list_subscriptions().await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(e.to_string().contains(&addr.to_string()));
    assert_eq!(c.token_requests_made(), 2);
}

async fn with_content(env: &Env, c: &Client, ct: ContentType, hours: f64) -> Window {
    c.start_subscription(ct, None).await.unwrap();
    let start = c.server_now();
    env.advance(hours * 3600.0).await;
    let now = chrono::Utc::now() + chrono::Duration::milliseconds((hours * 3_600_000.0) as i64);
    Window {
        start: start - chrono::Duration::minutes(1),
        end: now,
    }
}

#[tokio::test]
async fn paging_across_pages_and_an_empty_first_page() {
    let env = Env::new(|c| {
        c.api.page_size = 4;
        c.api.empty_first_page = true;
    })
    .await;
    let c = env
        .builder()
        .refresh_margin(Duration::ZERO)
        .build()
        .unwrap();
    let w = with_content(&env, &c, ContentType::SharePoint, 2.0).await;
    let pages: Vec<Vec<ContentBlob>> = c
        .list_content(ContentType::SharePoint, w)
        .try_collect()
        .await
        .unwrap();
    assert!(pages.len() >= 4, "{} pages", pages.len());
    assert!(
        pages[0].is_empty(),
        "the first page is empty but has a NextPageUri"
    );
    let all: Vec<ContentBlob> = pages.into_iter().flatten().collect();
    assert!((23..=25).contains(&all.len()), "{} blobs", all.len());
    let ids: std::collections::BTreeSet<_> = all.iter().map(|b| b.content_id.clone()).collect();
    assert_eq!(ids.len(), all.len());
    // Fetch one: raw bytes kept, fields read.
    let evs = c.fetch_blob(&all[0].content_uri).await.unwrap();
    assert_eq!(evs.len(), 3);
    let raw: serde_json::Value = serde_json::from_str(evs[0].raw.get()).unwrap();
    assert_eq!(raw["Id"], evs[0].id.as_str());
    assert!(
        evs[0].creation_time.is_some()
            && evs[0].record_type.is_some()
            && evs[0].operation.is_some()
    );
    assert_eq!(evs[0].workload.as_deref(), Some("OneDrive"));
}

#[tokio::test]
async fn token_expiry_mid_stream_is_refreshed_once() {
    let env = Env::new(|c| {
        c.api.page_size = 3;
        c.api.token_lifetime_secs = 900;
    })
    .await;
    let c = env.client();
    let w = with_content(&env, &c, ContentType::General, 1.0).await;
    // with_content moved the clock an hour: the first token is already expired at the server.
    let mut stream = std::pin::pin!(c.list_content(ContentType::General, w));
    let first = stream.try_next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    env.advance(1000.0).await; // expires again mid-stream
    let mut n = first.len();
    while let Some(p) = stream.try_next().await.unwrap() {
        n += p.len();
    }
    assert!(n >= 10);
    assert_eq!(
        c.token_requests_made(),
        3,
        "initial, after the first advance, after the second"
    );
}

#[tokio::test]
async fn retry_storms_end_in_success_with_the_right_number_of_requests() {
    let env = Env::new(|_| {}).await;
    let c = env
        .builder()
        .retry(RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_elapsed: Duration::from_secs(30),
        })
        .build()
        .unwrap();
    c.list_subscriptions().await.unwrap();
    env.control(reqwest::Method::DELETE, "/counters", json!({}))
        .await;
    env.control(
        reqwest::Method::PUT,
        "/faults",
        json!({"script": [429, 500, 503, 0, 403, 408]}),
    )
    .await;
    let t = Instant::now();
    c.list_subscriptions().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    let counters = env.counters().await;
    assert_eq!(
        route_count(&counters, LIST),
        7,
        "six failures, then success: {counters}"
    );
    assert_eq!(c.requests_made(), 1 + 7);
    // A storm longer than the policy gives up after exactly max_attempts requests.
    let c = env
        .builder()
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(5),
            max_elapsed: Duration::from_secs(10),
        })
        .build()
        .unwrap();
    c.list_subscriptions().await.unwrap();
    env.control(reqwest::Method::DELETE, "/counters", json!({}))
        .await;
    env.control(
        reqwest::Method::PUT,
        "/faults",
        json!({"script": [403, 403, 403, 403]}),
    )
    .await;
    let e = c.list_subscriptions().await.unwrap_err();
    assert!(matches!(e, Error::Throttled { status: 403, .. }), "{e:?}");
    assert_eq!(route_count(&env.counters().await, LIST), 3);
    // Non-retryable errors are not retried.
    env.control(reqwest::Method::PUT, "/faults", json!({}))
        .await;
    env.control(reqwest::Method::DELETE, "/counters", json!({}))
        .await;
    let _ = c.stop_subscription(ContentType::DlpAll).await.unwrap_err();
    assert_eq!(env.counters().await["total"], 1);
}

#[tokio::test]
async fn pacing_holds_the_budget_under_concurrency() {
    let env = Env::new(|c| c.throttle.requests_per_minute = 600).await;
    let c = env
        .builder()
        .requests_per_minute(600)
        .burst(5)
        .build()
        .unwrap();
    c.token_info().await.unwrap();
    let t = Instant::now();
    let calls: Vec<_> = (0..25)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.list_subscriptions().await })
        })
        .collect();
    for h in calls {
        h.await.unwrap().unwrap();
    }
    // 5 at once, then 10 per second: 20 more take about 2 s.
    assert!(
        t.elapsed() >= Duration::from_millis(1800),
        "{:?}",
        t.elapsed()
    );
    let counters = env.counters().await;
    assert_eq!(
        counters["routes"][LIST]["403"],
        serde_json::Value::Null,
        "never throttled: {counters}"
    );
    assert_eq!(counters["routes"][LIST]["200"], 25);
}

#[tokio::test]
async fn foreign_hosts_are_refused_and_never_get_the_token() {
    let env = Env::new(|_| {}).await;
    let c = env.client();
    let e = c
        .fetch_blob("https://evil.example.com/api/v1.0/t/activity/feed/audit/x")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ForeignHost { .. }), "{e:?}");
    assert_eq!(c.requests_made(), 0);
    // A fake service whose NextPageUri points elsewhere.
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen2 = seen.clone();
    let app = axum::Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            axum::routing::post(|| async { axum::Json(json!({"token_type":"Bearer","expires_in":3599,"access_token":"x.eyJ0aWQiOiJ0In0.y"})) }),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/content",
            axum::routing::get(|| async {
                ([("NextPageUri", "http://127.0.0.2:9/api/v1.0/t/activity/feed/subscriptions/content?nextPage=1")], "[]")
            }),
        )
        .layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
            let seen = seen2.clone();
            async move {
                seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                next.run(req).await
            }
        }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let c = Client::builder(
        "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80",
        "a",
        Credentials::secret("s"),
    )
    .api_root(&root)
    .login_endpoint(&root)
    .build()
    .unwrap();
    let now = chrono::Utc::now();
    let r: Result<Vec<Vec<ContentBlob>>, _> = c
        .list_content(
            ContentType::General,
            Window {
                start: now - chrono::Duration::hours(1),
                end: now,
            },
        )
        .try_collect()
        .await;
    assert!(matches!(r, Err(Error::ForeignHost { .. })), "{r:?}");
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::Relaxed),
        2,
        "token + one listing, nothing to the other host"
    );
}

#[tokio::test]
async fn notifications_and_dlp_types() {
    let env = Env::new(|_| {}).await;
    let c = env.client();
    let w = with_content(&env, &c, ContentType::General, 1.0).await;
    let n: Vec<Vec<Notification>> = c
        .list_notifications(ContentType::General, w)
        .try_collect()
        .await
        .unwrap();
    assert!(
        n.iter().all(|p| p.is_empty()),
        "no webhook, no notifications"
    );
    let t = c.dlp_sensitive_types().await.unwrap();
    assert!(t.iter().any(|x| x.name == "CreditCardNumber"));
}

#[tokio::test]
async fn publisher_identifier_on_every_call_and_bounded_answers() {
    let env = Env::new(|c| c.api.page_size = 2).await;
    let c = env
        .builder()
        .publisher_id("11111111-1111-4111-8111-111111111111")
        .build()
        .unwrap();
    let w = with_content(&env, &c, ContentType::General, 0.5).await;
    let blobs = c.list_content_all(ContentType::General, w).await.unwrap();
    assert!(blobs.len() >= 5);
    // Throttle to see which PublisherIdentifier the service saw on a blob fetch after paging.
    env.control(
        reqwest::Method::PUT,
        "/throttle",
        json!({"requests_per_minute": 1, "status": 403}),
    )
    .await;
    let e = env
        .builder()
        .publisher_id("11111111-1111-4111-8111-111111111111")
        .retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let _ = e.fetch_blob(&blobs[0].content_uri).await;
    let err = e.fetch_blob(&blobs[1].content_uri).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("PublisherId=11111111-1111-4111-8111-111111111111"),
        "{err}"
    );
    env.control(
        reqwest::Method::PUT,
        "/throttle",
        json!({"requests_per_minute": 0, "status": 403}),
    )
    .await;
    let small = env.builder().max_response_bytes(100).build().unwrap();
    let e = small.fetch_blob(&blobs[0].content_uri).await.unwrap_err();
    assert!(matches!(e, Error::TooLarge { limit: 100, .. }), "{e:?}");
}

#[tokio::test]
async fn the_publisher_is_the_tenant_guid_from_the_token_and_a_configured_one_must_be_a_guid() {
    let env = Env::new(|_| {}).await;
    let i = env.emu.info();
    // Signed in by domain: the PublisherIdentifier is still the tenant's GUID, never the domain.
    let by_domain = || {
        Client::builder(
            i.tenant_domain.clone(),
            i.client_id.clone(),
            Credentials::secret(i.client_secret.clone()),
        )
        .api_root(i.api_root.clone())
        .login_endpoint(i.login_endpoint.clone())
        .retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
    };
    let c = by_domain().build().unwrap();
    c.list_subscriptions().await.unwrap();
    env.control(
        reqwest::Method::PUT,
        "/throttle",
        json!({"requests_per_minute": 1, "status": 403}),
    )
    .await;
    let _ = c.list_subscriptions().await;
    let err = c.list_subscriptions().await.unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("PublisherId={}", i.tenant_id)),
        "{err}"
    );
    assert!(!err.to_string().contains(&i.tenant_domain), "{err}");
    // A configured publisher must be a GUID: a domain is refused before any request, named.
    let e = by_domain()
        .publisher_id(i.tenant_domain.clone())
        .build()
        .unwrap_err();
    match e {
        Error::Config { field, value, .. } => {
            assert_eq!(field, "publisher_id");
            assert_eq!(value, i.tenant_domain);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn clock_skew_is_measured_from_the_date_header() {
    let app = axum::Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            axum::routing::post(|| async { axum::Json(json!({"token_type":"Bearer","expires_in":3599,"access_token":"x.eyJ0aWQiOiJ0In0.y"})) }),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/list",
            axum::routing::get(|| async {
                let ahead = (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc2822();
                ([("Date", ahead.replace("+0000", "GMT"))], "[]")
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let c = Client::builder(
        "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80",
        "a",
        Credentials::secret("s"),
    )
    .api_root(&root)
    .login_endpoint(&root)
    .build()
    .unwrap();
    assert_eq!(c.clock_skew(), chrono::Duration::zero());
    c.list_subscriptions().await.unwrap();
    let skew = c.clock_skew().num_seconds();
    assert!((1790..=1800).contains(&skew), "{skew}");
    let ahead = (c.server_now() - chrono::Utc::now()).num_seconds();
    assert!((1789..=1800).contains(&ahead), "{ahead}");
}
