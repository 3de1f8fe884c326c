//! Content over time: gaps, determinism, duplicates, late blobs, expiry, the manifest.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::{fmt, Env};

const HOUR: i64 = 3_600_000;

/// Fetch every listed blob; returns event id -> times served.
async fn fetch_all(env: &Env, tok: &str, items: &[Value]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for it in items {
        let r = env.get(tok, it["contentUri"].as_str().unwrap()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let events = r.json();
        let events = events.as_array().unwrap();
        assert!(!events.is_empty());
        for e in events {
            assert_eq!(e["CreationTime"].as_str().unwrap().len(), 19, "no zone");
            assert!(e["RecordType"].is_number());
            *seen
                .entry(e["Id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    seen
}

async fn manifest_ids(env: &Env, ct: &str, start: i64, end: i64) -> BTreeSet<String> {
    let m = env
        .control_get(&format!(
            "/manifest?contentType={ct}&startTime={}&endTime={}",
            fmt(start),
            fmt(end)
        ))
        .await;
    let ids: BTreeSet<String> = m["event_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len() as u64, m["event_count"].as_u64().unwrap());
    ids
}

#[tokio::test]
async fn stop_then_start_leaves_a_real_gap() {
    let env = Env::with(crate::quiet_config()).await;
    let tok = env.token().await;
    let t0 = env.now_ms().await;
    env.start(&tok, "Audit.SharePoint").await;
    env.advance(3.0 * 3600.0).await;
    let tok = env.token().await;
    assert_eq!(env.stop(&tok, "Audit.SharePoint").await.status, 200);
    let stopped = env.now_ms().await;
    env.advance(2.0 * 3600.0).await;
    let tok = env.token().await;
    assert_eq!(env.start(&tok, "Audit.SharePoint").await.status, 200);
    let restarted = env.now_ms().await;
    env.advance(3.0 * 3600.0).await;
    let tok = env.token().await;
    let now = env.now_ms().await;
    let (items, _) = env.list_all(&tok, "Audit.SharePoint", t0 - HOUR, now).await;
    let created: Vec<i64> = items
        .iter()
        .map(|i| {
            chrono::DateTime::parse_from_rfc3339(i["contentCreated"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    assert!(
        created.iter().any(|c| *c < stopped),
        "content before the stop"
    );
    assert!(
        created.iter().any(|c| *c >= restarted),
        "content after the restart"
    );
    assert!(
        created.iter().all(|c| *c < stopped || *c >= restarted),
        "nothing from the stopped interval"
    );
    assert!(
        created.iter().all(|c| *c >= t0),
        "nothing before the first start"
    );
    let subs = env
        .control_get(&format!("/tenants/{}/subscriptions", env.info.tenant_id))
        .await;
    assert_eq!(subs[0]["intervals"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn same_seed_same_content_other_seed_other_content() {
    async fn ids(seed: u64) -> BTreeSet<String> {
        let mut cfg = crate::quiet_config();
        cfg.seed = seed;
        cfg.tenants[0].subscriptions = vec![o365_emulator::config::PresetSubscription {
            content_type: "Audit.Exchange".into(),
            enabled_hours_ago: 48.0,
        }];
        let env = Env::with(cfg).await;
        let now = env.now_ms().await;
        // A fixed past window so both runs see the same slots.
        let start = (now - 30 * HOUR) / HOUR * HOUR;
        manifest_ids(&env, "Audit.Exchange", start, start + 2 * HOUR).await
    }
    let (a, b, c) = (ids(5).await, ids(5).await, ids(6).await);
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert!(a.is_disjoint(&c));
}

#[tokio::test]
async fn duplicates_across_blobs_and_the_manifest_is_the_union_served() {
    let mut cfg = crate::quiet_config();
    cfg.data.duplicate_rate = 0.5;
    cfg.data.duplicate_events = 2;
    cfg.data.events_per_blob = 4;
    cfg.api.page_size = 10;
    let env = Env::with(cfg).await;
    let tok = env.token().await;
    let t0 = env.now_ms().await;
    for ct in ["Audit.General", "DLP.All"] {
        env.start(&tok, ct).await;
    }
    env.advance(5.0 * 3600.0).await;
    let tok = env.token().await;
    let now = env.now_ms().await;
    for ct in ["Audit.General", "DLP.All"] {
        let (items, pages) = env.list_all(&tok, ct, t0, now).await;
        assert!(pages >= 3);
        let served = fetch_all(&env, &tok, &items).await;
        let twice = served.values().filter(|n| **n > 1).count();
        assert!(
            twice > 0,
            "{ct}: some events must come in more than one blob"
        );
        let union: BTreeSet<String> = served.keys().cloned().collect();
        assert_eq!(union, manifest_ids(&env, ct, t0, now).await, "{ct}");
    }
}

#[tokio::test]
async fn late_blobs_appear_in_an_already_listed_window() {
    let mut cfg = crate::quiet_config();
    cfg.data.late_rate = 0.3;
    cfg.data.late_delay_secs = 2 * 3600;
    let env = Env::with(cfg).await;
    let tok = env.token().await;
    let t0 = env.now_ms().await;
    env.start(&tok, "Audit.AzureActiveDirectory").await;
    env.advance(3.0 * 3600.0).await;
    let tok = env.token().await;
    let now = env.now_ms().await;
    let (first, _) = env
        .list_all(&tok, "Audit.AzureActiveDirectory", t0, now)
        .await;
    let pending = env
        .control_get(&format!(
            "/manifest?contentType=Audit.AzureActiveDirectory&startTime={}&endTime={}&include_pending=true",
            fmt(t0),
            fmt(now)
        ))
        .await;
    let total = pending["blob_count"].as_u64().unwrap() as usize;
    assert!(
        first.len() < total,
        "some blobs are late: {} of {total} listed",
        first.len()
    );
    // A late blob is not there yet: fetching it by id says it does not exist.
    let listed: BTreeSet<String> = first
        .iter()
        .map(|i| i["contentId"].as_str().unwrap().to_string())
        .collect();
    let late = pending["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["contentId"].as_str().unwrap().to_string())
        .find(|id| !listed.contains(id))
        .unwrap();
    let r = env.get(&tok, &format!("{}/audit/{late}", env.feed())).await;
    assert_eq!(
        (r.status, r.af_code()),
        (404, "AF20050".into()),
        "{}",
        r.text
    );
    assert_eq!(
        r.json()["error"]["message"],
        format!("The specified content ({late}) does not exist.")
    );
    env.advance(2.0 * 3600.0).await;
    let tok = env.token().await;
    assert_eq!(
        env.get(&tok, &format!("{}/audit/{late}", env.feed()))
            .await
            .status,
        200
    );
    let (second, _) = env
        .list_all(&tok, "Audit.AzureActiveDirectory", t0, now)
        .await;
    assert_eq!(
        second.len(),
        total,
        "the same window now lists the late blobs too"
    );
    // Late ones come after the others: order of availability.
    let firsts: BTreeSet<_> = first
        .iter()
        .map(|i| i["contentId"].clone().to_string())
        .collect();
    let pos_new = second
        .iter()
        .position(|i| !firsts.contains(&i["contentId"].to_string()))
        .unwrap();
    assert!(second[pos_new..]
        .iter()
        .all(|i| !firsts.contains(&i["contentId"].to_string())));
}

#[tokio::test]
async fn blob_errors_and_expiry() {
    let env = Env::with(crate::quiet_config()).await;
    let tok = env.token().await;
    let t0 = env.now_ms().await;
    env.start(&tok, "Audit.Exchange").await;
    env.advance(3600.0).await;
    let tok = env.token().await;
    let now = env.now_ms().await;
    let (items, _) = env.list_all(&tok, "Audit.Exchange", t0, now).await;
    let uri = items[0]["contentUri"].as_str().unwrap().to_string();
    let id = items[0]["contentId"].as_str().unwrap().to_string();
    let r = env.get(&tok, &uri).await;
    assert_eq!(r.status, 200);
    let again = env.get(&tok, &uri).await;
    assert_eq!(r.text, again.text, "a blob is the same bytes every time");
    // Garbage key.
    let r = env
        .get(&tok, &format!("{}/audit/nonsense", env.feed()))
        .await;
    assert_eq!((r.status, r.af_code()), (400, "AF20052".into()));
    assert_eq!(
        r.json()["error"]["message"],
        "Blob key nonsense in the url is invalid"
    );
    // A well-formed key for a time when the subscription did not exist (an hour before the start).
    let before = {
        let created: String = id[..14].to_string();
        let mut t = chrono::NaiveDateTime::parse_from_str(&created, "%Y%m%d%H%M%S").unwrap();
        t -= chrono::Duration::hours(2);
        let stamp = t.format("%Y%m%d%H%M%S").to_string();
        id.replace(&created, &stamp)
    };
    let r = env
        .get(&tok, &format!("{}/audit/{before}", env.feed()))
        .await;
    assert!(
        matches!(r.af_code().as_str(), "AF20050" | "AF20052"),
        "{}",
        r.text
    );
    // Expired after 7 days.
    env.advance(7.0 * 24.0 * 3600.0).await;
    let tok = env.token().await;
    let r = env.get(&tok, &uri).await;
    assert_eq!(
        (r.status, r.af_code()),
        (400, "AF20051".into()),
        "{}",
        r.text
    );
    assert!(r
        .text
        .contains("Content older than 7 days cannot be retrieved."));
}

#[tokio::test]
async fn blob_of_another_tenant_is_an_invalid_key() {
    let mut cfg = crate::quiet_config();
    let mut other = cfg.tenants[0].clone();
    other.id = "11111111-2222-4333-8444-555555555555".into();
    other.domain = Some("northwind.onmicrosoft.com".into());
    other.apps.truncate(1);
    other.apps[0].client_id = "66666666-7777-4888-8999-000000000000".into();
    cfg.tenants.push(other);
    let env = Env::with(cfg).await;
    let tok = env.token().await;
    let t0 = env.now_ms().await;
    env.start(&tok, "Audit.General").await;
    env.advance(3600.0).await;
    let tok = env.token().await;
    let (items, _) = env
        .list_all(&tok, "Audit.General", t0, env.now_ms().await)
        .await;
    let id = items[0]["contentId"].as_str().unwrap();
    let scope = format!("{}/.default", env.info.api_root);
    let r = env
        .token_form(
            "northwind.onmicrosoft.com",
            true,
            &[
                ("client_id", "66666666-7777-4888-8999-000000000000"),
                ("client_secret", &env.info.client_secret),
                ("scope", &scope),
                ("grant_type", "client_credentials"),
            ],
        )
        .await;
    let tok2 = r.json()["access_token"].as_str().unwrap().to_string();
    let r = env
        .get(
            &tok2,
            &format!(
                "{}/api/v1.0/11111111-2222-4333-8444-555555555555/activity/feed/audit/{id}",
                env.info.api_root
            ),
        )
        .await;
    assert_eq!(
        (r.status, r.af_code()),
        (400, "AF20052".into()),
        "{}",
        r.text
    );
    assert_eq!(
        r.json()["error"]["message"],
        format!("Blob key {id} in the url is invalid")
    );
}

#[tokio::test]
async fn events_look_like_the_real_schema_per_content_type() {
    let mut cfg = crate::quiet_config();
    cfg.data.event_size = 1024;
    cfg.data.events_per_blob = 10;
    let env = Env::with(cfg).await;
    let tok = env.token().await;
    let t0 = env.now_ms().await;
    let expect = [
        ("Audit.AzureActiveDirectory", "AzureActiveDirectory"),
        ("Audit.Exchange", "Exchange"),
        ("Audit.SharePoint", "OneDrive"),
        ("Audit.General", ""),
        ("DLP.All", ""),
    ];
    for (ct, _) in expect {
        env.start(&tok, ct).await;
    }
    env.advance(1800.0).await;
    let tok = env.token().await;
    for (ct, workload) in expect {
        let (items, _) = env.list_all(&tok, ct, t0, env.now_ms().await).await;
        let r = env
            .get(&tok, items[0]["contentUri"].as_str().unwrap())
            .await;
        let evs = r.json();
        let evs = evs.as_array().unwrap();
        assert_eq!(evs.len(), 10);
        let avg = r.text.len() / evs.len();
        // Padded up to the configured ~1 KB; DLP matches carry their message or file and every
        // policy's rules and detections, and may be bigger (never padded further).
        let most = if ct == "DLP.All" { 1700 } else { 1300 };
        assert!((900..most).contains(&avg), "{ct}: {avg} bytes per event");
        let ids: BTreeSet<_> = evs.iter().map(|e| e["Id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), evs.len(), "unique Ids in a blob");
        for e in evs {
            for f in [
                "CreationTime",
                "Id",
                "Operation",
                "OrganizationId",
                "RecordType",
                "UserKey",
                "UserType",
                "Version",
                "Workload",
                "UserId",
            ] {
                assert!(e.get(f).is_some(), "{ct}: missing {f} in {e}");
            }
            assert_eq!(e["OrganizationId"], env.info.tenant_id);
            if !workload.is_empty() {
                assert_eq!(e["Workload"], workload);
            }
            if ct == "DLP.All" {
                assert_eq!(e["Operation"], "DlpRuleMatch");
            }
        }
    }
}
