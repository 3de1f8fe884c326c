//! The four clouds: no half-clouds (one cloud's API with another's sign-in), and the cloud
//! inferred from an `api_root` on a known host.

use std::process::Command;

use crate::cli::Emu;

/// Run and say (exit code, stdout and stderr).
fn run(c: &mut Command) -> (i32, String) {
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn a_half_cloud_is_refused_before_any_request_and_the_pair_meant_is_named() {
    let e = Emu::new();
    for (api, login, meant) in [
        (
            "https://manage.office365.us",
            "https://login.microsoftonline.com",
            "https://login.microsoftonline.us",
        ),
        (
            "https://manage.office.com",
            "https://login.microsoftonline.us",
            "https://login.microsoftonline.com",
        ),
    ] {
        let (code, text) = run(e
            .cmd(&["ping", "-o", "json"])
            .env("O365_API_ROOT", api)
            .env("O365_LOGIN_ENDPOINT", login));
        assert_eq!(code, 2, "{api} + {login}: {text}");
        assert!(
            text.contains("login_endpoint") && text.contains(meant),
            "{api} + {login}: {text}"
        );
    }
    assert_eq!(e.requests(), 0);
}

#[test]
fn the_cloud_is_inferred_from_an_api_root_on_a_known_host() {
    let e = Emu::new();
    let o = e
        .cmd(&["config", "show", "-o", "json"])
        .env("O365_API_ROOT", "https://manage.protection.apps.mil")
        .env_remove("O365_LOGIN_ENDPOINT")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let row = |key: &str| {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no {key} in {v}"))
            .clone()
    };
    assert_eq!(row("cloud")["value"], "dod", "{v}");
    assert_eq!(row("cloud")["source"], "inferred from api_root", "{v}");
    assert_eq!(
        row("login_endpoint")["value"],
        "https://login.microsoftonline.us",
        "{v}"
    );
}

#[test]
fn each_cloud_by_its_real_host_names_through_the_emulator_as_proxy() {
    use o365_emulator::cloud::Cloud as EmuCloud;
    let mut cfg = o365_emulator::EmulatorConfig::default().with_tenants(4, 2.0);
    for (t, c) in cfg.tenants.iter_mut().zip(EmuCloud::ALL) {
        t.cloud = c;
        // Started by the test, through the real host names.
        t.subscriptions
            .retain(|s| s.content_type != "Audit.Exchange");
    }
    let e = Emu::with_tls(cfg);
    let proxy = e
        .info
        .proxy
        .clone()
        .expect("the HTTPS emulator names its proxy");
    let real = |tenant: &str, cloud: &str, args: &[&str]| {
        let mut c = e.cmd(args);
        c.env_remove("O365_API_ROOT")
            .env_remove("O365_LOGIN_ENDPOINT")
            .env("O365_CLOUD", cloud)
            .env("O365_TENANT_ID", tenant)
            .env("HTTPS_PROXY", &proxy);
        c
    };
    let json = |c: &mut Command| -> (i32, serde_json::Value, String) {
        let o = c.output().unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (
            o.status.code().unwrap_or(-1),
            serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null),
            text,
        )
    };
    for (t, cloud) in e.info.tenants.iter().zip(EmuCloud::ALL) {
        let name = cloud.name();
        let (code, v, text) = json(&mut real(&t.id, name, &["ping", "-o", "json"]));
        assert_eq!(code, 0, "{name}: {text}");
        let d = &v["json_result"];
        assert_eq!(d["cloud"], name, "{name}: {v}");
        assert_eq!(d["api_root"], cloud.api_root(), "{name}: {v}");
        assert_eq!(
            d["login_endpoint"],
            format!("https://{}", cloud.login_host()),
            "{name}: {v}"
        );
        let (code, v, text) = json(&mut real(
            &t.id,
            name,
            &["start-subscription", "Audit.Exchange", "-o", "json"],
        ));
        assert_eq!(code, 0, "{name}: {text}");
        assert_eq!(
            v["json_result"]["subscriptions"][0]["outcome"], "started",
            "{name}: {v}"
        );
        let (code, v, text) = json(&mut real(&t.id, name, &["subscriptions", "-o", "json"]));
        assert_eq!(code, 0, "{name}: {text}");
        assert!(v.to_string().contains("Audit.Exchange"), "{name}: {v}");
        let out = e.home.path().join(format!("{name}.jsonl"));
        let sink = format!("jsonl:{}", out.display());
        let (code, v, text) = json(&mut real(
            &t.id,
            name,
            &[
                "collect",
                "Audit.General",
                "--once",
                "--since",
                "1h",
                "--sink",
                &sink,
                "-o",
                "json",
            ],
        ));
        assert_eq!(code, 0, "{name}: {text}");
        let written = v["events_written"].as_u64().unwrap_or(0);
        assert!(written > 0, "{name}: nothing collected: {v}");
        let lines = std::fs::read_to_string(&out).unwrap().lines().count() as u64;
        assert_eq!(lines, written, "{name}");
    }
    // A GCC High tenant configured as commercial: the commercial sign-in does not know it.
    let gcc_high = &e.info.tenants[2];
    let (code, text) = run(&mut real(
        &gcc_high.id,
        "commercial",
        &["ping", "-o", "json"],
    ));
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("AADSTS90002"), "{text}");
    assert!(text.contains("cloud"), "the fix names the cloud: {text}");
}

#[test]
fn a_token_for_another_cloud_is_refused_by_the_api_and_the_message_names_that_cloud() {
    use o365_emulator::cloud::Cloud as EmuCloud;
    let mut cfg = o365_emulator::EmulatorConfig::default().with_tenants(3, 1.0);
    cfg.tenants[2].cloud = EmuCloud::GccHigh;
    let e = Emu::with_tls(cfg);
    let proxy = e.info.proxy.clone().unwrap();
    let gcc_high = e.info.tenants[2].id.clone();
    // A GCC High token, minted at the GCC High sign-in through the emulator.
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(e.ca_file.as_ref().unwrap()).unwrap())
                .unwrap(),
        )
        .proxy(reqwest::Proxy::https(&proxy).unwrap())
        .build()
        .unwrap();
    let token: serde_json::Value = e.rt.block_on(async {
        http.post(format!(
            "https://login.microsoftonline.us/{gcc_high}/oauth2/v2.0/token"
        ))
        .form(&[
            ("client_id", e.info.client_id.as_str()),
            ("client_secret", e.info.client_secret.as_str()),
            ("grant_type", "client_credentials"),
            ("scope", "https://manage.office365.us/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    });
    assert!(token["access_token"].is_string(), "{token}");
    // A sign-in (on loopback, so no half-cloud rule applies) that hands out that token.
    let app = axum::Router::new().route(
        "/{tenant}/oauth2/v2.0/token",
        axum::routing::post(move || {
            let t = token.clone();
            async move { axum::Json(t) }
        }),
    );
    let listener =
        e.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
    let login = format!("http://{}", listener.local_addr().unwrap());
    e.rt.spawn(async move { axum::serve(listener, app).await });
    let (code, text) = run(e
        .cmd(&["subscriptions", "-o", "json"])
        .env("O365_API_ROOT", "https://manage.office.com")
        .env("O365_LOGIN_ENDPOINT", &login)
        .env("O365_TENANT_ID", &gcc_high)
        .env("HTTPS_PROXY", &proxy));
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(
        text.contains("https://manage.office365.us") && text.contains("gcc-high"),
        "the message names the token's cloud: {text}"
    );
}
