//! End-to-end process time of `o365mgmt ping` and of starting all five content types, against the
//! emulator on loopback. Run: `cargo bench -p o365mgmt --bench e2e` (target: ≤ 25 ms median each).
#![allow(missing_docs, clippy::print_stdout)]

use std::process::Command;
use std::time::{Duration, Instant};

use o365_api::{Client, ContentType, Credentials};
use o365_emulator::{Emulator, EmulatorConfig};

const RUNS: usize = 40;

/// CPU time of waited-for children (user + system), from /proc/self/stat.
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the command: state is index 0, so cutime/cstime (16/17 in proc(5)) are 13/14.
    let ticks: u64 = f.get(13)?.parse::<u64>().ok()? + f.get(14)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn stats(name: &str, mut times: Vec<Duration>, cpu: Option<Duration>, requests: f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(times[times.len() / 2]);
    println!(
        "{name:<32} median {median:6.1} ms  p90 {:6.1} ms  min {:6.1} ms  cpu/run {}  requests/run {requests:.1}  target <= 25 ms: {}",
        ms(times[times.len() * 9 / 10]),
        ms(times[0]),
        cpu.map(|c| format!("{:5.1} ms", ms(c) / times.len() as f64)).unwrap_or_else(|| "n/a".into()),
        if median <= 25.0 { "met" } else { "MISSED" }
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig::default()))
        .unwrap();
    let info = emu.info();
    let home = tempfile::tempdir().unwrap();
    let cmd = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_o365mgmt"));
        c.args(args)
            .env("O365_API_ROOT", &info.api_root)
            .env("O365_LOGIN_ENDPOINT", &info.login_endpoint)
            .env("O365_TENANT_ID", &info.tenant_id)
            .env("O365_CLIENT_ID", &info.client_id)
            .env("O365_CLIENT_SECRET", &info.client_secret)
            .env("O365_STATE", home.path().join("state.sqlite"))
            .current_dir(home.path())
            .stdout(std::process::Stdio::null());
        c
    };
    let counters = || -> u64 {
        rt.block_on(async {
            let v: serde_json::Value = reqwest::get(format!("{}/counters", info.control_root))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["total"].as_u64().unwrap()
        })
    };
    let client = Client::builder(
        &info.tenant_id,
        &info.client_id,
        Credentials::secret(info.client_secret.clone()),
    )
    .api_root(&info.api_root)
    .login_endpoint(&info.login_endpoint)
    .build()
    .unwrap();
    for _ in 0..3 {
        assert!(cmd(&["ping"]).status().unwrap().success());
    }
    println!("o365mgmt end-to-end process time ({RUNS} runs each, emulator on loopback, state in SQLite)");

    let (r0, c0) = (counters(), children_cpu());
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let st = cmd(&["ping"]).status().unwrap();
        times.push(t.elapsed());
        assert!(st.success());
    }
    let cpu = c0.zip(children_cpu()).map(|(a, b)| b - a);
    stats(
        "o365mgmt ping",
        times,
        cpu,
        (counters() - r0) as f64 / RUNS as f64,
    );

    let mut times = Vec::with_capacity(RUNS);
    let mut cpu = Duration::ZERO;
    let mut requests = 0;
    for _ in 0..RUNS {
        rt.block_on(async {
            for ct in ContentType::ALL {
                let _ = client.stop_subscription(ct).await;
            }
        });
        let (r0, c0) = (counters(), children_cpu());
        let t = Instant::now();
        let st = cmd(&["start-subscription", "--all"]).status().unwrap();
        times.push(t.elapsed());
        assert_eq!(st.code(), Some(0));
        requests += counters() - r0;
        if let (Some(a), Some(b)) = (c0, children_cpu()) {
            cpu += b - a;
        }
    }
    stats(
        "o365mgmt start-subscription --all",
        times,
        Some(cpu),
        requests as f64 / RUNS as f64,
    );
}
