//! A tenant is its GUID, however it is written: its domain, its GUID in upper case, the GUID
//! its state was kept under by an earlier version. Never collected twice, never begun anew.

use std::process::Command;

use serde_json::{json, Value};

use crate::cli::Emu;
use crate::fleet::{readyz, term, wait_for, Env, Tenant};
use crate::jsonl_ids;

pub(crate) fn out(c: &mut Command) -> (i32, String, String) {
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub(crate) fn emulator() -> Emu {
    let mut cfg = o365_emulator::EmulatorConfig::default().with_all_subscriptions(6.0);
    cfg.throttle.requests_per_minute = 1_000_000;
    cfg.data.late_rate = 0.0;
    Emu::with(cfg)
}

#[test]
fn a_tenant_written_as_its_domain_or_in_upper_case_is_collected_once() {
    let e = emulator();
    let file = e.home.path().join("events.jsonl");
    let sink = format!("jsonl:{}", file.display());
    let args = ["collect", "Audit.General", "--once", "--sink", &sink];
    let guid = e.info.tenant_id.clone();
    let domain = e.info.tenant_domain.clone();
    assert!(domain.contains('.'), "{domain}");
    for (i, tenant) in [domain.clone(), guid.to_ascii_uppercase(), guid.clone()]
        .iter()
        .enumerate()
    {
        if i > 0 {
            e.control(
                reqwest::Method::POST,
                "clock/advance",
                Some(json!({"seconds": 600})),
            );
        }
        let (code, _, err) = out(e.cmd(&args).env("O365_TENANT_ID", tenant));
        assert_eq!(code, 0, "{tenant}: {err}");
    }
    let (got, lines) = jsonl_ids(&file);
    assert_eq!(
        lines,
        got.len(),
        "{} events written twice",
        lines - got.len()
    );
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let now = e.clock();
    let all = e.manifest(
        "Audit.General",
        &fmt(now - chrono::Duration::hours(5)),
        &fmt(now - chrono::Duration::minutes(30)),
    );
    assert!(!all.is_empty());
    assert!(
        all.is_subset(&got),
        "{} missing",
        all.difference(&got).count()
    );
    // Read without signing in, by the domain: the state is found under the tenant's GUID.
    let (code, stdout, err) = out(e
        .cmd(&["collect", "status", "--sink", &sink, "-o", "json"])
        .env("O365_TENANT_ID", &domain));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let general = v["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["content_type"] == "Audit.General")
        .unwrap();
    assert_eq!(general["events_written"], json!(lines), "{v}");
    // Without --sink, status shows the sink the tenant was last collected into, and says so.
    let (code, stdout, err) = out(e
        .cmd(&["collect", "status", "-o", "json"])
        .env("O365_TENANT_ID", &domain));
    assert_eq!(code, 0, "{err}");
    let v2: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v2["sink"], v["sink"], "{v2}");
    assert_eq!(v2["types"], v["types"]);
    // `status` too, as text when asked: the sink named, the events counted.
    let (code, text, err) = out(e
        .cmd(&["status", "-o", "text"])
        .env("O365_TENANT_ID", &domain));
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(&format!("collected into {}", v["sink"].as_str().unwrap())),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("Audit.General"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains(&format!(" {lines} ")), "{row}");
}

#[test]
fn state_kept_under_an_earlier_spelling_is_continued_not_begun_anew() {
    let e = emulator();
    let db = e.home.path().join("events.sqlite");
    let sink = format!("sqlite:{}", db.display());
    let args = ["collect", "Audit.General", "--once", "--sink", &sink];
    let (code, _, err) = out(&mut e.cmd(&args));
    assert_eq!(code, 0, "{err}");
    let count = || -> i64 {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap()
    };
    let first = count();
    assert!(first > 0);
    // An earlier version kept the state under the tenant as configured: in upper case.
    let upper = e.info.tenant_id.to_ascii_uppercase();
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        for t in ["collect_cursors", "collect_blobs", "collect_gaps"] {
            c.execute(&format!("UPDATE {t} SET tenant = ?1"), [&upper])
                .unwrap();
        }
        // Its events were de-duplicated on that spelling too (the blob's tenant is in
        // `event_blobs`, each event's key in `event_rows`).
        c.execute("UPDATE event_blobs SET tenant = ?1", [&upper])
            .unwrap();
        let rows: Vec<(i64, String)> = c
            .prepare("SELECT rowid, id FROM event_rows")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (row, id) in rows {
            c.execute(
                "UPDATE event_rows SET dedup = ?1 WHERE rowid = ?2",
                rusqlite::params![o365_collect::checkpoint::dedup_key(&upper, &id), row],
            )
            .unwrap();
        }
    }
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({"seconds": 600})),
    );
    // Configured now in lower case: the run goes on from the earlier cursor.
    let (code, _, err) = out(&mut e.cmd(&args));
    assert_eq!(code, 0, "{err}");
    let c = rusqlite::Connection::open(&db).unwrap();
    let keys: Vec<String> = c
        .prepare("SELECT DISTINCT tenant FROM collect_cursors")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(keys, vec![upper.clone()], "one key, the earlier one");
    let dup: i64 = c
        .query_row(
            "SELECT count(*) FROM (SELECT id FROM events GROUP BY id HAVING count(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dup, 0, "events written twice");
    assert!(
        count() > first,
        "the second run collected the new ten minutes"
    );
    let tenants: i64 = c
        .query_row("SELECT count(DISTINCT tenant) FROM events", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(tenants, 1, "the events of one tenant under one key");
}

#[test]
fn one_tenant_configured_by_domain_and_by_guid_is_served_once() {
    let mut env = Env::new(1, 2.0, |_| {});
    let domain = env.emus[0].info.tenants[0].domain.clone();
    let mut by_domain: Tenant = env.tenants[0].clone();
    by_domain.name = "by-domain".into();
    by_domain.id = domain.clone();
    env.tenants.push(by_domain);
    let config = env.config(&env.tenants);
    let file = env.home.path().join("events.jsonl");
    let (mut s, url) = env.serve(&config, &["--sink", &format!("jsonl:{}", file.display())]);
    wait_for(60, "one pass and one refusal", || {
        let (_, v) = readyz(&url);
        let ts = v["tenants"].as_array().cloned().unwrap_or_default();
        let passed = ts
            .iter()
            .filter(|t| t["passes"].as_u64().unwrap_or(0) >= 1)
            .count();
        let refused = ts
            .iter()
            .filter(|t| {
                t["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("are the same tenant"))
            })
            .count();
        passed == 1 && refused == 1
    });
    let (_, v) = readyz(&url);
    let refused = v["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["last_error"].as_str().is_some())
        .unwrap()
        .clone();
    let err = refused["last_error"].as_str().unwrap();
    assert!(
        err.contains("t1") && err.contains("by-domain") && err.contains(&env.tenants[0].id),
        "{err}"
    );
    term(&mut s);
    let (got, lines) = jsonl_ids(&file);
    assert!(lines > 0);
    assert_eq!(lines, got.len(), "events written twice");
    // A fleet on Kafka places tenants by GUID: a domain is refused before anything starts.
    let (code, _, err) = out(&mut env.cmd(
        &config,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sink",
            "kafka://127.0.0.1:9/audit",
        ],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("by-domain") && err.contains(&domain) && err.contains("GUID"),
        "{err}"
    );
}

#[test]
fn two_emulators_serving_one_guid_never_write_into_one_history() {
    // Two services at two addresses answer for the same tenant GUID (the emulator's default
    // tenant), and one state file is used with both: the first has every feed on, the second
    // none (as the README's sections once left it).
    let on = emulator();
    let off = Emu::new();
    assert_eq!(on.info.tenant_id, off.info.tenant_id);
    let state = on.state();
    let gaps = |e: &Emu| -> Value {
        let (code, stdout, stderr) = out(e.cmd(&["gaps", "-o", "json"]).env("O365_STATE", &state));
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    };
    let (code, _, stderr) = out(&mut on.cmd(&["start-subscription", "--all", "-o", "json"]));
    assert_eq!(code, 0, "{stderr}");
    // The second service's ping sees nothing subscribed: not a stop of the first one's feeds.
    let (code, stdout, _) = out(off.cmd(&["ping", "-o", "json"]).env("O365_STATE", &state));
    assert!(code == 0 || code == 1, "{stdout}");
    assert_eq!(
        gaps(&on),
        json!([]),
        "the first service's history holds a gap"
    );
    assert_eq!(
        gaps(&off),
        json!([]),
        "the second service's history holds a gap"
    );
    // Each history goes on as its own: stopping a feed at the first is a gap there only.
    let (code, _, stderr) = out(on
        .cmd(&["stop-subscription", "Audit.General", "-o", "json"])
        .env("O365_STATE", &state));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(gaps(&on).as_array().map(Vec::len), Some(1), "{}", gaps(&on));
    assert_eq!(gaps(&off), json!([]));
}
