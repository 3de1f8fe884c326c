//! Activity API: auth, permissions, tenants, subscriptions, webhooks, DLP types, headers.

use o365_emulator::config::*;
use serde_json::json;

use crate::{read, Env};

#[tokio::test]
async fn rejected_tokens_get_the_aspnet_401() {
    let mut cfg = crate::quiet_config();
    cfg.api.token_lifetime_secs = 60;
    let env = Env::with(cfg).await;
    let url = format!("{}/subscriptions/list", env.feed());
    let check = |r: crate::Resp| {
        assert_eq!(r.status, 401);
        assert_eq!(
            r.text,
            r#"{"Message":"Authorization has been denied for this request."}"#
        );
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    };
    check(read(env.http.get(&url).send().await.unwrap()).await);
    check(env.get("garbage.token.here", &url).await);
    // Wrong audience: a GCC High token at a commercial endpoint.
    let r = env
        .token_form(
            &env.info.tenant_id,
            true,
            &[
                ("client_id", &env.info.client_id),
                ("client_secret", &env.info.client_secret),
                ("scope", "https://manage.office365.us/.default"),
                ("grant_type", "client_credentials"),
            ],
        )
        .await;
    let gcc_high = r.json()["access_token"].as_str().unwrap().to_string();
    check(env.get(&gcc_high, &url).await);
    // Expired: a good token, then the clock moves past its lifetime.
    let tok = env.token().await;
    assert_eq!(env.get(&tok, &url).await.status, 200);
    // The scheme name is case-insensitive.
    let r = read(
        env.http
            .get(&url)
            .header("Authorization", format!("bearer {tok}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    env.advance(61.0).await;
    check(env.get(&tok, &url).await);
}

#[tokio::test]
async fn af10001_lists_the_roles_in_the_token() {
    let env = Env::new().await;
    let none = env.token_for(NO_ROLES_CLIENT_ID).await;
    let r = env.start(&none, "Audit.General").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.af_code(), "AF10001");
    assert_eq!(
        r.json()["error"]["message"],
        "The permission set () sent in the request does not include the expected permission."
    );
    let ro = env.token_for(READ_ONLY_CLIENT_ID).await;
    assert_eq!(env.start(&ro, "Audit.General").await.status, 200);
    let r = env.start(&ro, "DLP.All").await;
    assert_eq!(r.status, 401);
    assert!(
        r.text.contains("(ActivityFeed.Read ServiceHealth.Read)"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn start_stop_list_lifecycle() {
    let env = Env::new().await;
    let tok = env.token().await;
    let r = env.start(&tok, "Audit.Exchange").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text,
        r#"{"contentType":"Audit.Exchange","status":"enabled","webhook":null}"#
    );
    let r = env.start(&tok, "audit.exchange").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text,
        r#"{"error":{"code":"AF20024","message":"The subscription is already enabled. No property change."}}"#
    );
    assert_eq!(r.text.len(), 97, "the observed Content-Length of AF20024");
    let r = env.stop(&tok, "Audit.Exchange").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "");
    let list = env
        .get(&tok, &format!("{}/subscriptions/list", env.feed()))
        .await;
    assert_eq!(
        list.json(),
        json!([{"contentType":"Audit.Exchange","status":"disabled","webhook":null}])
    );
    let r = env.stop(&tok, "Audit.General").await;
    assert_eq!((r.status, r.af_code()), (400, "AF20022".into()));
    let r = env.start(&tok, "Audit.Nonexistent").await;
    assert_eq!((r.status, r.af_code()), (400, "AF20020".into()));
    let r = env
        .post(&tok, &format!("{}/subscriptions/start", env.feed()))
        .await;
    assert_eq!((r.status, r.af_code()), (400, "AF20001".into()));
    // Listing content of a never-started type, and of a stopped one.
    let r = env
        .get(
            &tok,
            &format!(
                "{}/subscriptions/content?contentType=Audit.General",
                env.feed()
            ),
        )
        .await;
    assert_eq!((r.status, r.af_code()), (400, "AF20022".into()));
    let r = env
        .get(
            &tok,
            &format!(
                "{}/subscriptions/content?contentType=Audit.Exchange",
                env.feed()
            ),
        )
        .await;
    assert_eq!((r.status, r.af_code()), (400, "AF20023".into()));
}

#[tokio::test]
async fn query_names_are_case_insensitive_and_publisher_identifier_is_accepted() {
    let env = Env::new().await;
    let tok = env.token().await;
    let r = env
        .post(
            &tok,
            &format!(
                "{}/subscriptions/start?CONTENTTYPE=dlp.all&publisherIdentifier={}",
                env.feed(),
                env.info.tenant_id
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["contentType"], "DLP.All");
    let r = env
        .get(
            &tok,
            &format!(
                "{}/subscriptions/list?PublisherIdentifier={}",
                env.feed(),
                env.info.tenant_id
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    // IIS / ASP.NET style headers.
    for (h, v) in [
        ("content-type", "application/json; charset=utf-8"),
        ("cache-control", "no-cache"),
        ("pragma", "no-cache"),
        ("expires", "-1"),
        ("server", "Microsoft-IIS/10.0"),
        ("x-aspnet-version", "4.0.30319"),
        ("x-powered-by", "ASP.NET"),
    ] {
        assert_eq!(r.headers[h], v, "{h}");
    }
    assert!(r.headers.contains_key("date"));
}

#[tokio::test]
async fn tenant_path_checks() {
    let env = Env::new().await;
    let tok = env.token().await;
    let base = &env.info.api_root;
    let r = env
        .get(
            &tok,
            &format!("{base}/api/v1.0/not-a-guid/activity/feed/subscriptions/list"),
        )
        .await;
    assert_eq!((r.status, r.af_code()), (400, "AF20013".into()));
    let r = env
        .get(
            &tok,
            &format!("{base}/api/v1.0/{AUDIT_OFF_TENANT_ID}/activity/feed/subscriptions/list"),
        )
        .await;
    assert_eq!(r.af_code(), "AF20010");
    assert!(r.text.contains(&env.info.tenant_id));
    // The app id in the tenant slot is accepted (observed leniency), and content URIs name the tenant.
    let r = env
        .post(
            &tok,
            &format!(
                "{base}/api/v1.0/{}/activity/feed/subscriptions/start?contentType=Audit.General",
                env.info.client_id
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut strict = crate::quiet_config();
    strict.api.lenient_tenant = false;
    let env2 = Env::with(strict).await;
    let tok2 = env2.token().await;
    let r = env2
        .get(
            &tok2,
            &format!(
                "{}/api/v1.0/{}/activity/feed/subscriptions/list",
                env2.info.api_root, env2.info.client_id
            ),
        )
        .await;
    assert_eq!(r.af_code(), "AF20010");
}

#[tokio::test]
async fn auditing_off_gives_the_malformed_tenant_does_not_exist_body() {
    let env = Env::new().await;
    let scope = format!("{}/.default", env.info.api_root);
    let r = env
        .token_form(
            AUDIT_OFF_TENANT_ID,
            true,
            &[
                ("client_id", AUDIT_OFF_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("scope", &scope),
                ("grant_type", "client_credentials"),
            ],
        )
        .await;
    let tok = r.json()["access_token"].as_str().unwrap().to_string();
    let r = env
        .post(
            &tok,
            &format!(
                "{}/api/v1.0/{AUDIT_OFF_TENANT_ID}/activity/feed/subscriptions/start?contentType=Audit.General",
                env.info.api_root
            ),
        )
        .await;
    assert_eq!(r.status, 400);
    let v = r.json();
    let code = v["error"]["code"].as_str().unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(code.starts_with("StartSubscription [CorrId="), "{code}");
    assert!(code.contains(&format!("[TenantId={AUDIT_OFF_TENANT_ID},ContentType=Audit.General,ApplicationId={AUDIT_OFF_CLIENT_ID},PublisherId=00000000-0000-0000-0000-000000000000][AppId")));
    assert!(code.ends_with("[AppId"));
    assert!(msg.starts_with(&format!(
        "{}] failed. Exception: ",
        &AUDIT_OFF_CLIENT_ID[1..]
    )));
    assert!(msg.contains(&format!(
        "Tenant {AUDIT_OFF_TENANT_ID} does not exist.\r\n   at "
    )));
    // Turning auditing on through the control API makes the same call succeed.
    let r = env
        .control_send(
            reqwest::Method::PUT,
            &format!("/tenants/{AUDIT_OFF_TENANT_ID}/audit"),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = env
        .post(
            &tok,
            &format!(
                "{}/api/v1.0/{AUDIT_OFF_TENANT_ID}/activity/feed/subscriptions/start?contentType=Audit.General",
                env.info.api_root
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A local webhook receiver: answers `status` and records validation requests.
async fn receiver(
    status: u16,
) -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(String, String, String)>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: axum::http::HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                let get = |n: &str| {
                    h.get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                let _ = tx.send((get("webhook-validationcode"), get("webhook-authid"), body));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}/hook"), rx)
}

#[tokio::test]
async fn webhooks_validation_update_and_notifications() {
    let env = Env::with(crate::quiet_config()).await;
    let tok = env.token().await;
    let url = format!(
        "{}/subscriptions/start?contentType=Audit.SharePoint",
        env.feed()
    );
    let start = |body: serde_json::Value| {
        let (env, tok, url) = (&env, &tok, &url);
        async move {
            read(
                env.http
                    .post(url)
                    .bearer_auth(tok)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (good, mut seen) = receiver(200).await;
    let r = start(json!({"webhook": {"address": good, "authId": "o365activityapinotification", "expiration": ""}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["webhook"]["address"], good);
    assert_eq!(v["webhook"]["status"], "enabled");
    let (code, auth, body) = seen.recv().await.unwrap();
    assert!(!code.is_empty());
    assert_eq!(auth, "o365activityapinotification");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["validationCode"],
        code
    );
    // Same webhook again: no property change.
    let r = start(json!({"webhook": {"address": good, "authId": "o365activityapinotification", "expiration": ""}})).await;
    assert_eq!(r.af_code(), "AF20024");
    // A receiver that fails validation, a non-HTTPS address, a past expiration.
    let (bad, _rx) = receiver(500).await;
    let r = start(json!({"webhook": {"address": bad}})).await;
    assert_eq!((r.status, r.af_code()), (400, "AF20021".into()));
    assert!(r.text.contains("did not return HTTP 200"));
    let r = start(json!({"webhook": {"address": "http://webhook.example.com/x"}})).await;
    assert_eq!(r.af_code(), "AF20021");
    assert!(r.text.contains("must begin with HTTPS"));
    let r = start(json!({"webhook": {"address": good, "expiration": "2001-01-01T00:00:00"}})).await;
    assert_eq!(r.af_code(), "AF20003");
    // The failed updates left the subscription unchanged.
    let list = env
        .get(&tok, &format!("{}/subscriptions/list", env.feed()))
        .await;
    assert_eq!(list.json()[0]["webhook"]["address"], good);
    // Notifications for blobs made since the webhook was set: really POSTed, then listed.
    env.advance(3600.0).await;
    let posted: serde_json::Value = loop {
        // Validation requests of the starts above come first.
        let (_, auth, body) = seen.recv().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v.is_array() {
            assert_eq!(auth, "o365activityapinotification");
            break v;
        }
    };
    let first = &posted[0];
    for k in [
        "tenantId",
        "clientId",
        "contentType",
        "contentId",
        "contentUri",
        "contentCreated",
        "contentExpiration",
    ] {
        assert!(first[k].is_string(), "{k} in {first}");
    }
    assert_eq!(first["contentType"], "Audit.SharePoint");
    assert_eq!(first["tenantId"], env.info.tenant_id);
    let tok = env.token().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let items = loop {
        let r = env
            .get(
                &tok,
                &format!(
                    "{}/subscriptions/notifications?contentType=Audit.SharePoint",
                    env.feed()
                ),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.json().as_array().cloned().unwrap_or_default();
        if items.len() >= 10 || std::time::Instant::now() > deadline {
            break items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(items.len() >= 10, "{} notifications", items.len());
    assert_eq!(
        items.len(),
        posted.as_array().unwrap().len(),
        "the listing is what was POSTed"
    );
    assert_eq!(items[0]["notificationStatus"], "success");
    assert!(items[0]["notificationSent"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    // Removing the webhook (start without one) is an update.
    let r = read(
        env.http
            .post(&url)
            .bearer_auth(&tok)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["webhook"], serde_json::Value::Null);
}

#[tokio::test]
async fn dlp_sensitive_types_and_accept_language() {
    let env = Env::new().await;
    let tok = env.token().await;
    let url = format!("{}/resources/dlpSensitiveTypes", env.feed());
    let r = env.get(&tok, &url).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "CreditCardNumber"));
    let lang = |l: &'static str| {
        let (env, tok, url) = (&env, &tok, &url);
        async move {
            read(
                env.http
                    .get(url)
                    .bearer_auth(tok)
                    .header("Accept-Language", l)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    assert_eq!(lang("en-US").await.status, 200);
    assert_eq!(lang("en-US,fr-FR").await.af_code(), "AF20053");
    assert_eq!(lang("en_US!").await.af_code(), "AF20054");
}

/// Wait (up to 10 s) until `f` holds.
async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !f().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn failed_notifications_are_retried_then_disable_the_webhook_and_expiration_expires_it() {
    let mut cfg = crate::quiet_config();
    cfg.api.webhook_attempts = 2;
    cfg.api.webhook_disable_after = 1;
    let env = Env::with(cfg).await;
    let tok = env.token().await;
    // Answers validation, refuses notifications; counts what it refused.
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let r2 = refused.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let r2 = r2.clone();
            async move {
                if body.contains("validationCode") {
                    axum::http::StatusCode::OK
                } else {
                    r2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let failing = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let start = |ct: &'static str, hook: serde_json::Value| {
        let (env, tok) = (&env, &tok);
        async move {
            read(
                env.http
                    .post(format!(
                        "{}/subscriptions/start?contentType={ct}",
                        env.feed()
                    ))
                    .bearer_auth(tok)
                    .json(&json!({ "webhook": hook }))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let r = start("Audit.Exchange", json!({"address": failing, "authId": "a"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let clock = env.control_get("/clock").await["now_ms"].as_i64().unwrap();
    let in_ten_minutes = chrono::DateTime::from_timestamp_millis(clock + 600_000)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let (good, _seen) = receiver(200).await;
    let r = start(
        "Audit.General",
        json!({"address": good, "expiration": in_ten_minutes}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    env.advance(1800.0).await;
    let status = |ct: &'static str| {
        let (env, tok) = (&env, &tok);
        async move {
            let l = env
                .get(tok, &format!("{}/subscriptions/list", env.feed()))
                .await
                .json();
            l.as_array()
                .unwrap()
                .iter()
                .find(|s| s["contentType"] == ct)
                .map(|s| s["webhook"]["status"].as_str().unwrap_or("").to_string())
                .unwrap_or_default()
        }
    };
    until("the failing webhook is disabled", || async {
        status("Audit.Exchange").await == "disabled"
    })
    .await;
    assert_eq!(
        refused.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one notification, tried twice"
    );
    until("the webhook past its expiration is expired", || async {
        status("Audit.General").await == "expired"
    })
    .await;
    // The listing says what became of the attempt.
    let r = env
        .get(
            &tok,
            &format!(
                "{}/subscriptions/notifications?contentType=Audit.Exchange",
                env.feed()
            ),
        )
        .await;
    let items = r.json();
    let items = items.as_array().unwrap();
    assert!(!items.is_empty(), "{}", r.text);
    assert!(
        items.iter().all(|i| i["notificationStatus"] == "failed"),
        "{}",
        r.text
    );
}
