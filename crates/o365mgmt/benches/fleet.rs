//! The service with many tenants: 50 tenants × 5 content types × 20 blobs × 100 events (500,000
//! events of ~1 KB) through `o365mgmt serve`, into Apache Kafka (one KRaft node)
//! and into SQLite. Reports the service process's CPU seconds per million events and peak RSS,
//! the wall time until every tenant finished its first pass, and each tenant's request rate
//! against the service's per-tenant budget (the emulator enforces 2,000 a minute: any answer
//! throttled would show).
//!
//! Run: `cargo bench -p o365mgmt --bench fleet`. The broker is a node of the bench's own, started
//! as the tests start theirs (Apache Kafka from the jars in `O365_TEST_KAFKA_LIBS`, as `.ci/run`
//! sets it, else resolved once by Maven into the target directory, `tests/kafka/pom.xml`; it needs
//! a Java runtime), but with Kafka's default delay before a new group's first rebalance.
#![allow(missing_docs, clippy::print_stdout)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use o365_emulator::{Emulator, EmulatorConfig};

// The tests' broker (Apache Kafka) and the Python with the client that reads it.
#[allow(dead_code)]
#[path = "../tests/it/kafka.rs"]
mod kafka;
#[allow(dead_code)]
#[path = "../tests/it/python.rs"]
mod python;
use serde_json::Value;

const TENANTS: usize = 50;
const BLOBS: u64 = 20;
const BLOB_SECS: u64 = 300;

fn get(url: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match reqwest::get(url).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    })
}

/// CPU seconds and peak RSS (MB) of a process (Linux `/proc`).
fn usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rfind(')').map(|i| &stat[i + 2..]).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks / 100.0, status_mb(pid, &["VmHWM:"])[0])
}

/// Fields of a process's `/proc/PID/status` given in kB, in MB (0 when absent).
fn status_mb<const N: usize>(pid: u32, keys: &[&str; N]) -> [f64; N] {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    keys.map(|key| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    })
}

fn config(emu: &Emulator, dir: &Path) -> PathBuf {
    let i = emu.info();
    let mut t = format!(
        "state = \"{}\"\napi_root = \"{}\"\nlogin_endpoint = \"{}\"\n",
        dir.join("state.sqlite").display(),
        i.api_root,
        i.login_endpoint
    );
    for (k, tenant) in i.tenants.iter().enumerate() {
        t.push_str(&format!(
            "\n[[tenants]]\nname = \"t{k}\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n",
            tenant.id, i.client_id, i.client_secret
        ));
    }
    let p = dir.join("tenants.toml");
    std::fs::write(&p, t).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    p
}

struct Run {
    events: f64,
    wall: f64,
    /// CPU seconds of every instance.
    cpu: f64,
    /// The largest peak RSS of one instance.
    rss: f64,
    max_requests: f64,
    max_rate: f64,
    throttled: f64,
    /// Commits of every instance's sink (Kafka: transactions).
    commits: f64,
}

/// Sum of a labelled series over tenants, and its largest value.
fn series(metrics: &str, name: &str) -> (f64, f64) {
    let vals: Vec<f64> = metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{tenant=")))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (vals.iter().sum(), vals.iter().cloned().fold(0.0, f64::max))
}

/// A `serve` process and its URL.
struct Instance {
    child: std::process::Child,
    url: String,
}

/// Start `serve` (`instance` names it in a Kafka fleet).
fn start(config: &Path, dir: &Path, sink: &str, since: &str, instance: Option<&str>) -> Instance {
    // `O365_BENCH_BIN=target/profiling/o365mgmt` measures (or profiles) another build.
    let bin =
        std::env::var("O365_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_o365mgmt").into());
    let mut cmd = Command::new(bin);
    cmd.arg("--config").arg(config).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--since",
        since,
        "--sink",
        sink,
    ]);
    if let Some(i) = instance {
        cmd.args(["--instance-id", i]);
    }
    let mut child = cmd
        // `O365_BENCH_ARGS="--max-in-flight 256"` tries other settings.
        .args(
            std::env::var("O365_BENCH_ARGS")
                .unwrap_or_default()
                .split_whitespace(),
        )
        .env(
            "O365_LOG",
            std::env::var("O365_BENCH_LOG").unwrap_or("error".into()),
        )
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(
            std::env::var("O365_BENCH_LOG")
                .map(|_| Stdio::inherit())
                .unwrap_or(Stdio::null()),
        )
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = serde_json::from_str::<Value>(&line).unwrap()["listen"]
        .as_str()
        .unwrap()
        .to_string();
    Instance { child, url }
}

/// The tenants of every instance's /readyz, each with its status.
fn tenants(instances: &[Instance]) -> Vec<Value> {
    instances
        .iter()
        .flat_map(|i| {
            let v: Value =
                serde_json::from_str(&get(&format!("{}/readyz", i.url))).unwrap_or(Value::Null);
            v["tenants"].as_array().cloned().unwrap_or_default()
        })
        .collect()
}

/// Run `n` instances (Kafka: a fleet; `n = 1` otherwise) until every tenant finished its first
/// pass on the instance that holds it.
fn serve(config: &Path, dir: &Path, sink: &str, since: &str, n: usize) -> Run {
    let t0 = Instant::now();
    let names: Vec<String> = (1..=n).map(|k| format!("i{k}")).collect();
    let instances: Vec<Instance> = if sink.starts_with("kafka:") {
        names
            .iter()
            .map(|i| start(config, dir, sink, since, Some(i)))
            .collect()
    } else {
        vec![start(config, dir, sink, since, None)]
    };
    let statuses = loop {
        let all = tenants(&instances);
        if all.len() == TENANTS && all.iter().all(|t| t["passes"].as_u64().unwrap_or(0) >= 1) {
            break all;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(900),
            "no first pass of every tenant in 15 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let wall = t0.elapsed().as_secs_f64();
    let mut run = Run {
        events: 0.0,
        wall,
        cpu: 0.0,
        rss: 0.0,
        max_requests: 0.0,
        max_rate: 0.0,
        throttled: 0.0,
        commits: 0.0,
    };
    for (k, mut i) in instances.into_iter().enumerate() {
        let (cpu, rss) = usage(i.child.id());
        // Resident now: anonymous, and of mapped files.
        let [anon, file] = status_mb(i.child.id(), &["RssAnon:", "RssFile:"]);
        println!("  instance {k}: peak RSS {rss:.0} MB; at the end {anon:.0} MB anonymous, {file:.0} MB of files (the binary's pages)");
        run.cpu += cpu;
        run.rss = run.rss.max(rss);
        let m = get(&format!("{}/metrics", i.url));
        let total = |name: &str| {
            m.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // The events of the blobs this instance committed, whichever tenants it held then (a
        // tenant's own series leave with it when it moves to another instance).
        let (_, max_requests) = series(&m, "o365_collect_api_requests_total");
        let (throttled, _) = series(&m, "o365_collect_throttled_total");
        run.events += total("o365_sink_events_total");
        run.max_requests = run.max_requests.max(max_requests);
        run.throttled += throttled;
        run.commits += total("o365_sink_commits_total");
        Command::new("kill")
            .args(["-TERM", &i.child.id().to_string()])
            .status()
            .unwrap();
        let _ = i.child.wait();
    }
    // A tenant's rate: its requests over its pass, never over less than a minute.
    let longest = statuses
        .iter()
        .filter_map(|t| t["last_pass_seconds"].as_f64())
        .fold(0.0, f64::max)
        .max(60.0);
    run.max_rate = run.max_requests / (longest / 60.0);
    run
}

/// Three instances into Kafka; `kill -9` of one once the group settled and the fleet has
/// written a third of the events; the time until a tenant it held finished a pass (and so
/// committed) on another instance.
fn failover(config: &Path, dir: &Path, sink: &str, since: &str) -> (f64, f64) {
    let instances: Vec<Instance> = ["i1", "i2", "i3"]
        .iter()
        .map(|i| start(config, dir, sink, since, Some(i)))
        .collect();
    let t0 = Instant::now();
    // The group settled first: every instance holds tenants (a fast run may write a third of
    // the events while the last one is still joining, and a victim that held nothing moves
    // nothing).
    while !instances.iter().all(|i| {
        let v: Value =
            serde_json::from_str(&get(&format!("{}/readyz", i.url))).unwrap_or(Value::Null);
        v["fleet"]["tenants"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    }) {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the group never gave every instance tenants"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let total = (TENANTS as f64) * 5.0 * (BLOBS as f64) * 100.0;
    let held_by = |i: &Instance| -> Vec<String> {
        let v: Value =
            serde_json::from_str(&get(&format!("{}/readyz", i.url))).unwrap_or(Value::Null);
        v["fleet"]["tenants"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    loop {
        let written: f64 = instances
            .iter()
            .map(|i| {
                series(
                    &get(&format!("{}/metrics", i.url)),
                    "o365_collect_events_total",
                )
                .0
            })
            .sum();
        if written >= total / 3.0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "the fleet wrote too little"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut instances = instances;
    let mut victim = instances.remove(2);
    let moved = held_by(&victim);
    assert!(!moved.is_empty(), "the victim held no tenant");
    victim.child.kill().unwrap();
    let _ = victim.child.wait();
    let killed = Instant::now();
    // The first commit of a moved tenant elsewhere: its events counted by a survivor.
    let mut moved_at = None;
    let committed = loop {
        let mut hit = false;
        for i in &instances {
            let held = held_by(i);
            if moved_at.is_none() && moved.iter().any(|t| held.contains(t)) {
                moved_at = Some(killed.elapsed().as_secs_f64());
            }
            // A pass of a moved tenant finished here: its cursors (and whatever events were
            // left) committed by the new instance.
            let v: Value =
                serde_json::from_str(&get(&format!("{}/readyz", i.url))).unwrap_or(Value::Null);
            hit |= v["tenants"].as_array().is_some_and(|ts| {
                ts.iter().any(|t| {
                    t["name"]
                        .as_str()
                        .is_some_and(|n| moved.iter().any(|m| m == n))
                        && t["passes"].as_u64().unwrap_or(0) >= 1
                })
            });
        }
        if hit {
            break killed.elapsed().as_secs_f64();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(300),
            "no moved tenant committed in 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for mut i in instances {
        Command::new("kill")
            .args(["-TERM", &i.child.id().to_string()])
            .status()
            .unwrap();
        let _ = i.child.wait();
    }
    (moved_at.unwrap_or(committed), committed)
}

/// librdkafka alone, side by side: the sink's records (events of the emulator, a key and four
/// headers each) in as many transactions as the one-instance run made, through confluent-kafka.
fn floor(emu: &Emulator, kafka: &kafka::Broker, commits: f64) {
    let records = TENANTS * 5 * BLOBS as usize * 100;
    // Events as the emulator serves them: one blob's worth, cycled.
    let i = emu.info();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = &i.tenants[0];
    let client = o365_api::Client::builder(
        t.id.clone(),
        i.client_id.clone(),
        o365_api::Credentials::secret(i.client_secret.clone()),
    )
    .api_root(&i.api_root)
    .login_endpoint(&i.login_endpoint)
    .build()
    .unwrap();
    let lines: Vec<String> = rt.block_on(async {
        use futures::TryStreamExt as _;
        let now = client.server_now();
        let w = o365_api::window::plan(now - chrono::Duration::hours(1), now, now).windows;
        let mut out = vec![];
        for w in w {
            let mut pages = std::pin::pin!(client.list_content(o365_api::ContentType::General, w));
            while let Some(page) = pages.try_next().await.unwrap() {
                if let Some(b) = page.first() {
                    for e in client.fetch_blob(&b.content_uri).await.unwrap() {
                        out.push(e.raw.get().to_string());
                    }
                    return out;
                }
            }
        }
        out
    });
    assert!(!lines.is_empty(), "no event to cycle");
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, lines.join("\n")).unwrap();
    let per_tx = ((records as f64) / commits).ceil() as usize;
    let o = Command::new(python::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/kafka_floor.py"
        ))
        .args([
            kafka.addr.as_str(),
            &kafka.topic("floor"),
            events.to_str().unwrap(),
            &records.to_string(),
            &per_tx.to_string(),
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("kafka_floor.py: {}", String::from_utf8_lossy(&o.stderr)));
    println!(
        "librdkafka alone (confluent-kafka, the same records, {per_tx} per transaction): {:.2} CPU-s per million records",
        v["cpu_s_per_million"].as_f64().unwrap_or(f64::NAN)
    );
    let (with, without) = (
        native_floor(kafka, &lines, records, per_tx, true),
        native_floor(kafka, &lines, records, per_tx, false),
    );
    println!(
        "librdkafka alone (from Rust, no Python: the same records, {per_tx} per transaction, in waves of one batch as the sink sends): {with:.2} CPU-s per million records; {without:.2} without the four headers"
    );
}

/// librdkafka alone, driven from Rust as the sink drives it but with nothing of ours around it:
/// the same records (a key, four headers unless `headers` is false, the event's bytes) in
/// transactions of `per_tx`, sent in waves of one batch, flushed then committed. CPU-s per million records of this process
/// while it runs (the emulator in it idles meanwhile).
fn native_floor(
    kafka: &kafka::Broker,
    lines: &[String],
    records: usize,
    per_tx: usize,
    headers: bool,
) -> f64 {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
    let topic = kafka.topic(if headers { "floor-rs" } else { "floor-rs-bare" });
    let p: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &kafka.addr)
        .set("enable.idempotence", "true")
        .set("transactional.id", format!("floor-{topic}"))
        // As the sink sends: in waves of at most one batch, each flushed before the next (a
        // wave leaves when flushed), so that librdkafka's broker thread never spins waiting
        // for its one request in flight (see the sink's `wave.rs`).
        .set("linger.ms", "1000")
        .set("delivery.report.only.error", "true")
        .create()
        .unwrap();
    // Wait for every record's acknowledgement in librdkafka, as the sink does (the wrapper's
    // flush waits in slices of 100 ms when only failures are reported).
    #[allow(unsafe_code)]
    let flush = |p: &BaseProducer| {
        // SAFETY: the handle of a producer alive for the whole call.
        let err = unsafe { rdkafka::bindings::rd_kafka_flush(p.client().native_ptr(), 60_000) };
        assert_eq!(
            err,
            rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR
        );
    };
    let mut wave = 0usize;
    let wait = std::time::Duration::from_secs(60);
    p.init_transactions(wait).unwrap();
    let t0 = usage(std::process::id()).0;
    for start in (0..records).step_by(per_tx.max(1)) {
        p.begin_transaction().unwrap();
        for i in start..(start + per_tx).min(records) {
            let key = format!("t/{i}");
            let mut rec = BaseRecord::to(&topic)
                .key(&key)
                .payload(lines[i % lines.len()].as_bytes());
            if headers {
                rec = rec.headers(
                    OwnedHeaders::new_with_capacity(4)
                        .insert(Header {
                            key: "tenant",
                            value: Some("7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80"),
                        })
                        .insert(Header {
                            key: "content_type",
                            value: Some("Audit.General"),
                        })
                        .insert(Header {
                            key: "content_id",
                            value: Some(
                                "20261201100000000000000000000000000000000000000$20261201100500",
                            ),
                        })
                        .insert(Header {
                            key: "creation_time",
                            value: Some("2026-12-01T10:00:00"),
                        }),
                );
            }
            let size =
                key.len() + lines[i % lines.len()].len() + if headers { 200 } else { 0 } + 64;
            if wave > 0 && wave + size > 900_000 {
                flush(&p);
                wave = 0;
            }
            wave += size;
            loop {
                match p.send(rec) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        p.poll(std::time::Duration::from_millis(10));
                        rec = r;
                    }
                    Err((e, _)) => panic!("produce: {e}"),
                }
            }
        }
        flush(&p);
        wave = 0;
        p.commit_transaction(wait).unwrap();
    }
    let cpu = usage(std::process::id()).0 - t0;
    cpu / (records as f64 / 1e6)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let hours = (BLOBS * BLOB_SECS) as f64 / 3600.0 + 0.02;
    let mut cfg = EmulatorConfig::default().with_tenants(TENANTS, hours);
    cfg.data.blob_interval_secs = BLOB_SECS;
    cfg.data.events_per_blob = 100;
    cfg.data.event_size = 1024;
    cfg.data.late_rate = 0.0;
    cfg.data.blob_cache_mib = 1024;
    let emu = rt.block_on(Emulator::start(cfg)).unwrap();
    let since = (chrono::Utc::now() - chrono::Duration::seconds((BLOBS * BLOB_SECS) as i64))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    println!("o365mgmt serve benchmark: {TENANTS} tenants × 5 content types × {BLOBS} blobs × 100 events (~1 KB), default per-tenant budget (2,000 requests/minute, enforced by the emulator), emulator in this process");
    // A first pass into the null sink fills the emulator's blob cache: every measured pass sees
    // the same server.
    let warm = tempfile::tempdir().unwrap();
    serve(&config(&emu, warm.path()), warm.path(), "null", &since, 1);
    // A node of the bench's own, with Kafka's default delay before a new group's first
    // rebalance (3 s; the tests' node has none): instances started together join one
    // generation, as a fleet does on a broker as shipped, instead of the first taking every
    // tenant and handing most of them on a second later.
    // `O365_BENCH_GROUP_DELAY_MS=0` measures with the tests' setting.
    let delay = std::env::var("O365_BENCH_GROUP_DELAY_MS").unwrap_or("3000".into());
    let kafka = kafka::Broker::own_with(&format!("group.initial.rebalance.delay.ms={delay}"));
    // `O365_BENCH_FLOOR=COMMITS` measures only librdkafka alone (as many transactions).
    if let Ok(commits) = std::env::var("O365_BENCH_FLOOR") {
        floor(
            &emu,
            &kafka,
            commits.parse().expect("O365_BENCH_FLOOR=COMMITS"),
        );
        return;
    }
    // `O365_BENCH_KAFKA="partitions=12&compression.type=lz4"` adds options to the Kafka sink.
    let extra = std::env::var("O365_BENCH_KAFKA")
        .map(|o| format!("&{o}"))
        .unwrap_or_default();
    let mut sinks: Vec<(String, String, usize)> = vec![
        ("kafka".into(), kafka.sink("audit") + &extra, 1),
        ("kafka".into(), kafka.sink("audit3") + &extra, 3),
        ("sqlite".into(), "sqlite:events.sqlite".into(), 1),
        ("null".into(), "null".into(), 1),
    ];
    // `O365_BENCH_SINKS=kafka,null` measures only those.
    if let Ok(only) = std::env::var("O365_BENCH_SINKS") {
        sinks.retain(|(name, _, _)| only.split(',').any(|o| o.trim() == name));
    }
    // `O365_BENCH_QUICK=1` measures one instance per sink only: no fleet of three, no floor,
    // no failover (for side-by-side runs of two builds).
    let quick = std::env::var("O365_BENCH_QUICK").is_ok_and(|q| q == "1");
    if quick {
        sinks.retain(|(_, _, n)| *n == 1);
    }
    println!(
        "{:<7} {:>9} {:>9} {:>9} {:>12} {:>14} {:>12} {:>14} {:>16} {:>10} {:>8}",
        "sink",
        "instances",
        "events",
        "wall",
        "CPU-s/M ev",
        "peak RSS/inst",
        "broker CPU-s",
        "max req/tenant",
        "max req/min/tnt",
        "throttled",
        "commits"
    );
    let mut kafka_commits = 0.0;
    for (name, sink, n) in sinks {
        let dir = tempfile::tempdir().unwrap();
        let broker_before = usage(kafka.pid()).0;
        let r = serve(&config(&emu, dir.path()), dir.path(), &sink, &since, n);
        let broker = usage(kafka.pid()).0 - broker_before;
        if name == "kafka" && n == 1 {
            kafka_commits = r.commits;
        }
        println!(
            "{name:<7} {n:>9} {:>9.0} {:>8.1}s {:>12.2} {:>12.0}MB {:>12.1} {:>14.0} {:>16.0} {:>10.0} {:>8.0}",
            r.events,
            r.wall,
            r.cpu / (r.events / 1e6),
            r.rss,
            if name == "kafka" { broker } else { 0.0 },
            r.max_requests,
            r.max_rate,
            r.throttled,
            r.commits
        );
    }
    if quick || std::env::var("O365_BENCH_SINKS").is_ok_and(|o| !o.contains("kafka")) {
        return;
    }
    floor(&emu, &kafka, kafka_commits.max(1.0));
    let dir = tempfile::tempdir().unwrap();
    let (moved, committed) = failover(
        &config(&emu, dir.path()),
        dir.path(),
        &kafka.sink("failover"),
        &since,
    );
    println!("kill -9 of one of three instances: its tenants moved after {moved:.1} s, the first of them committed again after {committed:.1} s (session timeout 10 s)");
    drop(kafka);
}
