//! The status page and its JSON after a scripted history (all started, one type stopped for three
//! hours of emulated time, restarted, collected), checked in a real browser (Chromium, headless):
//! one lane per content type, the gap with its bounds; a screenshot kept under target/.

use std::process::Command;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::cli::Emu;

fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c;
        }
    }
    panic!("no Chromium: install it (Debian: apt-get install chromium); .ci/run does")
}

fn json_of(c: &mut Command) -> Value {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn advance(e: &Emu, seconds: u64) {
    e.control(
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({ "seconds": seconds })),
    );
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn the_page_shows_each_lane_and_the_gap_with_its_bounds_in_a_real_browser() {
    let e = Emu::new();
    json_of(&mut e.cmd(&["start-subscription", "--all", "-o", "json"]));
    advance(&e, 2 * 3600);
    let stop = json_of(&mut e.cmd(&["stop-subscription", "Audit.Exchange", "-o", "json"]));
    assert_eq!(stop["result_value"], true, "{stop}");
    advance(&e, 3 * 3600);
    json_of(&mut e.cmd(&["start-subscription", "Audit.Exchange", "-o", "json"]));
    advance(&e, 600);
    json_of(&mut e.cmd(&["collect", "--all", "--once", "--since", "6h", "-o", "json"]));

    // The JSON: the gap is there, three hours long, caused by the action; lag is small.
    let st = json_of(&mut e.cmd(&["status"]));
    let lanes = st["tenants"][0]["types"].as_array().unwrap();
    assert_eq!(lanes.len(), 5, "{st}");
    let ex = lanes
        .iter()
        .find(|l| l["content_type"] == "Audit.Exchange")
        .unwrap();
    let gaps = ex["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{ex}");
    let (from, to) = (time(&gaps[0]["from"]), time(&gaps[0]["to"]));
    let hours = (to - from).num_seconds() as f64 / 3600.0;
    assert!((hours - 3.0).abs() < 0.02, "the gap lasts {hours} h: {ex}");
    assert_eq!(gaps[0]["source"], "action");
    assert_eq!(ex["subscription"], "enabled");
    let now = time(&st["now"]);
    assert!(
        (now - to).num_seconds().abs() < 3600,
        "the axis ends at the service's time: now {now}, restart {to}"
    );
    for l in lanes {
        let lag = l["lag_seconds"].as_i64().expect("lag after a collection");
        assert!((0..3600).contains(&lag), "lag {lag} s: {l}");
        assert!(l["collected"]["to"].is_string(), "{l}");
        // The verdicts: the gap where it is, ok elsewhere, and the tenant the worst of them.
        let expected = if l["content_type"] == "Audit.Exchange" {
            "gap"
        } else {
            "ok"
        };
        assert_eq!(l["verdict"], expected, "{l}");
    }
    assert_eq!(st["tenants"][0]["verdict"], "gap", "{st}");
    assert_eq!(st["verdict"], "gap", "{st}");

    // The timeline as a file.
    let svg = e.home.path().join("timeline.svg");
    json_of(e.cmd(&["gaps", "-o", "json", "--svg"]).arg(&svg));
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert_eq!(svg.matches("class=\"lane\"").count(), 5);
    assert_eq!(svg.matches("class=\"gap\" data-from").count(), 1);
    // It can go into a ticket as it is: the tenant, the range, a legend.
    assert!(
        svg.contains(&format!("({}) over the last 7 days", e.info.tenant_id)),
        "{svg}"
    );
    assert!(svg.contains("data gap (no content exists)"), "{svg}");

    // The page, served, as a browser sees it.
    let server = crate::Served::start(e.cmd(&["status", "--serve", "127.0.0.1:0"]));
    let url = server.field("url");
    let api: Value = e.rt.block_on(async {
        reqwest::get(format!("{url}api/status"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(api["tenants"][0]["types"][1]["gaps"], ex["gaps"]);
    let profile = e.home.path().join("chromium");
    let browser = |extra: &[&str]| {
        Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let dom = String::from_utf8_lossy(&browser(&["--dump-dom"]).stdout).to_string();
    // The verdict first, then each tenant's lanes over 24 hours and over 7 days.
    let overall = dom
        .split("<p class=\"verdict overall\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no overall verdict: {dom}"));
    assert!(
        overall.starts_with("<span class=\"v v-gap\" data-verdict=\"gap\">▲ gap</span>"),
        "{overall}"
    );
    assert!(overall.contains("updated at"), "{overall}");
    for range in ["24h", "7d"] {
        assert_eq!(
            dom.matches(&format!("data-range=\"{range}\"")).count(),
            1,
            "{dom}"
        );
    }
    assert_eq!(dom.matches("class=\"lane\"").count(), 10, "{dom}");
    // Collection began 6 hours back: before that is drawn as such in the 24-hour view.
    let day = dom
        .split("data-range=\"24h\"")
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    assert_eq!(day.matches("class=\"before\"").count(), 5, "{day}");
    assert!(day.contains("before collection start"), "{day}");
    let week = dom.split("data-range=\"7d\"").nth(1).unwrap();
    let lane = week
        .split("<g class=\"lane\" data-content-type=\"Audit.Exchange\" data-verdict=\"gap\">")
        .nth(1)
        .and_then(|rest| rest.split("</g>").next())
        .unwrap_or_else(|| panic!("no Audit.Exchange lane: {dom}"));
    assert!(
        lane.contains(&format!(
            "data-from=\"{}\"",
            gaps[0]["from"].as_str().unwrap()
        )) && lane.contains(&format!("data-to=\"{}\"", gaps[0]["to"].as_str().unwrap())),
        "the gap with its bounds: {lane}"
    );
    assert!(lane.contains("data gap, no content from"), "{lane}");
    for other in ["Audit.General", "DLP.All"] {
        let l = week
            .split(&format!(
                "data-content-type=\"{other}\" data-verdict=\"ok\">"
            ))
            .nth(1)
            .unwrap()
            .split("</g>")
            .next()
            .unwrap();
        assert!(!l.contains("class=\"gap\""), "no gap in {other}: {l}");
    }
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let out = browser(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1100,760",
        "--hide-scrollbars",
    ]);
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    drop(server);
}

#[test]
fn beyond_loopback_the_page_needs_a_token() {
    let e = Emu::new();
    let o = e.cmd(&["status", "--serve", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--auth-token-file"));
    // `serve` follows the same rule for its page, /api/status and /metrics.
    let o = e
        .cmd(&["serve", "--listen", "0.0.0.0:0", "--sink", "null"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refusing to serve") && err.contains("--auth-token-file"),
        "{err}"
    );
    // With a token: refused without it, shown with it (header or the cookie /login sets).
    let token = "0123456789abcdef0123456789abcdef";
    let file = e.home.path().join("token");
    std::fs::write(&file, token).unwrap();
    let mut c = e.cmd(&["status", "--serve", "127.0.0.1:0", "--auth-token-file"]);
    c.arg(&file);
    let server = crate::Served::start(c);
    let url = server.field("url");
    let (none, header, cookie) = signed_in(&e, &url, token);
    assert_eq!(none, 401);
    assert_eq!(header, 200);
    assert_eq!(cookie, 200);
    drop(server);
    // `serve` signs in the same way (the page, /metrics), and throttles wrong tokens.
    let mut c = e.cmd(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--sink",
        "null",
        "--since",
        "1h",
        "--auth-token-file",
    ]);
    c.arg(&file);
    let server = crate::Served::start(c);
    let url = format!("{}/", server.field("listen"));
    let (none, header, cookie) = signed_in(&e, &url, token);
    assert_eq!((none, header, cookie), (401, 200, 200));
    let codes: Vec<u16> = e.rt.block_on(async {
        let c = reqwest::Client::new();
        let mut codes = vec![];
        for _ in 0..12 {
            let r = c
                .post(format!("{url}login"))
                .form(&[("token", "guess")])
                .send()
                .await
                .unwrap();
            codes.push(r.status().as_u16());
        }
        codes
    });
    assert_eq!(codes[..10], [401; 10]);
    assert_eq!(codes[10..], [429, 429], "wrong tokens are throttled");
}

/// Without the token, with it in a header, with the session cookie `/login` gives: the
/// statuses of `/api/status`, `/api/status` and `/`. The cookie never holds the token; every
/// answer forbids framing and scripts.
fn signed_in(e: &Emu, url: &str, token: &str) -> (u16, u16, u16) {
    e.rt.block_on(async {
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let none = c.get(format!("{url}api/status")).send().await.unwrap();
        let header = c
            .get(format!("{url}api/status"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status();
        let login = c
            .post(format!("{url}login"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        let full = login
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(
            full.contains("HttpOnly") && full.contains("Max-Age=") && !full.contains(token),
            "{full}"
        );
        let set = full.split(';').next().unwrap_or("").to_string();
        let page = c.get(url).header("Cookie", set).send().await.unwrap();
        let h = page.headers();
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
        (
            none.status().as_u16(),
            header.as_u16(),
            page.status().as_u16(),
        )
    })
}

#[test]
fn serve_shows_each_tenants_live_state_and_last_error() {
    let e = Emu::with(o365_emulator::EmulatorConfig::default().with_tenants(2, 1.0));
    let i = &e.info;
    let mut toml = format!("state = \"{}\"\n", e.state().display());
    for (name, t, secret) in [
        ("good", &i.tenants[0], i.client_secret.as_str()),
        ("bad", &i.tenants[1], "not-the-secret"),
    ] {
        toml.push_str(&format!(
            "\n[[tenants]]\nname = \"{name}\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{secret}\"\napi_root = \"{}\"\nlogin_endpoint = \"{}\"\n",
            t.id, i.client_id, i.api_root, i.login_endpoint
        ));
    }
    let config = e.home.path().join("tenants.toml");
    std::fs::write(&config, toml).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut c = crate::bin();
    e.configure(&mut c);
    // The tenants are the file's (the environment's tenant would be "good" a second time).
    c.env_remove("O365_TENANT_ID");
    c.arg("--config").arg(&config).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--sink",
        "null",
        "--since",
        "1h",
    ]);
    // Killed when dropped, pass or fail.
    let server = crate::Served::start(c);
    let url = server.field("listen");
    let get = |path: &str| -> String {
        e.rt.block_on(async {
            match reqwest::get(format!("{url}{path}")).await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        })
    };
    let t0 = std::time::Instant::now();
    let st = loop {
        let v: Value = serde_json::from_str(&get("/api/status")).unwrap_or(Value::Null);
        let state = |n: &str| {
            v["tenants"]
                .as_array()
                .and_then(|a| a.iter().find(|t| t["name"] == n))
                .map(|t| t["state"].clone())
                .unwrap_or(Value::Null)
        };
        if state("good") == "ok" && state("bad") == "failing" {
            break v;
        }
        assert!(t0.elapsed().as_secs() < 60, "never ok and failing: {v}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let bad = st["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "bad")
        .unwrap();
    assert!(
        bad["last_error"].as_str().unwrap().contains("7000215"),
        "{bad}"
    );
    assert!(bad["last_error_at"].is_string(), "{bad}");
    let page = get("/");
    assert!(
        page.contains("data-tenant=\"bad\"") && page.contains("failing since"),
        "{page}"
    );
    assert!(!page.contains("not-the-secret"), "the secret never shows");
    drop(server);
}
