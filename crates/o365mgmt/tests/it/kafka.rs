//! Apache Kafka for the tests: one KRaft node (combined broker and controller) in a JVM, from
//! the jars Maven Central serves (`tests/kafka/pom.xml`), and a real client reading it
//! (confluent-kafka, librdkafka).
//!
//! One node is shared by the tests of a run ([`Broker::start`]: each test gets topics and
//! transactional ids of its own); a test that freezes its broker has a node to itself
//! ([`Broker::own`]). A node dies with the test process (its launcher kills the JVM when the
//! process's end closes the pipe it waits on) or when dropped, pass or fail.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::python::python;

/// The Kafka release the tests run (as `tests/kafka/pom.xml` resolves it).
pub const KAFKA_VERSION: &str = "4.4.0";

/// How to get what the broker needs.
const HOW: &str = "install a Java runtime (17 or later) and Maven (Debian: apt-get install openjdk-17-jre-headless maven), or set O365_TEST_KAFKA_LIBS to a folder holding Apache Kafka's jars (as .ci/run does)";

/// The folder of Apache Kafka's jars: `O365_TEST_KAFKA_LIBS` (set by .ci/run), else resolved
/// once by Maven into the target directory.
pub fn kafka_libs() -> &'static Path {
    static LIBS: OnceLock<PathBuf> = OnceLock::new();
    LIBS.get_or_init(|| {
        if let Ok(p) = std::env::var("O365_TEST_KAFKA_LIBS") {
            let p = PathBuf::from(p);
            assert!(
                p.join(format!("kafka_2.13-{KAFKA_VERSION}.jar")).is_file(),
                "O365_TEST_KAFKA_LIBS={} holds no kafka_2.13-{KAFKA_VERSION}.jar: {HOW}",
                p.display()
            );
            return p;
        }
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tmp.parent().unwrap_or(tmp).join("kafka-libs");
        if !dir
            .join(format!("kafka_2.13-{KAFKA_VERSION}.jar"))
            .is_file()
        {
            let pom = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/pom.xml");
            let ok = Command::new("mvn")
                .args(["-q", "-B", "-f", pom, "dependency:copy-dependencies"])
                .arg(format!("-DoutputDirectory={}", dir.display()))
                .status();
            assert!(
                ok.is_ok_and(|s| s.success()),
                "could not resolve Apache Kafka with Maven: {HOW}"
            );
        }
        dir
    })
}

/// The Java runtime: `java` on the path.
fn java() -> &'static str {
    static OK: OnceLock<()> = OnceLock::new();
    OK.get_or_init(|| {
        let ok = Command::new("java")
            .arg("-version")
            .stderr(Stdio::null())
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "no java: {HOW}");
    });
    "java"
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One Kafka node in a JVM, and the launcher that kills it.
struct Node {
    launcher: Mutex<Child>,
    /// Closed to stop the node: the launcher then kills the JVM and removes its files.
    stdin: Mutex<Option<ChildStdin>>,
    java_pid: u32,
    addr: String,
    /// `127.0.0.1:{port2}`, for a second listener.
    addr2: String,
    dir: PathBuf,
}

/// The node's settings: one KRaft node, everything replicated once, internal topics small,
/// groups formed without delay, timed-out transactions ended within a second.
fn properties(dir: &Path, port: u16, controller: u16) -> String {
    format!(
        "process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
log.dirs={data}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
",
        data = dir.join("data").display(),
    )
}

/// Only the broker's warnings, and the line that says it started.
const LOG4J: &str = "rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
";

impl Node {
    /// Format and start a node (`extra` settings appended: a later line wins; `{port}`,
    /// `{controller}` and `{port2}` in them are the plain listener's, the controller's and a
    /// second free port), and wait until it says it started.
    fn start(extra: &str) -> Node {
        let libs = kafka_libs();
        let java = java();
        let dir = tempfile::Builder::new()
            .prefix("kafka-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let (port, controller, port2) = (free_port(), free_port(), free_port());
        let extra = extra
            .replace("{port}", &port.to_string())
            .replace("{controller}", &controller.to_string())
            .replace("{port2}", &port2.to_string());
        let mut props = properties(&dir, port, controller);
        props.push('\n');
        props.push_str(&extra);
        std::fs::write(dir.join("server.properties"), props).unwrap();
        std::fs::write(dir.join("log4j2.properties"), LOG4J).unwrap();
        let log = std::env::var("O365_TEST_BROKER_LOG")
            .unwrap_or_else(|_| dir.join("broker.log").display().to_string());
        // The launcher: format, start the JVM, say its pid, then wait on standard input; when
        // that closes (dropped, or the test process ended), kill the JVM and remove the files.
        let script = r#"
cp="$LIBS/*"
jvm="-Xmx512m -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true -Dlog4j2.configurationFile=$DIR/log4j2.properties"
"$JAVA" $jvm -cp "$cp" kafka.tools.StorageTool format -t 8ThUvhouQJ6DNXAf4yEC9w -c "$DIR/server.properties" >"$DIR/format.log" 2>&1 || { echo format-failed; exit 1; }
"$JAVA" $jvm -cp "$cp" kafka.Kafka "$DIR/server.properties" >>"$LOG" 2>&1 &
j=$!
echo "$j"
cat >/dev/null
kill -9 "$j" 2>/dev/null
wait "$j" 2>/dev/null
rm -rf "$DIR"
"#;
        let mut launcher = Command::new("sh")
            .args(["-c", script])
            .env("LIBS", libs)
            .env("DIR", &dir)
            .env("LOG", &log)
            .env("JAVA", java)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts");
        let stdin = launcher.stdin.take();
        let mut line = String::new();
        BufReader::new(launcher.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let java_pid: u32 = line.trim().parse().unwrap_or_else(|_| {
            panic!(
                "Kafka's storage could not be formatted: {}",
                std::fs::read_to_string(dir.join("format.log")).unwrap_or_default()
            )
        });
        let node = Node {
            launcher: Mutex::new(launcher),
            stdin: Mutex::new(stdin),
            java_pid,
            addr: format!("127.0.0.1:{port}"),
            addr2: format!("127.0.0.1:{port2}"),
            dir,
        };
        let t0 = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("Kafka Server started") {
                break;
            }
            let exited = node
                .launcher
                .lock()
                .unwrap()
                .try_wait()
                .ok()
                .flatten()
                .is_some();
            assert!(
                !exited && t0.elapsed() < Duration::from_secs(180),
                "Apache Kafka did not start on {} ({HOW}); its log:\n{text}",
                node.addr
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        node
    }

    fn stop(&self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.java_pid.to_string()])
            .status();
        drop(self.stdin.lock().unwrap().take());
        let _ = self.launcher.lock().unwrap().wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The node the tests of this run share; a test that finds it dead says why (the end of its
/// log, and the free disk: a full disk is what killed it before), not only that a command failed.
fn shared() -> Arc<Node> {
    static NODE: OnceLock<Arc<Node>> = OnceLock::new();
    let node = NODE.get_or_init(|| Arc::new(Node::start(""))).clone();
    let alive = Command::new("kill")
        .args(["-0", &node.java_pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !alive {
        let log = std::fs::read_to_string(node.dir.join("broker.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let df = Command::new("df")
            .args(["-h", env!("CARGO_TARGET_TMPDIR")])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        panic!(
            "the shared Apache Kafka node (pid {}) has died; free disk:\n{df}the end of its log:\n{}",
            node.java_pid,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    node
}

/// A test's view of a broker: its topics and transactional ids carry a name of the test's own.
pub struct Broker {
    node: Arc<Node>,
    /// Whether the node is this test's alone (it is stopped when dropped).
    own: bool,
    /// The test's suffix for topics and transactional ids.
    ns: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Broker {
    /// The shared node, with topics and transactional ids of this test's own.
    pub fn start() -> Broker {
        Self::on(shared(), false)
    }

    /// A node of this test's own (for a test that freezes it), stopped when dropped.
    pub fn own() -> Broker {
        Self::on(Arc::new(Node::start("")), true)
    }

    /// A node of this test's own with more settings (`server.properties` lines, see
    /// [`Node::start`]).
    pub fn own_with(extra: &str) -> Broker {
        Self::on(Arc::new(Node::start(extra)), true)
    }

    /// The JVM's process id (the fleet benchmark reports the broker's CPU).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.node.java_pid
    }

    /// The second listener's address (`{port2}` in the settings).
    pub fn addr2(&self) -> &str {
        &self.node.addr2
    }

    fn on(node: Arc<Node>, own: bool) -> Broker {
        static N: AtomicUsize = AtomicUsize::new(0);
        let ns = format!("x{}", N.fetch_add(1, Ordering::Relaxed));
        let addr = node.addr.clone();
        Broker {
            node,
            own,
            ns,
            addr,
        }
    }

    /// The broker's name of the test's `topic`.
    pub fn topic(&self, topic: &str) -> String {
        format!("{topic}-{}", self.ns)
    }

    /// The sink spec for `topic` (then `&option=value` may follow).
    pub fn sink(&self, topic: &str) -> String {
        format!(
            "kafka://{}/{}?transactional_id_prefix=o365mgmt-{}",
            self.addr,
            self.topic(topic),
            self.ns
        )
    }

    /// Run one of Kafka's own command-line tools (`class` with `args`, `--bootstrap-server`
    /// added); its standard output.
    pub fn tool(&self, class: &str, args: &[&str]) -> String {
        let out = Command::new(java())
            .arg("-Xmx256m")
            .arg("-cp")
            .arg(format!("{}/*", kafka_libs().display()))
            .arg(class)
            .args(["--bootstrap-server", &self.addr])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{class} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Freeze (SIGSTOP) or thaw (SIGCONT) the broker (one of the test's own).
    pub fn signal(&self, sig: &str) {
        assert!(
            self.own,
            "signal only a broker of the test's own (Broker::own)"
        );
        let ok = Command::new("kill")
            .args([sig, &self.node.java_pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Run `script` (a file under tests/) with the bootstrap address and `args`; its stdout
    /// as JSON.
    fn python(&self, script: &str, args: &[&str]) -> serde_json::Value {
        let out = Command::new(python())
            .arg(format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR")))
            .arg(&self.addr)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Every record of `topic` (read_committed): event ids by tenant, duplicates kept.
    pub fn read(&self, topic: &str) -> Read {
        let v = self.python("kafka_read.py", &[&self.topic(topic)]);
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

    /// The ticket ids of the alerts in `topic`, in the order read, duplicates kept.
    pub fn read_alerts(&self, topic: &str) -> Vec<String> {
        let v = self.python("kafka_read.py", &[&self.topic(topic), "--alerts"]);
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
            .args([&self.addr, &self.topic(topic), tenant])
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
        if self.own {
            self.node.stop();
        }
    }
}

/// What a consumer read.
pub struct Read {
    /// Records in all.
    pub records: u64,
    /// Event ids by tenant, in the order read, duplicates kept.
    pub by_tenant: BTreeMap<String, Vec<String>>,
}
