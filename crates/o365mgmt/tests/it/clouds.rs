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
