//! The actions through the binary: exit codes, JSON, config layers, `action`, secrets.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use o365_emulator::config::{NO_ROLES_CLIENT_ID, READ_ONLY_CLIENT_ID};
use o365_emulator::{Emulator, EmulatorConfig, StartInfo};
use serde_json::{json, Value};

use crate::bin;

/// An emulator on its own runtime, and a private home for config and state.
pub struct Emu {
    pub rt: tokio::runtime::Runtime,
    _emu: Emulator,
    pub info: StartInfo,
    pub home: tempfile::TempDir,
    /// Over HTTPS: the emulator's CA, given to every command as `O365_CA_FILE`.
    pub ca_file: Option<PathBuf>,
}

impl Emu {
    pub fn new() -> Emu {
        Emu::with(EmulatorConfig::default())
    }

    /// An emulator with this configuration.
    pub fn with(cfg: EmulatorConfig) -> Emu {
        Emu::start(cfg, false)
    }

    /// An emulator with this configuration serving HTTPS; commands trust its CA.
    pub fn with_tls(cfg: EmulatorConfig) -> Emu {
        Emu::start(cfg, true)
    }

    fn start(cfg: EmulatorConfig, tls: bool) -> Emu {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let emu = if tls {
            rt.block_on(Emulator::start_tls_on(local, cfg)).unwrap()
        } else {
            rt.block_on(Emulator::start(cfg)).unwrap()
        };
        let info = emu.info();
        let home = tempfile::tempdir().unwrap();
        let ca_file = emu.ca_pem().map(|pem| {
            let p = home.path().join("emulator-ca.pem");
            std::fs::write(&p, pem).unwrap();
            p
        });
        Emu {
            rt,
            _emu: emu,
            info,
            home,
            ca_file,
        }
    }

    pub fn state(&self) -> PathBuf {
        self.home.path().join("state.sqlite")
    }

    /// The binary, configured through the environment, with its state in the private home.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bin();
        c.args(args);
        self.configure(&mut c);
        c
    }

    /// Point any command at the emulator through the environment, with a private home.
    pub fn configure(&self, c: &mut Command) {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env("O365_API_ROOT", &self.info.api_root)
            .env("O365_LOGIN_ENDPOINT", &self.info.login_endpoint)
            .env("O365_TENANT_ID", &self.info.tenant_id)
            .env("O365_CLIENT_ID", &self.info.client_id)
            .env("O365_CLIENT_SECRET", &self.info.client_secret)
            .env("O365_STATE", self.state())
            .current_dir(self.home.path());
        if let Some(ca) = &self.ca_file {
            c.env("O365_CA_FILE", ca);
        }
    }

    pub fn requests(&self) -> u64 {
        let url = format!("{}/counters", self.info.control_root);
        let mut http = reqwest::Client::builder();
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca).unwrap();
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        let http = http.build().unwrap();
        self.rt.block_on(async {
            let v: Value = http.get(url).send().await.unwrap().json().await.unwrap();
            v["total"].as_u64().unwrap()
        })
    }
}

fn run(c: &mut Command) -> (i32, Value, String) {
    let out = c.output().unwrap();
    parse(out)
}

fn parse(out: Output) -> (i32, Value, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (out.status.code().unwrap_or(-1), v, stderr)
}

fn action(e: &Emu, req: &Value) -> (i32, Value, String) {
    let mut child = e
        .cmd(&["action"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    parse(child.wait_with_output().unwrap())
}

fn outcomes(v: &Value) -> Vec<String> {
    v["json_result"]["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}={}",
                o["contentType"].as_str().unwrap(),
                o["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn actions_exit_codes_and_json_by_default() {
    let e = Emu::new();
    let (code, v, _) = run(&mut e.cmd(&["ping"]));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "Completed");
    assert_eq!(v["case_id"], "manual");

    // A list and a comma-separated list in one call, case-insensitive.
    let (code, v, _) = run(&mut e.cmd(&[
        "start-subscription",
        "audit.exchange,DLP.ALL",
        "Audit.General",
    ]));
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        outcomes(&v),
        [
            "Audit.Exchange=started",
            "DLP.All=started",
            "Audit.General=started"
        ]
    );
    let (code, v, _) = run(&mut e.cmd(&[
        "start-subscription",
        "--all",
        "--case-id",
        "42",
        "--alert-group",
        "g1",
    ]));
    assert_eq!(code, 0);
    assert_eq!(
        outcomes(&v),
        [
            "Audit.AzureActiveDirectory=started",
            "Audit.Exchange=already_enabled",
            "Audit.SharePoint=started",
            "Audit.General=already_enabled",
            "DLP.All=already_enabled"
        ]
    );
    assert_eq!(
        (
            v["case_id"].as_str(),
            v["alert_group_identifiers"][0].as_str()
        ),
        (Some("42"), Some("g1"))
    );

    let (code, v, _) = run(&mut e.cmd(&["stop-subscription", "Audit.General"]));
    assert_eq!(code, 0);
    assert_eq!(outcomes(&v), ["Audit.General=stopped"]);
    let (code, v, _) = run(&mut e.cmd(&["subscriptions"]));
    assert_eq!(code, 0);
    assert_eq!(v["json_result"]["not_enabled"], json!(["Audit.General"]));
    let (code, v, _) = run(&mut e.cmd(&["start-subscription", "Audit.General"]));
    assert_eq!(code, 0);
    assert_eq!(v["json_result"]["gaps"].as_array().unwrap().len(), 1, "{v}");
    let (code, v, _) = run(&mut e.cmd(&["gaps"]));
    assert_eq!(code, 0);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["contentType"], "Audit.General");
    let (code, v, _) = run(&mut e.cmd(&["journal"]));
    assert_eq!(code, 0);
    assert_eq!(v.as_array().unwrap().len(), 6);
    assert_eq!(v[0]["action"], "Start Subscription");
    let (code, v, _) = run(&mut e.cmd(&["content", "list", "--content-type", "audit.general"]));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["json_result"]["contentType"], "Audit.General");

    // Text on request, before or after the subcommand.
    for args in [["--output", "text", "ping"], ["ping", "--output", "text"]] {
        let out = e.cmd(&args).output().unwrap();
        let t = String::from_utf8_lossy(&out.stdout);
        assert!(t.starts_with("Ping: ok"), "{t}");
        assert!(t.contains("check token"), "{t}");
    }
    let out = e.cmd(&["gaps", "-o", "text"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Audit.General"));

    // Some types failing: exit 1 (an app without ActivityFeed.ReadDlp cannot stop DLP.All).
    // Nothing working: exit 3.
    let (code, v, _) = run(e
        .cmd(&["stop-subscription", "DLP.All", "Audit.Exchange"])
        .env("O365_CLIENT_ID", READ_ONLY_CLIENT_ID));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["result_value"], false);
    let (code, v, _) = run(e.cmd(&["ping"]).env("O365_CLIENT_ID", NO_ROLES_CLIENT_ID));
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["error"]["cause"], "missing_permission");
    let (code, v, _) = run(e.cmd(&["ping"]).env("O365_CLIENT_SECRET", "wrong"));
    assert_eq!(code, 3);
    assert_eq!(v["error"]["cause"], "invalid_client_secret");
}

#[test]
fn bad_input_exits_2_and_sends_nothing() {
    let e = Emu::new();
    let cases: [&[&str]; 6] = [
        &["start-subscription", "Select content type"],
        &["start-subscription", "Audit.Exchnage"],
        &["stop-subscription", ","],
        &["ping", "--scope", "Everything"],
        &["ping", "--target-entity", "no-type"],
        &[
            "content",
            "list",
            "--content-type",
            "Audit.General",
            "--start",
            "yesterday",
        ],
    ];
    for args in cases {
        let (code, v, _) = run(&mut e.cmd(args));
        assert_eq!(code, 2, "{args:?}: {v}");
        assert_eq!(v["status"], "Failed");
        assert_eq!(v["error"]["kind"], "input", "{v}");
    }
    let (_, v, _) = run(&mut e.cmd(cases[1]));
    assert!(v["output_message"]
        .as_str()
        .unwrap()
        .contains("Did you mean Audit.Exchange?"));
    // clap's own errors also exit 2.
    let out = e.cmd(&["start-subscription"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Configuration errors: exit 2, a Failed result naming the setting.
    let (code, v, _) = run(e.cmd(&["ping"]).env_remove("O365_TENANT_ID"));
    assert_eq!(code, 2);
    assert_eq!(v["error"]["kind"], "config");
    assert!(v["output_message"]
        .as_str()
        .unwrap()
        .contains("O365_TENANT_ID"));
    let (code, v, _) = run(e.cmd(&["ping"]).env("O365_CLOUD", "azure"));
    assert_eq!(code, 2);
    assert_eq!(v["error"]["field"], "cloud");
    assert_eq!(e.requests(), 0, "nothing reached the emulator");
}

#[test]
fn action_json_round_trip() {
    let e = Emu::new();
    let ctx = json!({"case_id": "4711", "alert_group_identifiers": ["g1"], "target_entities": [{"Identifier": "bob@contoso.com", "EntityType": "USERUNIQNAME"}]});
    let with = |extra: Value| {
        let mut v = ctx.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let (code, v, _) = action(&e, &with(json!({"action": "ping"})));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["action"], "Ping");
    assert_eq!(v["case_id"], "4711");
    assert_eq!(v["target_entities"][0]["Identifier"], "bob@contoso.com");
    let (code, v, _) = action(
        &e,
        &with(
            json!({"action": "start_subscription", "start_a_subscription_for": ["Audit.Exchange", "DLP.All"]}),
        ),
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["action"], "Start Subscription");
    assert_eq!(v["result_value"], true);
    assert_eq!(outcomes(&v), ["Audit.Exchange=started", "DLP.All=started"]);
    for field in [
        "integration",
        "status",
        "output_message",
        "scope",
        "json_result",
        "started_at",
        "duration_ms",
    ] {
        assert!(v.get(field).is_some(), "{field} in {v}");
    }
    // MCP tool names are accepted as the action.
    let (code, v, _) = action(
        &e,
        &with(
            json!({"action": "office365_management_api_stop_subscription", "stop_a_subscription_for": "DLP.All"}),
        ),
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["action"], "Stop Subscription");
    assert_eq!(outcomes(&v), ["DLP.All=stopped"]);
    let (code, v, _) = action(&e, &with(json!({"action": "list_subscriptions"})));
    assert_eq!(code, 0);
    assert_eq!(
        v["json_result"]["subscriptions"].as_array().unwrap().len(),
        2
    );

    // In JSON, case_id is required; a bad request is a Failed result, exit 2.
    let before = e.requests();
    let (code, v, _) = action(
        &e,
        &json!({"action": "ping", "alert_group_identifiers": []}),
    );
    assert_eq!(code, 2);
    assert_eq!(v["error"]["field"], "case_id");
    let (code, v, _) = action(
        &e,
        &json!({"action": "start_subscription", "case_id": "1", "alert_group_identifiers": []}),
    );
    assert_eq!(code, 2);
    assert_eq!(v["error"]["field"], "start_a_subscription_for");
    let mut child = e
        .cmd(&["action"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{not json").unwrap();
    let (code, v, _) = parse(child.wait_with_output().unwrap());
    assert_eq!(code, 2);
    assert!(v["output_message"].as_str().unwrap().contains("not JSON"));
    assert_eq!(e.requests(), before, "rejected requests send nothing");
}

fn write_private(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn soar_config_import_and_config_show() {
    let e = Emu::new();
    let soar = e.home.path().join("soar.json");
    write_private(
        &soar,
        &json!({
            "Api Root": e.info.api_root,
            "OAUTH2 Login Endpoint Url": e.info.login_endpoint,
            "Azure Active Directory ID": e.info.tenant_id,
            "Client ID": e.info.client_id,
            "Client Secret": e.info.client_secret,
            "Verify SSL": "true",
        })
        .to_string(),
    );
    let mut bare = bin();
    bare.env_clear()
        .env("HOME", e.home.path())
        .env("XDG_CONFIG_HOME", e.home.path().join("config"))
        .env("XDG_DATA_HOME", e.home.path().join("data"))
        .current_dir(e.home.path())
        .arg("--soar-config")
        .arg(&soar);
    let (code, v, _) = run(bare.arg("ping"));
    assert_eq!(code, 0, "{v}");

    // The file layer: ./o365mgmt.toml is found; env beats it; flags beat env.
    write_private(
        &e.home.path().join("o365mgmt.toml"),
        "client_id = \"from-file\"\nscopes = [\"Case scope\"]\n",
    );
    let (code, v, _) = run(&mut e.cmd(&["config", "show", "--client-id", "from-flag"]));
    assert_eq!(code, 0);
    let row = |k: &str| {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(row("client_id")["value"], "from-flag");
    assert_eq!(row("client_id")["source"], "flag --client-id");
    assert_eq!(row("tenant_id")["source"], "env O365_TENANT_ID");
    assert!(row("scopes")["source"]
        .as_str()
        .unwrap()
        .starts_with("file "));
    assert_eq!(row("client_secret")["value"], "[redacted]");
    assert_eq!(row("cloud")["source"], "default");
    // The configured scopes are the ones accepted.
    let (code, v, _) = run(&mut e.cmd(&["ping", "--scope", "case scope"]));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["scope"], "Case scope");
}

#[test]
fn secrets_never_appear_anywhere() {
    let e = Emu::new();
    let good = e.info.client_secret.clone();
    let bad = "wrong-secret-9f8e7d6c5b4a";
    let cfg = e.home.path().join("leaky.toml");
    // World-readable on purpose: the warning must not quote the secret either.
    std::fs::write(&cfg, format!("client_secret = \"{good}\"\n")).unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let runs: Vec<Vec<&str>> = vec![
        vec!["ping"],
        vec!["start-subscription", "--all"],
        vec!["stop-subscription", "DLP.All"],
        vec!["start-subscription", "DLP.All"],
        vec!["subscriptions"],
        vec!["content", "list", "--content-type", "Audit.General"],
        vec!["gaps"],
        vec!["journal"],
        vec!["config", "show"],
        vec!["config", "show", "-o", "text"],
        vec!["--config", &cfg, "config", "show"],
        vec!["--config", &cfg, "ping", "-o", "text"],
        vec!["ping", "--client-secret", bad],
        vec![
            "start-subscription",
            "Audit.Exchange",
            "--client-secret",
            bad,
            "-o",
            "text",
        ],
        vec!["ping", "--api-root", "http://example.com"],
    ];
    let mut seen = String::new();
    for args in &runs {
        let out = e.cmd(args).env("O365_LOG", "debug").output().unwrap();
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    for req in [
        json!({"action": "ping", "case_id": "1", "alert_group_identifiers": []}),
        json!({"action": "start_subscription", "case_id": "1", "alert_group_identifiers": [], "start_a_subscription_for": ["nope"]}),
    ] {
        let (_, v, err) = action(&e, &req);
        seen.push_str(&v.to_string());
        seen.push_str(&err);
    }
    assert!(
        seen.contains("Successfully connected"),
        "the runs really ran: {seen}"
    );
    assert!(
        seen.contains("other users can read it"),
        "the readable file was flagged"
    );
    let mut state_bytes = Vec::new();
    for f in std::fs::read_dir(e.home.path()).unwrap() {
        let p = f.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("state.sqlite")
        {
            state_bytes.extend(std::fs::read(&p).unwrap());
        }
    }
    assert!(!state_bytes.is_empty());
    for secret in [good.as_str(), bad] {
        assert!(!seen.contains(secret), "{secret} leaked in output");
        assert!(
            !state_bytes
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "{secret} leaked into the state file"
        );
    }
}

#[test]
fn unreachable_host_exits_3_and_completions_print() {
    let e = Emu::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let (code, v, _) = run(e
        .cmd(&["ping"])
        .env("O365_API_ROOT", &dead)
        .env("O365_LOGIN_ENDPOINT", &dead));
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["error"]["kind"], "connectivity");
    let out = e.cmd(&["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("start-subscription") && script.contains("o365mgmt"));
}

#[test]
fn config_show_names_a_proxy_from_the_environment_without_its_password() {
    let home = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["config", "show", "-o", "json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("HTTPS_PROXY", "http://user:hunter2@127.0.0.1:3128")
        .current_dir(home.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let row = v["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "proxy")
        .unwrap()
        .clone();
    assert!(
        row["value"].as_str().unwrap().contains("127.0.0.1:3128"),
        "{row}"
    );
    assert_eq!(row["source"], "HTTPS_PROXY (environment)", "{row}");
}
