//! Collector throughput, CPU and memory against the emulator, per sink.
//!
//! Run: `cargo bench -p o365mgmt --bench collect`. First the production-shaped runs, the emulator
//! a separate process serving HTTPS (`o365mgmt emulator --tls`): against a remote-like server
//! (3 ms per request, ~500-byte events with one delivered again per blob, reached by the real
//! host names through its CONNECT proxy; `-- --remote` runs only these; `O365_BENCH_SERVICE_MS`
//! sets another time per request, `O365_BENCH_CLOSE=1` makes it close each connection after its
//! answer), with context switches per request and, when `strace` is
//! installed (and `O365_BENCH_NO_STRACE` unset), the system calls of one more null run; then against the instant server, 500,000 events of ~1 KB in blobs
//! of 100 and of 2,000 events. Each into null, JSONL and SQLite (or the sinks `O365_BENCH_SINKS`
//! names, e.g. `null,sqlite`) with pacing off, and the first into null with the default pacing
//! (2,000 requests per minute), which gives the CPU spent per second of waiting on the budget.
//! Then the in-process runs (5 content types × 1,000 blobs × 100 events over plain HTTP, pacing
//! off); with `-- --large` also 5,000,000 events into SQLite; `-- --quick` skips the paced run.
//! The collector runs as its own process (the release binary, or `O365_BENCH_BIN`: another build
//! to compare side by side, or a wrapper such as `perf record`), so its CPU seconds and peak RSS
//! are its own.
#![allow(missing_docs, clippy::print_stdout)]

use std::process::Command;

use o365_api::ContentType;
use o365_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

const BLOB_SECS: u64 = 30;

fn emulator(rt: &tokio::runtime::Runtime, blobs_per_type: u64) -> Emulator {
    let hours = (blobs_per_type * BLOB_SECS) as f64 / 3600.0 + 0.05;
    let mut cfg = EmulatorConfig::default().with_all_subscriptions(hours);
    cfg.throttle.requests_per_minute = 100_000_000;
    cfg.data.blob_interval_secs = BLOB_SECS;
    cfg.data.events_per_blob = 100;
    cfg.data.event_size = 1024;
    cfg.data.late_rate = 0.0;
    cfg.data.blob_cache_mib = 1024;
    rt.block_on(Emulator::start(cfg)).unwrap()
}

struct Run {
    sink: String,
    events: u64,
    seconds: f64,
    cpu: f64,
    rss_mb: f64,
    requests: u64,
    /// Context switches of the collector process (voluntary + involuntary, every thread).
    switches: Option<u64>,
}

/// Where the collector finds the service.
struct Target {
    api_root: String,
    login_endpoint: String,
    tenant_id: String,
    client_id: String,
    client_secret: String,
    ca_file: Option<String>,
    /// The CONNECT proxy the collector goes through.
    proxy: Option<String>,
}

impl Target {
    fn of(emu: &Emulator) -> Self {
        let i = emu.info();
        Target {
            api_root: i.api_root,
            login_endpoint: i.login_endpoint,
            tenant_id: i.tenant_id,
            client_id: i.client_id,
            client_secret: i.client_secret,
            ca_file: None,
            proxy: None,
        }
    }
}

/// `o365mgmt emulator --tls` as its own process; killed when dropped.
struct Served {
    child: std::process::Child,
    target: Target,
    control_root: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(cfg: &EmulatorConfig, dir: &std::path::Path) -> Served {
    use std::io::BufRead as _;
    let file = dir.join("emulator.toml");
    std::fs::write(&file, toml::to_string(cfg).unwrap()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_o365mgmt"))
        .args(["emulator", "--tls", "--config"])
        .arg(&file)
        .env("O365_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    Served {
        child,
        target: Target {
            api_root: s("api_root"),
            login_endpoint: s("login_endpoint"),
            tenant_id: s("tenant_id"),
            client_id: s("client_id"),
            client_secret: s("client_secret"),
            ca_file: Some(s("ca_file")),
            proxy: None,
        },
        control_root: s("control_root"),
    }
}

/// The collector measured: `O365_BENCH_BIN` when set (another build, for side-by-side runs, or
/// a wrapper such as `perf record`), else this build's binary. The emulator is always this one.
fn collector() -> String {
    std::env::var("O365_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_o365mgmt").to_string())
}

fn collect(t: &Target, dir: &std::path::Path, sink: &str, since: &str) -> Run {
    collect_paced(t, dir, sink, since, Some("1000000"))
}

/// The arguments and environment of one collection into `sink` from `since`, run in `dir`;
/// `rpm` sets the request budget (`None`: the default pacing).
fn collection(
    c: &mut Command,
    t: &Target,
    dir: &std::path::Path,
    sink: &str,
    since: &str,
    rpm: Option<&str>,
) {
    c.args(["collect", "--since", since, "--sink", sink]).args([
        "--concurrency",
        "16",
        "-o",
        "json",
    ]);
    if let Some(rpm) = rpm {
        c.args(["--max-requests-per-minute", rpm]);
    }
    if let Some(ca) = &t.ca_file {
        c.env("O365_CA_FILE", ca);
    }
    if let Some(proxy) = &t.proxy {
        c.env("O365_PROXY", proxy);
    }
    c.env("O365_API_ROOT", &t.api_root)
        .env("O365_LOGIN_ENDPOINT", &t.login_endpoint)
        .env("O365_TENANT_ID", &t.tenant_id)
        .env("O365_CLIENT_ID", &t.client_id)
        .env("O365_CLIENT_SECRET", &t.client_secret)
        .env("O365_STATE", dir.join("state.sqlite"))
        .env("O365_LOG", "error")
        .current_dir(dir);
}

/// One collection; `rpm` sets the request budget (`None`: the default pacing).
fn collect_paced(
    t: &Target,
    dir: &std::path::Path,
    sink: &str,
    since: &str,
    rpm: Option<&str>,
) -> Run {
    let mut c = Command::new(collector());
    collection(&mut c, t, dir, sink, since, rpm);
    let before = children_switches();
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Run {
        sink: sink.split(':').next().unwrap_or(sink).to_string(),
        events: v["events_written"].as_u64().unwrap() + v["duplicates"].as_u64().unwrap(),
        seconds: v["seconds"].as_f64().unwrap(),
        cpu: v["cpu_seconds"].as_f64().unwrap_or(f64::NAN),
        rss_mb: v["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN) / 1e6,
        requests: v["requests"].as_u64().unwrap(),
        switches: children_switches()
            .zip(before)
            .map(|(after, before)| after - before),
    }
}

/// Context switches of the waited-for children so far (voluntary + involuntary, every thread).
fn children_switches() -> Option<u64> {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct it is given, nothing else.
    #[allow(unsafe_code)]
    let r = unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        (libc::getrusage(libc::RUSAGE_CHILDREN, &mut r) == 0).then_some(r)
    }?;
    Some((r.ru_nvcsw + r.ru_nivcsw) as u64)
}

/// The system calls of one more collection of the same range, counted by `strace -f -c` (a run
/// of its own: tracing slows it): calls per name, or `None` without strace.
fn syscalls(
    t: &Target,
    dir: &std::path::Path,
    sink: &str,
    since: &str,
) -> Option<Vec<(String, u64)>> {
    let out = dir.join("strace.txt");
    let mut c = Command::new("strace");
    c.args(["-f", "-c", "-o"]).arg(&out).arg(collector());
    collection(&mut c, t, dir, sink, since, Some("1000000"));
    let ok = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    // "% time  seconds  usecs/call  calls  [errors]  syscall", a row per call name.
    let text = std::fs::read_to_string(out).ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                let calls = w.get(3)?.parse::<u64>().ok()?;
                let name = w.last()?;
                (w.len() >= 5
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .then(|| (name.to_string(), calls))
            })
            .collect(),
    )
}

fn print(r: &Run, null_secs: Option<f64>) {
    println!(
        "{:<7} {:>10} {:>8.2} s {:>11.0} ev/s {:>7.2} CPU-s/M ev {:>7.1} MB peak RSS {:>7} requests {:>6.0} µs CPU/request {:>5} switches/request{}",
        r.sink,
        r.events,
        r.seconds,
        r.events as f64 / r.seconds,
        r.cpu / (r.events as f64 / 1e6),
        r.rss_mb,
        r.requests,
        r.cpu / r.requests as f64 * 1e6,
        r.switches
            .map(|s| format!("{:.1}", s as f64 / r.requests as f64))
            .unwrap_or_else(|| "n/a".into()),
        null_secs.map(|n| format!("  wall {:.2}× null", r.seconds / n)).unwrap_or_default()
    );
}

/// The service's clock (Unix ms).
fn clock(rt: &tokio::runtime::Runtime, control_root: &str, ca: Option<&str>) -> i64 {
    rt.block_on(async {
        let mut b = reqwest::Client::builder();
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).unwrap();
            b = b.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        let v: Value = b
            .build()
            .unwrap()
            .get(format!("{control_root}/clock"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["now_ms"].as_i64().unwrap()
    })
}

/// The sinks of the production-shaped runs: null, JSONL and SQLite, or those named in
/// `O365_BENCH_SINKS` (e.g. `null,sqlite`); null first, the others' ratios are to it.
fn sinks() -> Vec<&'static str> {
    let all = ["null", "jsonl:events.jsonl", "sqlite:events.sqlite"];
    match std::env::var("O365_BENCH_SINKS") {
        Ok(v) => all
            .into_iter()
            .filter(|s| v.split(',').any(|w| s.starts_with(w.trim())))
            .collect(),
        Err(_) => all.to_vec(),
    }
}

/// The server the production-shaped runs measure against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The emulator answering at once from memory, ~1 KB events, reached directly.
    Instant,
    /// As a remote server: [`remote_service_ms`] per request, ~500-byte events, one event of the
    /// previous blob delivered again in each blob, reached by the service's real host names
    /// through its CONNECT proxy, over TLS.
    Remote,
}

/// The remote-like server's time per request: 3 ms, or `O365_BENCH_SERVICE_MS`.
fn remote_service_ms() -> u64 {
    std::env::var("O365_BENCH_SERVICE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// The production-shaped runs: a separate HTTPS emulator shaped as `shape`, 500,000 events in
/// blobs of `events_per_blob`, every sink with pacing off, and (`paced`) the null sink at the
/// default pacing.
fn production(events_per_blob: u32, paced: bool, shape: Shape) {
    const EVENTS: u64 = 500_000;
    let blobs_per_type = EVENTS / 5 / events_per_blob as u64;
    let hours = (blobs_per_type * BLOB_SECS) as f64 / 3600.0 + 0.05;
    let mut cfg = EmulatorConfig::default().with_all_subscriptions(hours);
    cfg.throttle.requests_per_minute = 100_000_000;
    cfg.data.blob_interval_secs = BLOB_SECS;
    cfg.data.events_per_blob = events_per_blob;
    cfg.data.event_size = 1024;
    cfg.data.late_rate = 0.0;
    cfg.data.blob_cache_mib = 2048;
    if shape == Shape::Remote {
        // ~500-byte events: the records' natural shapes (0.7-1.7 KB) lose their last optional
        // fields.
        cfg.data.event_size = 500;
        cfg.data.trim_events = true;
        cfg.data.duplicate_rate = 1.0;
        cfg.data.duplicate_events = 1;
        cfg.faults.latency_ms = remote_service_ms();
        // `O365_BENCH_CLOSE=1`: a server that closes each connection after its answer.
        cfg.faults.close_connections = std::env::var_os("O365_BENCH_CLOSE").is_some();
    }
    let home = tempfile::tempdir().unwrap();
    let mut server = serve(&cfg, home.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = clock(&rt, &server.control_root, server.target.ca_file.as_deref());
    let since =
        chrono::DateTime::from_timestamp_millis(now - (blobs_per_type * BLOB_SECS * 1000) as i64)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
    match shape {
        Shape::Instant => println!(
            "\nproduction-shaped, instant server: ~{EVENTS} events (~1 KB) in blobs of {events_per_blob}, the emulator a separate process over HTTPS answering at once, concurrency 16:"
        ),
        Shape::Remote => {
            // The real host names, through the emulator's CONNECT proxy (its own port).
            let proxy = server.target.api_root.replace("https://", "http://");
            server.target.api_root = "https://manage.office.com".into();
            server.target.login_endpoint = "https://login.microsoftonline.com".into();
            server.target.proxy = Some(proxy);
            println!(
                "\nproduction-shaped, remote-like server: ~{EVENTS} events (~500 B, one delivered again per blob) in blobs of {events_per_blob}, {} ms per request, the real host names through a CONNECT proxy over TLS, concurrency 16:",
                remote_service_ms()
            );
        }
    }
    let warm = tempfile::tempdir().unwrap();
    collect(&server.target, warm.path(), "null", &since);
    let mut null = None;
    for sink in sinks() {
        let dir = tempfile::tempdir().unwrap();
        let r = collect(&server.target, dir.path(), sink, &since);
        print(
            &r,
            null.as_ref()
                .map(|n: &Run| n.seconds)
                .filter(|_| r.sink != "null"),
        );
        if let (Some(n), false) = (&null, r.sink == "null") {
            println!("        CPU {:.2}× null", r.cpu / n.cpu);
        }
        if r.sink == "null" {
            null = Some(r);
        }
    }
    if shape == Shape::Remote && std::env::var_os("O365_BENCH_NO_STRACE").is_none() {
        let dir = tempfile::tempdir().unwrap();
        match (syscalls(&server.target, dir.path(), "null", &since), &null) {
            (Some(calls), Some(n)) => {
                let per = |names: &[&str]| {
                    calls
                        .iter()
                        .filter(|(c, _)| names.contains(&c.as_str()))
                        .map(|(_, n)| n)
                        .sum::<u64>() as f64
                        / n.requests as f64
                };
                let total =
                    |name: &str| calls.iter().find(|(c, _)| c == name).map_or(0, |(_, n)| *n);
                println!(
                    "        null, under strace: per request {:.1} reads (read/recv*), {:.1} epoll_wait, {:.1} futex, {:.1} writes; in all {} openat, {} statx",
                    per(&["read", "recvfrom", "recvmsg", "readv"]),
                    per(&["epoll_wait", "epoll_pwait", "epoll_pwait2"]),
                    per(&["futex"]),
                    per(&["write", "sendto", "sendmsg", "writev"]),
                    total("openat"),
                    total("statx"),
                );
            }
            _ => println!("        (strace not found: no system-call counts)"),
        }
    }
    if let (true, Some(null)) = (paced, null) {
        let dir = tempfile::tempdir().unwrap();
        let r = collect_paced(&server.target, dir.path(), "null", &since, None);
        print(&r, None);
        let waiting = (r.seconds - null.seconds).max(1e-9);
        println!(
            "        default pacing (2,000 requests/min): {:.0} s waiting cost {:.3} CPU-s beyond the unpaced run: {:.2} % of a core while waiting",
            waiting,
            r.cpu - null.cpu,
            (r.cpu - null.cpu) / waiting * 100.0
        );
    }
}

fn scenario(blobs_per_type: u64, sinks: &[&str]) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emu = emulator(&rt, blobs_per_type);
    let now = clock(&rt, &emu.info().control_root, None);
    let target = Target::of(&emu);
    let since_t =
        chrono::DateTime::from_timestamp_millis(now - (blobs_per_type * BLOB_SECS * 1000) as i64)
            .unwrap();
    let since = since_t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    println!(
        "\nin-process: {} content types × ~{blobs_per_type} blobs × 100 events (~1 KB), concurrency 16, emulator in-process on plain HTTP, pacing off:",
        ContentType::ALL.len()
    );
    // A pass into the null sink first fills the emulator's blob cache, so every measured pass
    // sees the same server.
    let warm = tempfile::tempdir().unwrap();
    collect(&target, warm.path(), "null", &since);
    let mut null_secs = None;
    for sink in sinks {
        let dir = tempfile::tempdir().unwrap();
        let r = collect(&target, dir.path(), sink, &since);
        print(&r, null_secs.filter(|_| r.sink != "null"));
        if r.sink == "null" {
            null_secs = Some(r.seconds);
        }
    }
}

fn main() {
    let large = std::env::args().any(|a| a == "--large");
    let quick = std::env::args().any(|a| a == "--quick");
    let only_production = std::env::args().any(|a| a == "--production");
    let remote_only = std::env::args().any(|a| a == "--remote");
    println!("o365mgmt collect benchmark (figures of the collector process only)");
    production(100, false, Shape::Remote);
    if remote_only {
        return;
    }
    production(100, !quick, Shape::Instant);
    production(2_000, false, Shape::Instant);
    if only_production {
        return;
    }
    scenario(
        1_000,
        &["null", "jsonl:events.jsonl", "sqlite:events.sqlite"],
    );
    if large {
        scenario(10_000, &["null", "sqlite:events.sqlite"]);
    }
}
