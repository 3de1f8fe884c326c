//! A real Kafka-protocol broker for the tests (tansu, from PyPI), and a real client reading it
//! (confluent-kafka, librdkafka).

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::python::{python, tansu};

/// Where the broker's log goes: appended to the file `O365_TEST_BROKER_LOG` names (with
/// `RUST_LOG` for its level), else nowhere.
fn broker_log() -> Stdio {
    std::env::var_os("O365_TEST_BROKER_LOG")
        .and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        })
        .map_or_else(Stdio::null, Stdio::from)
}

/// A broker on 127.0.0.1, in memory; killed when dropped.
pub struct Broker {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Broker {
    /// Start one and wait until it accepts connections.
    pub fn start() -> Broker {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(broker_log())
            .stderr(broker_log())
            .spawn()
            .expect("tansu starts");
        let addr = format!("127.0.0.1:{port}");
        let t0 = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "tansu did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child, addr }
    }

    /// The sink spec for `topic`.
    pub fn sink(&self, topic: &str) -> String {
        format!("kafka://{}/{topic}", self.addr)
    }

    /// Freeze (SIGSTOP) or thaw (SIGCONT) the broker.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Every record of `topic` (read_committed): event ids by tenant, duplicates kept.
    pub fn read(&self, topic: &str) -> Read {
        let out = Command::new(python())
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka_read.py"))
            .args([&self.addr, topic])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kafka_read.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["bad"],
            serde_json::json!([]),
            "records without tenant/id key or header"
        );
        let by_tenant = v["by_tenant"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(t, ids)| {
                let ids = ids
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_string())
                    .collect();
                (t.clone(), ids)
            })
            .collect();
        Read {
            records: v["records"].as_u64().unwrap(),
            by_tenant,
        }
    }
}

impl Broker {
    /// The ticket ids of the alerts in `topic`, in the order read, duplicates kept.
    pub fn read_alerts(&self, topic: &str) -> Vec<String> {
        let out = Command::new(python())
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka_read.py"))
            .args([&self.addr, topic, "--alerts"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kafka_read.py --alerts: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["bad"],
            serde_json::json!([]),
            "records without their ticket id as key or the offset header"
        );
        v["ticket_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect()
    }

    /// Write `events` of `tenant` outside any transaction (what a killed transaction leaves
    /// visible on a broker that does not hide aborted data), read back like the sink's.
    pub fn produce_stray(&self, topic: &str, tenant: &str, events: &[serde_json::Value]) {
        use std::io::Write as _;
        let mut child = Command::new(python())
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka_stray.py"))
            .args([&self.addr, topic, tenant])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for e in events {
            writeln!(stdin, "{e}").unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kafka_stray.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a consumer read.
pub struct Read {
    /// Records in all.
    pub records: u64,
    /// Event ids by tenant, in the order read, duplicates kept.
    pub by_tenant: BTreeMap<String, Vec<String>>,
}
