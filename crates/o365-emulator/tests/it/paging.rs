//! `/subscriptions/content`: windows, paging, `NextPageUri`.

use crate::{fmt, Env};

const HOUR: i64 = 3_600_000;

async fn env_with_content(
    page_size: usize,
    f: impl FnOnce(&mut o365_emulator::EmulatorConfig),
) -> (Env, String) {
    let mut cfg = crate::quiet_config();
    cfg.api.page_size = page_size;
    f(&mut cfg);
    let env = Env::with(cfg).await;
    let tok = env.token().await;
    assert_eq!(env.start(&tok, "Audit.General").await.status, 200);
    env.advance(6.0 * 3600.0).await;
    let tok = env.token().await;
    (env, tok)
}

#[tokio::test]
async fn paging_over_many_pages_returns_every_blob_once_in_order() {
    let (env, tok) = env_with_content(7, |_| {}).await;
    let now = env.now_ms().await;
    let (items, pages) = env
        .list_all(&tok, "Audit.General", now - 6 * HOUR, now)
        .await;
    assert!(pages >= 3, "{pages} pages");
    // 6 hours of 5-minute blobs.
    assert!((70..=73).contains(&items.len()), "{} blobs", items.len());
    let ids: std::collections::BTreeSet<_> = items
        .iter()
        .map(|i| i["contentId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), items.len(), "a blob listed twice");
    let created: Vec<&str> = items
        .iter()
        .map(|i| i["contentCreated"].as_str().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] <= w[1]),
        "in order of availability"
    );
    let first = &items[0];
    assert_eq!(first["contentType"], "Audit.General");
    let id = first["contentId"].as_str().unwrap();
    assert_eq!(first["contentUri"], format!("{}/audit/{id}", env.feed()));
    assert_eq!(id.split('$').count(), 5);
    assert!(id.contains("$audit_general$Audit_General$emea0026"));
    let c = first["contentCreated"].as_str().unwrap();
    assert!(c.len() == 24 && c.ends_with('Z'), "{c}");
    assert_eq!(&id[..4], &c[..4]);
    // The manifest agrees blob for blob.
    let m = env
        .control_get(&format!(
            "/manifest?contentType=Audit.General&startTime={}&endTime={}",
            fmt(now - 6 * HOUR),
            fmt(now)
        ))
        .await;
    let mids: std::collections::BTreeSet<_> = m["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["contentId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(mids, ids);
}

#[tokio::test]
async fn next_page_uri_shape_publisher_and_bad_tokens() {
    let (env, tok) = env_with_content(5, |c| c.api.carry_publisher_identifier = true).await;
    let now = env.now_ms().await;
    let url = format!(
        "{}/subscriptions/content?contentType=Audit.General&startTime={}&endTime={}&PublisherIdentifier={}",
        env.feed(),
        fmt(now - 2 * HOUR),
        fmt(now),
        env.info.tenant_id
    );
    let r = env.get(&tok, &url).await;
    assert_eq!(r.json().as_array().unwrap().len(), 5);
    let next = r.headers["nextpageuri"].to_str().unwrap().to_string();
    assert!(
        next.starts_with(&format!(
            "{}/subscriptions/content?contentType=Audit.General&startTime=",
            env.feed()
        )),
        "{next}"
    );
    assert!(next.contains("&nextPage="));
    assert!(next.contains(&format!("PublisherIdentifier={}", env.info.tenant_id)));
    // A tampered or foreign nextPage is refused.
    let bad = format!("{}&nextPage=00000005R000000000000001", url);
    let r = env.get(&tok, &bad).await;
    assert_eq!((r.status, r.af_code()), (400, "AF20031".into()));
    assert!(r
        .text
        .contains("Invalid nextPage Input: 00000005R000000000000001."));
    let r = env.get(&tok, &format!("{url}&nextPage=garbage")).await;
    assert_eq!(r.af_code(), "AF20031");
    // A nextPage token from one window does not work for another.
    let token = next
        .split("nextPage=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let other = format!(
        "{}/subscriptions/content?contentType=Audit.General&startTime={}&endTime={}&nextPage={token}",
        env.feed(),
        fmt(now - 3 * HOUR),
        fmt(now)
    );
    assert_eq!(env.get(&tok, &other).await.af_code(), "AF20031");
}

#[tokio::test]
async fn old_header_name_and_empty_first_page() {
    let (env, tok) = env_with_content(50, |c| {
        c.api.next_page_header = "NextPageUrl".into();
        c.api.empty_first_page = true;
    })
    .await;
    let now = env.now_ms().await;
    let url = format!(
        "{}/subscriptions/content?contentType=Audit.General&startTime={}&endTime={}",
        env.feed(),
        fmt(now - 2 * HOUR),
        fmt(now)
    );
    let r = env.get(&tok, &url).await;
    assert_eq!(r.text, "[]");
    assert!(r.headers.get("NextPageUri").is_none());
    let next = r.headers["nextpageurl"].to_str().unwrap();
    let r = env.get(&tok, next).await;
    assert!(r.json().as_array().unwrap().len() >= 20);
}

#[tokio::test]
async fn window_rules() {
    let (env, tok) = env_with_content(100, |_| {}).await;
    let now = env.now_ms().await;
    let q = |s: String, e: String| {
        format!(
            "{}/subscriptions/content?contentType=Audit.General{s}{e}",
            env.feed()
        )
    };
    let st = |t: i64| format!("&startTime={}", fmt(t));
    let en = |t: i64| format!("&endTime={}", fmt(t));
    for (url, why) in [
        (q(st(now - 25 * HOUR), en(now)), "more than 24 h"),
        (q(st(now), en(now - HOUR)), "start after end"),
        (q(st(now), en(now)), "empty window"),
        (
            q(st(now - 8 * 24 * HOUR), en(now - 8 * 24 * HOUR + HOUR)),
            "older than 7 days",
        ),
        (q(st(now - HOUR), String::new()), "start only"),
        (q(String::new(), en(now)), "end only"),
    ] {
        let r = env.get(&tok, &url).await;
        assert_eq!(
            (r.status, r.af_code()),
            (400, "AF20055".into()),
            "{why}: {}",
            r.text
        );
    }
    let r = env
        .get(&tok, &q("&startTime=yesterday".into(), en(now)))
        .await;
    assert_eq!(r.af_code(), "AF20002");
    // Documented formats, a trailing Z, and both omitted (the previous 24 hours).
    let d = chrono::DateTime::from_timestamp_millis(now).unwrap();
    let e = chrono::DateTime::from_timestamp_millis(now + 3 * HOUR).unwrap();
    for (s, e) in [
        (
            d.format("%Y-%m-%dT%H:%M").to_string(),
            e.format("%Y-%m-%dT%H:%M").to_string(),
        ),
        (
            d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            e.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
    ] {
        let r = env
            .get(
                &tok,
                &format!(
                    "{}/subscriptions/content?contentType=Audit.General&startTime={s}&endTime={e}",
                    env.feed()
                ),
            )
            .await;
        assert_eq!(r.status, 200, "{s}: {}", r.text);
    }
    let day = (now - 30 * 60_000) / (24 * HOUR) * (24 * HOUR);
    let date = chrono::DateTime::from_timestamp_millis(day)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let r = env
        .get(
            &tok,
            &format!(
                "{}/subscriptions/content?contentType=Audit.General&startTime={date}&endTime={}",
                env.feed(),
                fmt(day + 24 * HOUR)
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = env.get(&tok, &q(String::new(), String::new())).await;
    assert_eq!(r.status, 200);
    assert!(
        r.json().as_array().unwrap().len() >= 70,
        "previous 24 h hold the 6 h of content"
    );
}
