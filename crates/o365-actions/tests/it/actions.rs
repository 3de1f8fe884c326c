use o365_actions::result::{FailureKind, Outcome, Status};
use o365_api::ContentType;
use o365_emulator::config::{
    AUDIT_OFF_CLIENT_ID, AUDIT_OFF_TENANT_ID, DEFAULT_CLIENT_SECRET_ID, NO_ROLES_CLIENT_ID,
    READ_ONLY_CLIENT_ID,
};
use reqwest::Method;
use serde_json::json;

use crate::{ctx, Env};

fn outcomes(r: &o365_actions::result::ActionResult) -> Vec<(String, Outcome)> {
    r.json_result()["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["contentType"].as_str().unwrap().to_string(),
                serde_json::from_value(o["outcome"].clone()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn start_stop_outcomes_gap_and_journal() {
    let env = Env::new().await;
    let run = env.runner(&[]);

    let r = run
        .start(ctx("c1"), vec![ContentType::Exchange, ContentType::DlpAll])
        .await;
    assert_eq!(r.status, Status::Completed, "{}", r.output_message);
    assert!(r.result_value);
    assert_eq!(r.exit_code, 0);
    assert_eq!(
        outcomes(&r),
        vec![
            ("Audit.Exchange".into(), Outcome::Started),
            ("DLP.All".into(), Outcome::Started)
        ]
    );
    assert!(r.output_message.contains(
        "Successfully created O365 Management API subscription for the Audit.Exchange content type!"
    ));
    assert_eq!(r.json_result()["subscriptions"][0]["status"], "enabled");
    assert_eq!(r.case_id, "c1");
    assert_eq!(r.alert_group_identifiers, vec!["g1".to_string()]);
    assert_eq!(r.integration, "Office365ManagementAPI");
    assert_eq!(r.action, "Start Subscription");

    // Already enabled is success, not failure.
    let r = run.start(ctx("c2"), vec![ContentType::Exchange]).await;
    assert!(r.result_value, "{}", r.output_message);
    assert_eq!(
        outcomes(&r),
        vec![("Audit.Exchange".into(), Outcome::AlreadyEnabled)]
    );

    // Stop: stopped for one, not_subscribed for one never started.
    let r = run
        .stop(
            ctx("c3"),
            vec![ContentType::Exchange, ContentType::SharePoint],
        )
        .await;
    assert!(r.result_value, "{}", r.output_message);
    assert_eq!(
        outcomes(&r),
        vec![
            ("Audit.Exchange".into(), Outcome::Stopped),
            ("Audit.SharePoint".into(), Outcome::NotSubscribed)
        ]
    );
    assert!(
        r.output_message.contains("lost for good"),
        "{}",
        r.output_message
    );
    assert!(r.json_result()["warning"]
        .as_str()
        .unwrap()
        .contains("lost for good"));

    // Two hours later, a start reports the gap.
    env.control(
        Method::POST,
        "clock/advance",
        Some(json!({"seconds": 7200})),
    )
    .await;
    let r = run.start(ctx("c4"), vec![ContentType::Exchange]).await;
    assert!(r.result_value, "{}", r.output_message);
    assert_eq!(
        outcomes(&r),
        vec![("Audit.Exchange".into(), Outcome::Started)]
    );
    let j = r.json_result();
    let gaps = j["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{}", r.json_result());
    assert_eq!(gaps[0]["contentType"], "Audit.Exchange");
    let secs = gaps[0]["seconds"].as_i64().unwrap();
    assert!((7195..=7205).contains(&secs), "gap of {secs}s");
    assert!(r.output_message.contains("Data gap for Audit.Exchange"));

    // The ledger has it, closed, with the cases of the stop and the start.
    let ledger = env.store.gaps(None).unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].stop_case_id.as_deref(), Some("c3"));
    assert_eq!(ledger[0].start_case_id.as_deref(), Some("c4"));
    assert_eq!(run.gaps().unwrap().len(), 1);

    // The journal has every run, newest first, with outcomes and no secret.
    let j = env.store.journal(None, 10).unwrap();
    assert_eq!(j.len(), 4);
    assert_eq!(j[0].case_id, "c4");
    assert_eq!(j[3].action, "Start Subscription");
    assert_eq!(j[3].content_types, vec!["Audit.Exchange", "DLP.All"]);
    assert_eq!(j[1].outcomes[1]["outcome"], "not_subscribed");
    assert_eq!(j[0].via, "test");
}

#[tokio::test]
async fn ping_reports_what_it_checked() {
    let env = Env::new().await;
    let r = env.runner(&[]).ping(ctx("p")).await;
    assert_eq!(r.status, Status::Completed);
    assert!(r.result_value);
    assert_eq!(
        r.output_message,
        "Successfully connected to the O365 Management API with the provided connection parameters!"
    );
    let j = r.json_result();
    assert_eq!(j["checks"]["token"]["ok"], true);
    assert_eq!(j["checks"]["subscriptions_list"]["ok"], true);
    assert_eq!(j["checks"]["subscriptions_list"]["count"], 0);
    assert!(j["roles"]
        .as_array()
        .unwrap()
        .contains(&json!("ActivityFeed.Read")));
    assert_eq!(j["api_root"], env.emu.info().api_root);
    assert_eq!(j["cloud"], "commercial");
    // Graph's audit search is usable: a Graph token with its role (no query is submitted).
    assert_eq!(j["checks"]["audit_search"]["ok"], true, "{j}");
    assert!(j["checks"]["audit_search"]["roles"]
        .as_array()
        .unwrap()
        .contains(&json!("AuditLogsQuery.Read.All")));
    // Exactly one token, one list and one Graph token went out.
    assert_eq!(env.requests().await, 3);
}

#[tokio::test]
async fn missing_permission_fails_each_type_and_ping_says_why() {
    let env = Env::new().await;
    let run = env.runner(&[("client_id", NO_ROLES_CLIENT_ID)]);
    let r = run.ping(ctx("p")).await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.exit_code, 3);
    let e = r.error.as_ref().unwrap();
    assert_eq!(e.cause, "missing_permission");
    assert_eq!(e.code.as_deref(), Some("AF10001"));
    assert!(e.fix.contains("ActivityFeed.Read"));
    assert!(r
        .output_message
        .starts_with("Failed to connect to the O365 Management API! Error is AF10001"));
    assert_eq!(
        r.json_result()["checks"]["token"]["ok"],
        true,
        "the token itself worked"
    );

    // A read-only app may start Exchange but not DLP.All: one failure does not hide the other.
    let run = env.runner(&[("client_id", READ_ONLY_CLIENT_ID)]);
    let r = run
        .start(ctx("s"), vec![ContentType::DlpAll, ContentType::Exchange])
        .await;
    assert_eq!(r.status, Status::Completed);
    assert!(!r.result_value);
    assert_eq!(r.exit_code, 1);
    assert_eq!(
        outcomes(&r),
        vec![
            ("DLP.All".into(), Outcome::Failed),
            ("Audit.Exchange".into(), Outcome::Started)
        ]
    );
    let err = &r.json_result()["subscriptions"][0]["error"];
    assert_eq!(err["code"], "AF10001");
    assert!(err["http_status"].as_u64().is_some());
    assert!(r
        .output_message
        .contains("Failed to execute command! Error is DLP.All: AF10001"));
}

#[tokio::test]
async fn auditing_off_is_named() {
    let env = Env::new().await;
    let run = env.runner(&[
        ("tenant_id", AUDIT_OFF_TENANT_ID),
        ("client_id", AUDIT_OFF_CLIENT_ID),
    ]);
    let r = run.ping(ctx("p")).await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.error.as_ref().unwrap().cause, "auditing_off");
    assert!(r.error.as_ref().unwrap().fix.contains("Purview"));
    let r = run.start(ctx("s"), vec![ContentType::General]).await;
    assert!(!r.result_value);
    assert_eq!(
        outcomes(&r),
        vec![("Audit.General".into(), Outcome::Failed)]
    );
    assert!(
        r.output_message
            .contains("unified audit logging is not enabled"),
        "{}",
        r.output_message
    );
}

#[tokio::test]
async fn wrong_secret_wrong_tenant_and_secret_id_pasted() {
    let env = Env::new().await;
    let r = env
        .runner(&[("client_secret", "not-the-secret")])
        .ping(ctx("p"))
        .await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.exit_code, 3);
    let e = r.error.unwrap();
    assert_eq!(
        (e.kind, e.cause.as_str()),
        (FailureKind::Auth, "invalid_client_secret")
    );
    assert_eq!(e.code.as_deref(), Some("AADSTS7000215"));
    assert!(e.fix.contains("Value (not its Secret ID)"), "{}", e.fix);

    // Pasting the secret's ID (a GUID) gets a sharper hint.
    let r = env
        .runner(&[("client_secret", DEFAULT_CLIENT_SECRET_ID)])
        .ping(ctx("p"))
        .await;
    let e = r.error.unwrap();
    assert!(
        e.fix.contains("is a GUID: that is the secret's ID"),
        "{}",
        e.fix
    );

    let r = env
        .runner(&[("tenant_id", "11111111-2222-3333-4444-555555555555")])
        .start(ctx("s"), vec![ContentType::General])
        .await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.exit_code, 3);
    assert_eq!(r.error.as_ref().unwrap().cause, "tenant_not_found");
    assert!(
        r.output_message
            .starts_with("Failed to execute command! Error is sign-in failed: AADSTS90002"),
        "{}",
        r.output_message
    );
    // A failed sign-in is journaled too.
    assert_eq!(env.store.journal(None, 10).unwrap()[0].status, "Failed");
}

#[tokio::test]
async fn unreachable_host_is_a_connectivity_failure() {
    let env = Env::new().await;
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let run = env.runner(&[("api_root", &dead), ("login_endpoint", &dead)]);
    let r = run.ping(ctx("p")).await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.exit_code, 3);
    let e = r.error.unwrap();
    assert_eq!(
        (e.kind, e.cause.as_str()),
        (FailureKind::Connectivity, "unreachable")
    );
    assert!(r.output_message.contains(&dead), "{}", r.output_message);
    let r = run.stop(ctx("s"), vec![ContentType::General]).await;
    assert_eq!((r.status, r.exit_code), (Status::Failed, 3));
}

#[tokio::test]
async fn bad_input_is_rejected_before_any_request() {
    let env = Env::new().await;
    let run = env.runner(&[]);
    let bad = [
        json!({"action": "start_subscription", "case_id": "1", "alert_group_identifiers": [], "start_a_subscription_for": ["Select content type"]}),
        json!({"action": "start_subscription", "case_id": "1", "alert_group_identifiers": [], "start_a_subscription_for": []}),
        json!({"action": "stop_subscription", "case_id": "1", "alert_group_identifiers": [], "stop_a_subscription_for": "Audit.Exchnage"}),
        json!({"action": "ping", "case_id": "", "alert_group_identifiers": []}),
        json!({"action": "ping", "case_id": "1", "alert_group_identifiers": [], "scope": "Everything"}),
        json!({"action": "list_content", "case_id": "1", "alert_group_identifiers": [], "content_type": "Audit.General", "start_time": "2020-01-01T00:00:00"}),
    ];
    for b in &bad {
        let r = run.run_json(b, None).await;
        assert_eq!(r.status, Status::Failed, "{b}");
        assert_eq!(r.exit_code, 2, "{b}");
        assert_eq!(r.error.as_ref().unwrap().kind, FailureKind::Input, "{b}");
    }
    let r = run.run_json(&bad[2], None).await;
    assert!(
        r.output_message.contains("Did you mean Audit.Exchange?"),
        "{}",
        r.output_message
    );
    let r = run.run_json(&bad[4], None).await;
    assert!(
        r.output_message.contains(
            "Invalid scope 'Everything'. Allowed values are: All entities, All external entities"
        ),
        "{}",
        r.output_message
    );
    assert_eq!(env.requests().await, 0, "nothing reached the emulator");
}

#[tokio::test]
async fn list_sees_stops_made_elsewhere_and_content_lists_blobs() {
    let env = Env::new().await;
    let run = env.runner(&[]);
    assert!(
        run.start(ctx("a"), vec![ContentType::General])
            .await
            .result_value
    );
    let r = run.list(ctx("l")).await;
    assert!(r.result_value);
    assert_eq!(
        r.json_result()["subscriptions"][0]["contentType"],
        "Audit.General"
    );
    // Someone stops it with another tool: the next listing records the transition and a gap.
    let tenant = env.emu.info().tenant_id;
    let client = run.client().unwrap().clone();
    client
        .stop_subscription(ContentType::General)
        .await
        .unwrap();
    let r = run.list(ctx("l2")).await;
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("stopped outside this tool")),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.json_result()["open_gaps"].as_array().unwrap().len(), 1);
    // The emulator's tenant's history, keyed by where it is served.
    let history = o365_api::cloud::history_key(&tenant, &env.emu.info().api_root);
    let g = env.store.gaps(Some(&history)).unwrap();
    assert_eq!((g.len(), g[0].source.as_str()), (1, "observed"));

    // Content: start, let time pass, list the last 24 h.
    assert!(
        run.start(ctx("a"), vec![ContentType::General])
            .await
            .result_value
    );
    env.control(
        Method::POST,
        "clock/advance",
        Some(json!({"seconds": 3 * 3600})),
    )
    .await;
    let r = run
        .content(ctx("c"), ContentType::General, None, None, None)
        .await;
    assert!(r.result_value, "{}", r.output_message);
    let n = r.json_result()["count"].as_u64().unwrap();
    assert!(n >= 10, "three hours of blobs every 5 minutes: {n}");
    assert_eq!(r.json_result()["blobs"].as_array().unwrap().len() as u64, n);
}

#[tokio::test]
async fn start_lists_first_and_sends_no_start_for_enabled_types_so_the_15_minute_rule_holds() {
    let mut cfg = o365_emulator::EmulatorConfig::default();
    cfg.api.start_interval_secs = 900;
    let env = crate::Env::with(cfg).await;
    let run = env.runner(&[]);
    let starts = "POST /api/v1.0/{tenant}/activity/feed/subscriptions/start";
    let all = ContentType::ALL.to_vec();
    let r = run.start(ctx("c1"), all.clone()).await;
    assert!(r.result_value, "{}", r.output_message);
    assert!(outcomes(&r).iter().all(|(_, o)| *o == Outcome::Started));
    assert_eq!(crate::route_count(&env, starts).await, 5);
    // Again at once: every type is enabled, so no start goes out and none is throttled.
    let r = run.start(ctx("c2"), all.clone()).await;
    assert!(r.result_value, "{}", r.output_message);
    assert!(
        outcomes(&r)
            .iter()
            .all(|(_, o)| *o == Outcome::AlreadyEnabled),
        "{}",
        r.output_message
    );
    assert_eq!(crate::route_count(&env, starts).await, 5);
    // The rule is real in the emulator: a start sent for an enabled type within 15 minutes is
    // throttled.
    let client = run
        .settings()
        .client_with(o365_api::RetryPolicy {
            max_attempts: 1,
            ..o365_api::RetryPolicy::default()
        })
        .unwrap();
    let e = client
        .start_subscription(ContentType::Exchange, None)
        .await
        .unwrap_err();
    assert!(matches!(e, o365_api::Error::Throttled { .. }), "{e:?}");
}
