//! docs/shipping.md, run as written: its commands write the envelope the pipelines' settings on
//! that page rely on (the fields they read, the time formats they parse, taken from the page),
//! and its Kafka consumers (Kafka's console consumer, confluent-kafka) read each event once.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::cli::Emu;
use crate::kafka::Broker;
use crate::python::python;
use crate::readme::fenced;

/// An emulator whose feeds have been on for a day (as a tenant's are).
fn subscribed() -> Emu {
    let mut cfg = o365_emulator::EmulatorConfig::default().with_all_subscriptions(24.0);
    cfg.throttle.requests_per_minute = 1_000_000;
    // Few blobs (the client keeps to the service's 2,000 requests a minute), thousands of events.
    cfg.data.blob_interval_secs = 1200;
    Emu::with(cfg)
}

fn doc() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/shipping.md"
    ))
    .unwrap()
}

/// The value after `key` (up to the end of its line, trimmed of quotes and brackets) in `text`.
fn setting<'a>(text: &'a str, key: &str) -> &'a str {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in\n{text}"));
    line.trim_start()[key.len()..]
        .trim()
        .trim_matches(|c| matches!(c, '=' | ':' | ' ' | '[' | ']' | '\''))
}

/// The value at the dotted `path` of a line.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

/// Run `script` in bash with the binary on the PATH, configured for `e`.
fn sh(e: &Emu, script: &str) {
    let mut c = Command::new("bash");
    e.configure(&mut c);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_o365mgmt")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = c
        .args(["-c", &format!("set -e\n{script}")])
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The lines of `file`, each a JSON object.
fn lines(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Go's reference-time layout as a strftime format.
fn go_layout(layout: &str) -> String {
    [
        ("2006", "%Y"),
        ("01", "%m"),
        ("02", "%d"),
        ("15", "%H"),
        ("04", "%M"),
        ("05", "%S"),
    ]
    .iter()
    .fold(layout.to_string(), |l, (go, f)| l.replacen(go, f, 1))
}

#[test]
fn the_envelope_carries_what_each_pipeline_reads_as_the_page_configures_it() {
    let e = subscribed();
    let dir = format!("{}/", e.home.path().display());
    let doc = doc();
    sh(
        &e,
        &fenced(&doc, "The envelope: route without parsing the event", "sh")
            .replace("/var/lib/o365mgmt/", &dir),
    );
    let file = lines(&e.home.path().join("audit.jsonl"));
    let piped = lines(&e.home.path().join("piped.jsonl"));
    assert!(file.len() > 1000, "{} lines", file.len());
    let ids = |ls: &[Value]| -> BTreeSet<String> {
        ls.iter()
            .map(|l| l["event"]["Id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&file).len(), file.len(), "an event written twice");
    // The second run began where the first did (fixed in the state) and ended later.
    let (in_file, in_piped) = (ids(&file), ids(&piped));
    assert_eq!(in_piped.len(), piped.len(), "an event written twice");
    let missing = in_file.difference(&in_piped).count();
    // (Each run fixed where it begins in its own sink's checkpoint: the second a few seconds
    // later; what the file has beyond it is older than anything on stdout.)
    let first_piped = piped
        .iter()
        .filter_map(|l| l["content_created"].as_str())
        .min()
        .unwrap();
    let older = file
        .iter()
        .filter(|l| !in_piped.contains(l["event"]["Id"].as_str().unwrap()))
        .filter(|l| l["content_created"].as_str().unwrap() < first_piped)
        .count();
    assert_eq!(
        missing, older,
        "{missing} events of the file not on stdout, {older} of them older than its first"
    );
    let guid = e.info.tenant_id.to_ascii_lowercase();
    let types = [
        "Audit.AzureActiveDirectory",
        "Audit.Exchange",
        "Audit.SharePoint",
        "Audit.General",
        "DLP.All",
    ];
    // What the page's settings read, taken from the page.
    let splunk = fenced(&doc, "Splunk: the universal forwarder on the file", "ini");
    let (splunk_field, splunk_format) = (
        setting(&splunk, "TIMESTAMP_FIELDS"),
        setting(&splunk, "TIME_FORMAT"),
    );
    let beat = fenced(
        &doc,
        "Elastic: Filebeat (or Elastic Agent's custom logs integration) on the file",
        "yaml",
    );
    let target = format!("{}.", setting(&beat, "target"));
    let beat_field = setting(&beat, "field").trim_start_matches(target.as_str());
    let beat_format = go_layout(setting(&beat, "layouts"));
    let vector = fenced(&doc, "Vector", "toml");
    let call = setting(&vector, ".timestamp = parse_timestamp!(");
    let (vector_field, vector_format) = call.split_once(", ").unwrap();
    let vector_field = vector_field.trim_start_matches('.');
    let vector_format = vector_format.trim_end_matches(')').trim_matches('"');
    let fluent = fenced(&doc, "Fluent Bit", "ini");
    let (fluent_key, fluent_format) = (
        setting(&fluent, "Time_Key"),
        setting(&fluent, "Time_Format").replace("%L", "%3f"),
    );
    for l in file.iter().chain(&piped) {
        assert_eq!(l["tenant_id"], guid.as_str(), "{l}");
        assert!(
            types.contains(&l["content_type"].as_str().unwrap_or("")),
            "{l}"
        );
        assert!(
            l["content_id"].as_str().is_some_and(|s| !s.is_empty()),
            "{l}"
        );
        for (who, field, format) in [
            ("Splunk", splunk_field, splunk_format),
            ("Filebeat", beat_field, beat_format.as_str()),
            ("Vector", vector_field, vector_format),
            ("Fluent Bit", fluent_key, fluent_format.as_str()),
        ] {
            let value = at(l, field)
                .as_str()
                .unwrap_or_else(|| panic!("{who} reads {field}, which this line lacks: {l}"));
            chrono::NaiveDateTime::parse_from_str(value, format).unwrap_or_else(|err| {
                panic!("{who} parses {field} = {value:?} with {format:?}: {err}")
            });
        }
    }
}

#[test]
fn the_kafka_consumers_on_the_page_read_each_event_once() {
    let broker = Broker::start();
    let e = subscribed();
    let sink = broker.sink("audit");
    sh(
        &e,
        &format!("o365mgmt collect --all --since 24h --sink '{sink}' -o json"),
    );
    let topic = broker.topic("audit");
    let guid = e.info.tenant_id.to_ascii_lowercase();
    let doc = doc();
    let section = "Kafka consumers";

    // The Python consumer, as written, with the test's broker and topic.
    let script = fenced(&doc, section, "python")
        .replace(
            "BROKERS = \"kafka-1:9092\"",
            &format!("BROKERS = \"{}\"", broker.addr),
        )
        .replace("TOPIC = \"o365-audit\"", &format!("TOPIC = \"{topic}\""));
    let o = Command::new(python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout);
    let read: Vec<(&str, &str)> = printed
        .lines()
        .map(|l| {
            let mut w = l.split(' ');
            let (tenant, key) = (w.next().unwrap(), w.nth(1).unwrap());
            (tenant, key)
        })
        .collect();
    assert!(read.len() > 1000, "{} records", read.len());
    assert!(
        read.iter().all(|(t, _)| *t == guid),
        "a tenant header is not the GUID {guid}"
    );
    let py_keys: BTreeSet<&str> = read.iter().map(|(_, k)| *k).collect();
    assert_eq!(py_keys.len(), read.len(), "a record read twice");

    // Kafka's own console consumer, with the page's arguments (it runs until stopped: here
    // until it has read as many as the Python consumer did, or 20 s without one).
    let line = fenced(&doc, section, "sh");
    let expected = read.len().to_string();
    let mut args: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .map(|a| a.replace("o365-audit", &topic))
        .collect();
    let i = args.iter().position(|a| a == "--bootstrap-server").unwrap();
    args.drain(i..i + 2);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--max-messages", &expected, "--timeout-ms", "20000"]);
    let out = broker.tool("org.apache.kafka.tools.consumer.ConsoleConsumer", &args);
    let records: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(records.len(), read.len(), "the two consumers disagree");
    let keys: BTreeSet<&str> = records
        .iter()
        .map(|r| {
            assert!(r.contains(&format!("tenant:{guid}")), "{r}");
            r.split('\t').nth(1).unwrap()
        })
        .collect();
    assert_eq!(keys, py_keys, "the two consumers read different records");
}
