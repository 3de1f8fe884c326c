//! Corporate proxies: the environment's (`HTTPS_PROXY`, `NO_PROXY`) and the `proxy` setting with
//! credentials, through a real forward proxy (proxy.py, from PyPI) to the emulator over HTTPS.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use o365_emulator::EmulatorConfig;
use serde_json::Value;

use crate::cli::Emu;
use crate::python::python;

const PASSWORD: &str = "pr0xy-s3cret-value";

/// proxy.py on 127.0.0.1 (a free port), its log in a file; killed when dropped.
struct Proxy {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Start one, with `user:password` required when given.
    fn start(auth: Option<&str>) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let log = dir.path().join("proxy.log");
        let mut c = Command::new(python());
        c.args(["-m", "proxy", "--hostname", "127.0.0.1", "--port", "0"])
            .arg("--port-file")
            .arg(&port_file)
            .args(["--num-workers", "1", "--num-acceptors", "1"])
            .args(["--log-level", "INFO"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(a) = auth {
            c.args(["--basic-auth", a]);
        }
        // proxy.py forks its acceptors: its own process group lets Drop stop them all.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let child = c
            .spawn()
            .expect("proxy.py starts (pip install proxy.py==2.4.10)");
        let t0 = Instant::now();
        let port = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break p;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "proxy.py did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Proxy {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether the proxy tunnelled a connection to `port`.
    fn tunnelled_to(&self, port: u16) -> bool {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .contains(&format!("CONNECT 127.0.0.1:{port}"))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run and say (exit code, stdout as JSON, stdout and stderr as text).
fn run(c: &mut Command) -> (i32, Value, String) {
    let o = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let text = format!("{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (o.status.code().unwrap_or(-1), v, text)
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a proxy's log shows the tunnel soon (it writes after the connection closes).
fn eventually(p: &Proxy, port: u16) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if p.tunnelled_to(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn the_environments_proxy_is_used_and_no_proxy_bypasses_it() {
    let e = Emu::with_tls(EmulatorConfig::default());
    let emu_port = reqwest::Url::parse(&e.info.api_root)
        .unwrap()
        .port()
        .unwrap();
    let p = Proxy::start(None);
    let (code, v, text) = run(e.cmd(&["ping", "-o", "json"]).env("HTTPS_PROXY", p.url()));
    assert_eq!(code, 0, "{text}");
    assert_eq!(v["json_result"]["proxy"]["from"], "HTTPS_PROXY", "{v}");
    assert!(
        eventually(&p, emu_port),
        "the proxy saw no tunnel to the emulator"
    );
    // NO_PROXY exempts the host: a dead proxy is not even tried.
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let (code, v, text) = run(e
        .cmd(&["ping", "-o", "json"])
        .env("HTTPS_PROXY", &dead)
        .env("NO_PROXY", "127.0.0.1"));
    assert_eq!(code, 0, "{text}");
    assert!(v["json_result"].get("proxy").is_none(), "{v}");
    // Without the exemption, the dead proxy is what fails.
    let (code, _, text) = run(e.cmd(&["ping", "-o", "json"]).env("HTTPS_PROXY", &dead));
    assert_eq!(code, 3, "{text}");
}

#[test]
fn the_proxy_setting_with_credentials_wins_and_its_password_never_shows() {
    let e = Emu::with_tls(EmulatorConfig::default());
    let emu_port = reqwest::Url::parse(&e.info.api_root)
        .unwrap()
        .port()
        .unwrap();
    let p = Proxy::start(Some(&format!("alice:{PASSWORD}")));
    let with = |pw: &str| format!("http://alice:{pw}@127.0.0.1:{}", p.port);
    let dead = format!("http://127.0.0.1:{}", dead_port());
    // The setting wins over the environment's proxy (dead here).
    let (code, v, text) = run(e
        .cmd(&["ping", "-o", "json"])
        .env("HTTPS_PROXY", &dead)
        .env("O365_PROXY", with(PASSWORD)));
    assert_eq!(code, 0, "{text}");
    assert_eq!(v["json_result"]["proxy"]["from"], "proxy setting", "{v}");
    assert!(
        eventually(&p, emu_port),
        "the proxy saw no tunnel to the emulator"
    );
    assert!(!text.contains(PASSWORD), "{text}");
    // A wrong password: the proxy refuses the tunnel.
    let (code, _, text) = run(e
        .cmd(&["ping", "-o", "json"])
        .env("O365_PROXY", with("wrong-password")));
    assert_eq!(code, 3, "{text}");
    assert!(!text.contains("wrong-password"), "{text}");
    // `config show` names it, without the password.
    let (code, _, text) = run(e
        .cmd(&["config", "show", "-o", "json"])
        .env("O365_PROXY", with(PASSWORD)));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("127.0.0.1:{}", p.port)), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    // A proxy the client cannot use is refused before any request, without its password.
    let before = e.requests();
    let (code, _, text) = run(e.cmd(&["ping", "-o", "json"]).env(
        "O365_PROXY",
        format!("socks5://alice:{PASSWORD}@127.0.0.1:1"),
    ));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("proxy") && !text.contains(PASSWORD), "{text}");
    assert_eq!(e.requests(), before);
}
