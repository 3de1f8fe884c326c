//! Property tests: window planning, and decoders that never panic.

use chrono::{DateTime, Duration, Utc};
use o365_api::{auth, error, event, types, window};
use proptest::prelude::*;

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap()
}

proptest! {
    #[test]
    fn windows_cover_the_reachable_range_exactly(
        start in 1_600_000_000i64..1_800_000_000,
        len in 0i64..(20 * 86_400),
        now_off in -86_400i64..(30 * 86_400),
    ) {
        let (s, e) = (t(start), t(start + len));
        let now = t(start + now_off);
        let p = window::plan(s, e, now);
        let floor = now - window::retention();
        let reach_start = s.max(floor);
        // Windows are contiguous, non-empty, at most 24 h, inside the reachable range.
        let mut cur = reach_start;
        for w in &p.windows {
            prop_assert_eq!(w.start, cur);
            prop_assert!(w.end > w.start);
            prop_assert!(w.end - w.start <= Duration::hours(24));
            cur = w.end;
        }
        if reach_start < e {
            prop_assert_eq!(cur, e);
        } else {
            prop_assert!(p.windows.is_empty());
        }
        // Nothing silently dropped: the unreachable part is reported.
        if s < floor {
            let o = p.out_of_reach.unwrap();
            prop_assert_eq!(o.start, s);
            prop_assert_eq!(o.end, e.min(floor));
        } else {
            prop_assert!(p.out_of_reach.is_none());
        }
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), status in 100u16..600) {
        let _ = event::decode_blob(&bytes);
        let _ = types::decode_array::<types::ContentBlob>("x", &bytes);
        let _ = types::decode_array::<types::Subscription>("x", &bytes);
        let _ = auth::decode_token_response(status, &bytes, std::time::Duration::from_secs(300));
        let e = error::classify(status, &bytes, None, "x");
        let _ = e.to_string();
        let _ = e.is_retryable();
    }

    #[test]
    fn decoders_never_panic_on_json_like_input(s in r#"[\[\]{}",:0-9a-zA-Z\\. ]{0,200}"#, status in 100u16..600) {
        let _ = event::decode_blob(s.as_bytes());
        let _ = auth::decode_token_response(status, s.as_bytes(), std::time::Duration::from_secs(300));
        let _ = error::classify(status, s.as_bytes(), None, "x").to_string();
    }
}

#[test]
fn blob_decoding_keeps_raw_bytes_and_tolerates_stringly_numbers() {
    let body = br#"[{"Id":"a","CreationTime":"2024-05-01T10:15:22","RecordType":"15","Operation":"UserLoggedIn","Workload":"AzureActiveDirectory","UserId":"u@x","Extra":{"k":[1,2]}},{"Id":"b","RecordType":6}]"#;
    let evs = event::decode_blob(body).unwrap();
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].record_type, Some(15));
    assert_eq!(evs[1].record_type, Some(6));
    assert_eq!(
        evs[0].creation_time.unwrap().to_string(),
        "2024-05-01 10:15:22"
    );
    assert!(evs[0].raw.get().contains(r#""Extra":{"k":[1,2]}"#));
    let e = event::decode_blob(br#"[{"Id":"a"},{"NoId":1}]"#).unwrap_err();
    assert!(e.to_string().contains("$[1].Id"), "{e}");
}

#[test]
fn error_texts_are_actionable() {
    let e = auth::decode_token_response(
        401,
        br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2023-05-06 06:03:00Z","error_codes":[7000215],"trace_id":"t"}"#,
        std::time::Duration::from_secs(1),
    )
    .unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("AADSTS7000215") && s.contains("secret's ID instead of its Value"),
        "{s}"
    );
    assert!(
        !s.contains("Trace ID"),
        "trailer stripped from the text: {s}"
    );
    assert!(!e.is_retryable());
    let e = error::classify(
        401,
        br#"{"Message":"Authorization has been denied for this request."}"#,
        None,
        "x",
    );
    assert!(matches!(e, o365_api::Error::Unauthorized { .. }));
    assert!(e.to_string().contains("same cloud"));
    let e = error::classify(400, br#"{"error":{"code":"StartSubscription [CorrId=x][TenantId=t,ContentType=Audit.General,ApplicationId=a,PublisherId=p][AppId","message":"bc] failed. Exception: Microsoft.Office.Compliance.Audit.DataServiceException: Tenant 41463f53-8812-40f4-890f-865bf6e35190 does not exist.\r\n   at X"}}"#, None, "x");
    assert!(
        matches!(&e, o365_api::Error::AuditingOff { tenant } if tenant == "41463f53-8812-40f4-890f-865bf6e35190"),
        "{e:?}"
    );
    assert!(e.to_string().contains("wait up to 60 minutes"));
    let e = error::classify(
        500,
        br#"{"error":{"code":"AF50000","message":"An internal error occurred."}}"#,
        None,
        "x",
    );
    assert!(e.is_retryable());
    let e = error::classify(
        400,
        br#"{"error":{"code":"AF20055","message":"window"}}"#,
        None,
        "x",
    );
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("at most 24 hours"));
    let e = error::classify(503, b"", None, "x");
    assert!(e.is_retryable());
    // A plain HTTP 429 is throttling too, and keeps the server's Retry-After.
    let wait = std::time::Duration::from_secs(86_400);
    let e = error::classify(429, b"Too Many Requests", Some(wait), "x");
    assert!(
        matches!(&e, o365_api::Error::Throttled { status: 429, code: None, retry_after: Some(w), .. } if *w == wait),
        "{e:?}"
    );
    assert!(e.is_retryable());
    assert!(e.to_string().contains("retry after 86400s"), "{e}");
    let e = error::classify(
        403,
        br#"{"error":{"code":"AF429","message":"Too many requests."}}"#,
        None,
        "x",
    );
    assert_eq!(e.af_code(), Some("AF429"));
    assert!(matches!(e, o365_api::Error::Throttled { status: 403, .. }));
}

#[test]
fn clouds_and_endpoints() {
    use o365_api::Cloud;
    let expect = [
        (
            "commercial",
            "https://manage.office.com",
            "https://login.microsoftonline.com",
        ),
        (
            "gcc",
            "https://manage-gcc.office.com",
            "https://login.microsoftonline.com",
        ),
        (
            "gcc-high",
            "https://manage.office365.us",
            "https://login.microsoftonline.us",
        ),
        (
            "dod",
            "https://manage.protection.apps.mil",
            "https://login.microsoftonline.us",
        ),
    ];
    for (name, api, login) in expect {
        let c: Cloud = name.parse().unwrap();
        let client = o365_api::Client::builder(
            "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80",
            "0b8e6d2c-5a4f-4e3b-9c1d-2f7a8b9c0d1e",
            o365_api::Credentials::secret("s3cr3t-value"),
        )
        .cloud(c)
        .build()
        .unwrap();
        assert_eq!(client.api_root(), api);
        assert_eq!(client.login_endpoint(), login);
    }
    assert!("GCC_HIGH".parse::<Cloud>().is_ok());
    let e = "china".parse::<Cloud>().unwrap_err().to_string();
    assert!(e.contains("commercial, gcc, gcc-high, dod"), "{e}");
    let b = || {
        o365_api::Client::builder(
            "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80",
            "0b8e6d2c-5a4f-4e3b-9c1d-2f7a8b9c0d1e",
            o365_api::Credentials::secret("s3cr3t-value"),
        )
    };
    for (root, ok) in [
        ("http://127.0.0.1:8080", true),
        ("http://localhost:1", true),
        ("http://[::1]:1", true),
        ("https://manage.office.com/", true),
        ("http://manage.office.com", false),
        ("http://10.0.0.1", false),
        ("ftp://x", false),
        ("https://manage.office.com/api/v1.0", false),
        ("not a url", false),
        ("http://user:pa55word@127.0.0.1:8080", false),
        ("https://user@manage.office.com", false),
    ] {
        let r = b().api_root(root).build();
        assert_eq!(r.is_ok(), ok, "{root}: {:?}", r.err());
        if let Err(e) = r {
            let e = e.to_string();
            assert!(e.starts_with("api_root = "), "{e}");
            assert!(
                !e.contains("pa55word") && !e.contains("user@"),
                "credentials echoed: {e}"
            );
        }
    }
    let e = b()
        .api_root("http://manage.office.com")
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("only for loopback"), "{e}");
    let e = o365_api::Client::builder(
        "41463f53.onmicrosoft",
        "x",
        o365_api::Credentials::secret("s"),
    )
    .build();
    assert!(e.is_ok(), "a domain is a valid tenant");
    let e = o365_api::Client::builder("not a tenant", "x", o365_api::Credentials::secret("s"))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("tenant_id"));
}
