//! Collector throughput, CPU and memory against the emulator, per sink.
//!
//! Run: `cargo bench -p o365mgmt --bench collect` (500,000 events: 5 content types × 1,000 blobs ×
//! 100 events of ~1 KB, into null, JSONL and SQLite), and with `-- --large` also 5,000,000 events
//! into SQLite. The collector runs as its own process (the release binary), so its CPU seconds and
//! peak RSS are its own; the emulator serves from this process.
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
}

fn collect(emu: &Emulator, dir: &std::path::Path, sink: &str, since: &str) -> Run {
    let i = emu.info();
    let out = Command::new(env!("CARGO_BIN_EXE_o365mgmt"))
        .args([
            "collect",
            "--since",
            since,
            "--sink",
            sink,
            "--concurrency",
            "16",
        ])
        .args(["--max-requests-per-minute", "1000000", "-o", "json"])
        .env("O365_API_ROOT", &i.api_root)
        .env("O365_LOGIN_ENDPOINT", &i.login_endpoint)
        .env("O365_TENANT_ID", &i.tenant_id)
        .env("O365_CLIENT_ID", &i.client_id)
        .env("O365_CLIENT_SECRET", &i.client_secret)
        .env("O365_STATE", dir.join("state.sqlite"))
        .env("O365_LOG", "error")
        .current_dir(dir)
        .output()
        .unwrap();
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
    }
}

fn print(r: &Run, null_secs: Option<f64>) {
    println!(
        "{:<7} {:>10} {:>8.2} s {:>11.0} ev/s {:>7.2} CPU-s/M ev {:>7.1} MB peak RSS {:>7} requests{}",
        r.sink,
        r.events,
        r.seconds,
        r.events as f64 / r.seconds,
        r.cpu / (r.events as f64 / 1e6),
        r.rss_mb,
        r.requests,
        null_secs.map(|n| format!("  wall {:.2}× null", r.seconds / n)).unwrap_or_default()
    );
}

fn scenario(blobs_per_type: u64, sinks: &[&str]) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emu = emulator(&rt, blobs_per_type);
    let now = rt.block_on(async {
        let v: Value = reqwest::get(format!("{}/clock", emu.info().control_root))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["now_ms"].as_i64().unwrap()
    });
    let since_t =
        chrono::DateTime::from_timestamp_millis(now - (blobs_per_type * BLOB_SECS * 1000) as i64)
            .unwrap();
    let since = since_t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    println!(
        "\n{} content types × ~{blobs_per_type} blobs × 100 events (~1 KB), concurrency 16, emulator in-process on loopback:",
        ContentType::ALL.len()
    );
    // A pass into the null sink first fills the emulator's blob cache, so every measured pass
    // sees the same server.
    let warm = tempfile::tempdir().unwrap();
    collect(&emu, warm.path(), "null", &since);
    let mut null_secs = None;
    for sink in sinks {
        let dir = tempfile::tempdir().unwrap();
        let r = collect(&emu, dir.path(), sink, &since);
        print(&r, null_secs.filter(|_| r.sink != "null"));
        if r.sink == "null" {
            null_secs = Some(r.seconds);
        }
    }
}

fn main() {
    let large = std::env::args().any(|a| a == "--large");
    println!("o365mgmt collect benchmark (figures of the collector process only)");
    scenario(
        1_000,
        &["null", "jsonl:events.jsonl", "sqlite:events.sqlite"],
    );
    if large {
        scenario(10_000, &["null", "sqlite:events.sqlite"]);
    }
}
