//! The emulator as the real host names: a CONNECT proxy for the four clouds' hosts, tokens for
//! one cloud's resource only, and tenants that exist only in their own cloud.

use o365_emulator::cloud::Cloud;
use o365_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

/// Four tenants, one per cloud (in `Cloud::ALL` order), all subscriptions on for two hours.
async fn four_clouds() -> Emulator {
    let mut cfg = EmulatorConfig::default().with_tenants(4, 2.0);
    for (t, c) in cfg.tenants.iter_mut().zip(Cloud::ALL) {
        t.cloud = c;
    }
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    Emulator::start_tls_on(local, cfg).await.unwrap()
}

/// A client that trusts the emulator's CA and reaches every HTTPS host through its proxy.
fn via_proxy(emu: &Emulator) -> reqwest::Client {
    let proxy = emu.info().proxy.expect("an HTTPS emulator names its proxy");
    reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(emu.ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .proxy(reqwest::Proxy::https(proxy).unwrap())
        .build()
        .unwrap()
}

async fn token(
    http: &reqwest::Client,
    login_host: &str,
    tenant: &str,
    resource: &str,
) -> (u16, Value) {
    let info_secret = o365_emulator::config::DEFAULT_CLIENT_SECRET;
    let r = http
        .post(format!("https://{login_host}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("client_id", o365_emulator::config::DEFAULT_CLIENT_ID),
            ("client_secret", info_secret),
            ("grant_type", "client_credentials"),
            ("scope", &format!("{resource}/.default")),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_cloud_answers_at_its_real_host_names_and_refuses_the_others_tokens_and_tenants() {
    let emu = four_clouds().await;
    let http = via_proxy(&emu);
    let tenants = emu.info().tenants;
    for (t, cloud) in tenants.iter().zip(Cloud::ALL) {
        assert_eq!(t.cloud, cloud);
        let (status, v) = token(&http, cloud.login_host(), &t.id, cloud.api_root()).await;
        assert_eq!(status, 200, "{cloud:?}: {v}");
        let tok = v["access_token"].as_str().unwrap().to_string();
        let list = |host: &str| {
            http.get(format!(
                "https://{host}/api/v1.0/{}/activity/feed/subscriptions/content?contentType=Audit.General",
                t.id
            ))
            .bearer_auth(&tok)
            .send()
        };
        let r = list(cloud.api_host()).await.unwrap();
        assert_eq!(r.status(), 200, "{cloud:?}");
        let blobs: Value = r.json().await.unwrap();
        let uri = blobs[0]["contentUri"].as_str().unwrap();
        assert!(
            uri.starts_with(&format!("https://{}/api/v1.0/", cloud.api_host())),
            "content URIs point at the host asked: {uri}"
        );
        // The token is refused by every other cloud's API host.
        for other in Cloud::ALL.into_iter().filter(|c| *c != cloud) {
            let r = list(other.api_host()).await.unwrap();
            assert_eq!(r.status(), 401, "{cloud:?} token at {other:?}");
        }
        // The tenant is unknown at the other sign-in host, and asks for another cloud's
        // resource are refused at its own.
        let other_login = Cloud::ALL
            .into_iter()
            .find(|c| c.login_host() != cloud.login_host())
            .unwrap();
        let (status, v) = token(
            &http,
            other_login.login_host(),
            &t.id,
            other_login.api_root(),
        )
        .await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error_codes"][0], 90002, "{v}");
        let (status, v) = token(&http, cloud.login_host(), &t.id, other_login.api_root()).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error_codes"][0], 500011, "{v}");
    }
}

#[tokio::test]
async fn connect_is_answered_only_for_the_real_hosts_on_443() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let emu = four_clouds().await;
    for (target, ok) in [
        ("manage.office365.us:443", true),
        ("example.com:443", false),
        ("manage.office.com:80", false),
    ] {
        let mut s = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
        s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = vec![0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]).to_string();
        if ok {
            assert!(answer.starts_with("HTTP/1.1 200"), "{target}: {answer}");
        } else {
            assert!(answer.starts_with("HTTP/1.1 403"), "{target}: {answer}");
            assert!(
                answer.contains("manage.office365.us"),
                "names what it serves: {answer}"
            );
        }
    }
}
