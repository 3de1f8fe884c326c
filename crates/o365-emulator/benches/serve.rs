//! Serving speed of the emulator over loopback: blobs/s and events/s, and the emulator's own CPU.
//!
//! `cargo bench -p o365-emulator --bench serve [-- BLOBS CONCURRENCY]`
//!
//! The emulator runs on its own thread with a single-threaded runtime, so it can use at most one
//! core; its CPU time is read from that thread's /proc entry. The client runs on other threads.
#![allow(missing_docs, clippy::print_stdout)]

use std::sync::mpsc;
use std::time::Instant;

use futures::StreamExt as _;
use o365_emulator::{Emulator, EmulatorConfig};

/// CPU seconds used by the calling thread (Linux), or 0 elsewhere.
fn thread_cpu() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return 0.0;
    };
    // Fields after the ")" of the command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let conc: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(16);

    let mut cfg = EmulatorConfig::default();
    cfg.throttle.requests_per_minute = 0;
    cfg.data.blob_interval_secs = 60;
    cfg.data.events_per_blob = 100;
    cfg.data.event_size = 1024;
    cfg.data.late_rate = 0.0;
    cfg.data.duplicate_rate = 0.0;
    cfg.api.page_size = 1000;
    cfg.data.blob_cache_mib = 1024;
    cfg.tenants[0].subscriptions = vec![o365_emulator::config::PresetSubscription {
        content_type: "Audit.General".into(),
        enabled_hours_ago: 160.0,
    }];

    // The emulator thread: one core at most; reports its CPU time on request.
    let (info_tx, info_rx) = mpsc::channel();
    let (cpu_req_tx, cpu_req_rx) = tokio::sync::mpsc::unbounded_channel::<mpsc::Sender<f64>>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let emu = Emulator::start(cfg).await.unwrap();
            info_tx.send(emu.info()).unwrap();
            let mut rx = cpu_req_rx;
            while let Some(reply) = rx.recv().await {
                let _ = reply.send(thread_cpu());
            }
            emu.shutdown().await;
        });
    });
    let info = info_rx.recv().unwrap();
    let emu_cpu = || {
        let (tx, rx) = mpsc::channel();
        cpu_req_tx.send(tx).unwrap();
        rx.recv().unwrap()
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let tok: serde_json::Value = http
            .post(format!("{}/{}/oauth2/v2.0/token", info.login_endpoint, info.tenant_id))
            .form(&[
                ("client_id", info.client_id.as_str()),
                ("client_secret", info.client_secret.as_str()),
                ("scope", &format!("{}/.default", info.api_root)),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tok = tok["access_token"].as_str().unwrap().to_string();
        let feed = format!("{}/api/v1.0/{}/activity/feed", info.api_root, info.tenant_id);
        // Collect blob URIs from day-long windows going back.
        let now = chrono::Utc::now();
        let mut uris = Vec::new();
        let mut day = 0;
        while uris.len() < want && day < 6 {
            let end = now - chrono::Duration::days(day);
            let start = end - chrono::Duration::days(1);
            let mut url = format!(
                "{feed}/subscriptions/content?contentType=Audit.General&startTime={}&endTime={}",
                start.format("%Y-%m-%dT%H:%M:%S"),
                end.format("%Y-%m-%dT%H:%M:%S")
            );
            loop {
                let r = http.get(&url).bearer_auth(&tok).send().await.unwrap();
                let next = r.headers().get("NextPageUri").map(|v| v.to_str().unwrap().to_string());
                let items: Vec<serde_json::Value> = r.json().await.unwrap();
                uris.extend(items.iter().map(|i| i["contentUri"].as_str().unwrap().to_string()));
                match next {
                    Some(n) => url = n,
                    None => break,
                }
            }
            day += 1;
        }
        uris.truncate(want);
        println!("emulator serve benchmark: {} blobs x 100 events (~1 KB each), {conc} concurrent requests", uris.len());
        for pass in ["cold (generate + serialise)", "warm (pre-serialised)"] {
            let cpu0 = emu_cpu();
            let t = Instant::now();
            let results: Vec<(usize, usize)> = futures::stream::iter(uris.iter().cloned())
                .map(|u| {
                    let http = http.clone();
                    let tok = tok.clone();
                    async move {
                        let b = http.get(&u).bearer_auth(&tok).send().await.unwrap().bytes().await.unwrap();
                        // Count events by their "Id" keys without a full parse.
                        let n = memchr_count(&b, b"\"Id\":\"");
                        (b.len(), n)
                    }
                })
                .buffer_unordered(conc)
                .collect()
                .await;
            let wall = t.elapsed().as_secs_f64();
            let cpu = emu_cpu() - cpu0;
            let bytes: usize = results.iter().map(|r| r.0).sum();
            let events: usize = results.iter().map(|r| r.1).sum();
            println!(
                "  {pass:<28} {:>8.0} blobs/s {:>9.0} events/s {:>7.1} MB/s | emulator CPU {:.2} s for {:.2} s wall = {:.2} cores, {:.2} CPU-s per million events",
                results.len() as f64 / wall,
                events as f64 / wall,
                bytes as f64 / wall / 1e6,
                cpu,
                wall,
                cpu / wall,
                cpu / (events as f64 / 1e6)
            );
        }
    });
}

fn memchr_count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}
