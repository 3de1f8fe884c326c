//! The fleet on Kafka's own machinery: `serve` instances share the tenants through a consumer
//! group on Apache Kafka, move them when one dies or is paused past its session timeout, and
//! write each event once (read back with librdkafka, `read_committed`, against the emulator's
//! manifest). The measured times (a failover, the settling of the group) are printed.
#![allow(clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fleet::{passes_done, readyz, term, wait_for, wait_for_a_commit, Env, ServeChild};
use crate::kafka::Broker;

/// A group with a short session timeout and few partitions, on a topic of the test's own.
fn sink(broker: &Broker) -> String {
    format!(
        "{}&session_timeout_ms=6000&assignment_partitions=16",
        broker.sink("audit")
    )
}

/// An instance of the fleet.
struct Instance {
    name: String,
    child: ServeChild,
    url: String,
}

fn start(env: &Env, config: &std::path::Path, sink: &str, name: &str) -> Instance {
    let (child, url) = env.serve(config, &["--sink", sink, "--instance-id", name]);
    Instance {
        name: name.into(),
        child,
        url,
    }
}

/// Partitions of the assignment topic in these tests.
const PARTITIONS: i32 = 16;

/// What an instance's /readyz says of its share: whether it is in the group, the partitions it
/// holds and the tenants it runs (empty when it cannot be asked).
fn share(url: &str) -> (bool, BTreeSet<i64>, BTreeSet<String>) {
    let (_, v) = readyz(url);
    let joined = v["fleet"]["joined"].as_bool().unwrap_or(false);
    let partitions = v["fleet"]["partitions"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let tenants = v["fleet"]["tenants"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    (joined, partitions, tenants)
}

/// Tenant → instance, once every instance is in the group, the group's partitions are all
/// held, each by one instance (every instance holds some: the assignment is balanced), and
/// each instance runs exactly the tenants of its partitions; `None` until then.
fn settled(env: &Env, instances: &[&Instance]) -> Option<BTreeMap<String, String>> {
    let mut owner: BTreeMap<i64, String> = BTreeMap::new();
    let mut running: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in instances {
        let (joined, partitions, tenants) = share(&i.url);
        if !joined || partitions.is_empty() {
            return None;
        }
        for p in partitions {
            if owner.insert(p, i.name.clone()).is_some() {
                return None;
            }
        }
        running.insert(i.name.clone(), tenants);
    }
    if owner.len() != PARTITIONS as usize {
        return None;
    }
    // Balanced, as the assignor leaves it: with cooperative rebalancing every partition may be
    // held while one instance still holds more than its share (its extra partitions move in
    // the next round).
    let mut held: BTreeMap<&String, usize> = BTreeMap::new();
    for name in owner.values() {
        *held.entry(name).or_default() += 1;
    }
    let (least, most) = (held.values().min()?, held.values().max()?);
    if held.len() != instances.len() || most - least > 1 {
        return None;
    }
    let mut map = BTreeMap::new();
    for t in &env.tenants {
        let p = i64::from(o365_collect::sinks::kafka::partition_of(&t.id, PARTITIONS));
        map.insert(t.name.clone(), owner.get(&p)?.clone());
    }
    for (name, tenants) in &running {
        let mine: BTreeSet<String> = map
            .iter()
            .filter(|(_, n)| *n == name)
            .map(|(t, _)| t.clone())
            .collect();
        if &mine != tenants {
            return None;
        }
    }
    Some(map)
}

fn wait_settled(env: &Env, instances: &[&Instance], secs: u64) -> BTreeMap<String, String> {
    let t0 = Instant::now();
    loop {
        if let Some(m) = settled(env, instances) {
            return m;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "the group never settled: {:?}\n{}",
            instances
                .iter()
                .map(|i| (i.name.clone(), share(&i.url)))
                .collect::<Vec<_>>(),
            env.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Wait until every tenant finished a pass on the instance that runs it.
fn all_passes_done(map: &BTreeMap<String, String>, instances: &[&Instance]) {
    for i in instances {
        let mine: Vec<&str> = map
            .iter()
            .filter(|(_, n)| **n == i.name)
            .map(|(t, _)| t.as_str())
            .collect();
        passes_done(&i.url, &mine);
    }
}

fn names(env: &Env) -> Vec<String> {
    env.tenants.iter().map(|t| t.name.clone()).collect()
}

#[test]
fn three_instances_share_twelve_tenants_each_event_once() {
    let broker = Broker::start();
    let env = Env::new(12, 2.0, |_| {});
    let config = env.config(&env.tenants);
    let sink = sink(&broker);
    let a = start(&env, &config, &sink, "i1");
    let b = start(&env, &config, &sink, "i2");
    let c = start(&env, &config, &sink, "i3");
    let t0 = Instant::now();
    let map = wait_settled(&env, &[&a, &b, &c], 120);
    eprintln!("settled after {:.1} s: {map:?}", t0.elapsed().as_secs_f64());
    let per: BTreeSet<&String> = map.values().collect();
    assert_eq!(per.len(), 3, "every instance holds tenants: {map:?}");
    all_passes_done(&map, &[&a, &b, &c]);
    eprintln!("passes done after {:.1} s", t0.elapsed().as_secs_f64());
    // The group's view, by Kafka's own tool: three members of one group, each with its
    // instance id, holding the 16 partitions between them.
    let (_, v) = readyz(&a.url);
    assert!(v["fleet"]["generation"].as_i64().unwrap_or(-1) >= 1, "{v}");
    let group = v["fleet"]["group"].as_str().unwrap().to_string();
    let described = broker.tool(
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &["--describe", "--group", &group, "--members", "--verbose"],
    );
    // GROUP CONSUMER-ID GROUP-INSTANCE-ID HOST CLIENT-ID #PARTITIONS EPOCH ASSIGNMENT ...
    let rows: Vec<Vec<&str>> = described
        .lines()
        .filter(|l| l.starts_with(&group))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{described}");
    let mut total = 0;
    for (i, url) in [("i1", &a.url), ("i2", &b.url), ("i3", &c.url)] {
        let row = rows
            .iter()
            .find(|r| r.get(2) == Some(&i))
            .unwrap_or_else(|| panic!("{i} is not a static member: {described}"));
        let by_kafka: BTreeSet<i64> = row[7]
            .split_once(':')
            .map(|(_, p)| p.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default();
        let by_us: BTreeSet<i64> = readyz(url).1["fleet"]["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_i64)
            .collect();
        assert_eq!(by_kafka, by_us, "{i}: {described}");
        total += by_kafka.len();
    }
    assert_eq!(total, 16, "every partition is held: {described}");
    // The status page's JSON and the page say which instance this is and what it holds.
    let (code, body) = crate::fleet::get(&format!("{}/api/status", a.url));
    let st: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert_eq!(code, 200, "{body}");
    assert_eq!(st["fleet"]["instance"], "i1", "{st}");
    let shown: BTreeSet<String> = st["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    let held: BTreeSet<String> = map
        .iter()
        .filter(|(_, n)| *n == "i1")
        .map(|(t, _)| t.clone())
        .collect();
    assert_eq!(shown, held);
    let page = crate::fleet::get(&format!("{}/", a.url)).1;
    assert!(
        page.contains("This is instance <b>i1</b> of a fleet"),
        "{page}"
    );
    // Each instance counts the events of the blobs it committed, whichever tenants it held
    // then: together, at least every event in the topic (re-delivered ones counted too).
    let (mut committed, mut staged) = (0, 0);
    for i in [&a, &b, &c] {
        let m = crate::fleet::get(&format!("{}/metrics", i.url)).1;
        let total = |name: &str| {
            m.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {name}: {m}"))
        };
        committed += total("o365_sink_events_total");
        staged += total("o365_sink_staged_blobs_total");
    }
    eprintln!("{committed} events committed, {staged} blobs staged ahead of their commits");
    for mut i in [a, b, c] {
        term(&mut i.child);
    }
    env.assert_exactly_once(&config, &broker, "audit", &env.tenants);
    let records = broker.read("audit").records;
    assert!(
        records > 0 && committed >= records,
        "{committed} events committed by the instances, {records} in the topic"
    );
    // The emulator answers at once: full groups of blobs come faster than a commit's linger,
    // and are staged into the open transaction (exactly once above, all the same).
    assert!(staged > 0, "no blob was staged ahead of its commit");
}

#[test]
fn kill_9_one_of_three_its_tenants_resume_on_the_others_exactly_once() {
    let broker = Broker::start();
    let env = Env::new(9, 24.0, |cfg| cfg.faults.latency_ms = 20);
    let config = env.config(&env.tenants);
    let sink = sink(&broker);
    let a = start(&env, &config, &sink, "i1");
    let b = start(&env, &config, &sink, "i2");
    let mut c = start(&env, &config, &sink, "i3");
    let map = wait_settled(&env, &[&a, &b, &c], 120);
    let moved: Vec<String> = map
        .iter()
        .filter(|(_, n)| *n == "i3")
        .map(|(t, _)| t.clone())
        .collect();
    assert!(!moved.is_empty(), "i3 holds nothing: {map:?}");
    // Mid-collection: i3 has committed something and not finished its first passes.
    wait_for_a_commit(&c.url);
    c.child.kill().unwrap();
    c.child.wait().unwrap();
    let killed = Instant::now();
    let map2 = wait_settled(&env, &[&a, &b], 120);
    let moved_at = killed.elapsed();
    // The moved tenants' first pass on their new instance.
    all_passes_done(&map2, &[&a, &b]);
    let resumed = killed.elapsed();
    eprintln!(
        "kill -9 of i3 ({} tenants): moved after {:.1} s, their first pass done after {:.1} s",
        moved.len(),
        moved_at.as_secs_f64(),
        resumed.as_secs_f64()
    );
    assert!(
        moved_at < Duration::from_secs(40),
        "tenants moved only after {moved_at:?}"
    );
    for mut i in [a, b] {
        term(&mut i.child);
    }
    env.assert_exactly_once(&config, &broker, "audit", &env.tenants);
}

#[test]
fn a_zombie_paused_past_its_session_commits_nothing_after_its_tenants_moved() {
    let broker = Broker::start();
    let env = Env::new(6, 24.0, |cfg| cfg.faults.latency_ms = 20);
    let config = env.config(&env.tenants);
    let sink = sink(&broker);
    let a = start(&env, &config, &sink, "i1");
    let z = start(&env, &config, &sink, "i2");
    let all = names(&env);
    let map = wait_settled(&env, &[&a, &z], 120);
    assert!(
        map.values().any(|n| n == "i2"),
        "the zombie-to-be holds nothing: {map:?}"
    );
    wait_for_a_commit(&z.url);
    let pid = z.child.id().to_string();
    let kill = |sig: &str| {
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success())
    };
    kill("-STOP");
    // Past the session timeout: the group gives every tenant to i1, which collects them.
    let t0 = Instant::now();
    wait_for(120, "i1 holding every tenant", || {
        share(&a.url).2.len() == all.len()
    });
    eprintln!(
        "paused instance's tenants moved after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let names: Vec<&str> = all.iter().map(String::as_str).collect();
    passes_done(&a.url, &names);
    // The zombie wakes: whatever it had under way must not become visible.
    kill("-CONT");
    wait_for(60, "the woken instance back in the group", || {
        share(&z.url).0
    });
    let (_, av) = readyz(&a.url);
    let gen_a = av["fleet"]["generation"].as_i64().unwrap_or(-1);
    assert!(gen_a >= 2, "the group moved on to a new generation: {av}");
    // The woken instance may get tenants back: every tenant finishes a pass where it is now,
    // so that each one's checkpoint counts what it wrote.
    let map = wait_settled(&env, &[&a, &z], 120);
    all_passes_done(&map, &[&a, &z]);
    for mut i in [a, z] {
        term(&mut i.child);
    }
    env.assert_exactly_once(&config, &broker, "audit", &env.tenants);
}

#[test]
fn scale_one_to_three_to_two_and_a_rolling_restart_moves_no_tenant() {
    let broker = Broker::start();
    let env = Env::new(8, 6.0, |cfg| cfg.faults.latency_ms = 10);
    let config = env.config(&env.tenants);
    let sink = sink(&broker);
    let a = start(&env, &config, &sink, "i1");
    wait_settled(&env, &[&a], 120);
    let b = start(&env, &config, &sink, "i2");
    let mut c = start(&env, &config, &sink, "i3");
    let three = wait_settled(&env, &[&a, &b, &c], 120);
    assert_eq!(
        three.values().collect::<BTreeSet<_>>().len(),
        3,
        "{three:?}"
    );
    // Down to two: i3 stops for good; after its session timeout its tenants move.
    term(&mut c.child);
    let two = wait_settled(&env, &[&a, &b], 120);
    // (Which partitions the survivors end up with is the assignor's choice: librdkafka's
    // cooperative-sticky was seen to move some of a survivor's partitions here.)
    assert!(two.values().all(|n| n != "i3"), "{two:?}");
    all_passes_done(&two, &[&a, &b]);
    // A rolling restart: each instance stops and comes back under its name within the session
    // timeout; static membership gives it its own tenants back, none moves.
    let mut insts = vec![a, b];
    for k in 0..insts.len() {
        let name = insts[k].name.clone();
        term(&mut insts[k].child);
        insts[k] = start(&env, &config, &sink, &name);
        let refs: Vec<&Instance> = insts.iter().collect();
        let now = wait_settled(&env, &refs, 120);
        assert_eq!(
            now,
            two,
            "a rolling restart of {name} moved tenants\n{}",
            env.logs()
        );
    }
    let refs: Vec<&Instance> = insts.iter().collect();
    all_passes_done(&two, &refs);
    for mut i in insts {
        term(&mut i.child);
    }
    env.assert_exactly_once(&config, &broker, "audit", &env.tenants);
}

#[test]
fn two_instances_for_one_tenant_the_group_gives_it_to_one() {
    let broker = Broker::start();
    let env = Env::new(1, 6.0, |cfg| cfg.faults.latency_ms = 10);
    let config = env.config(&env.tenants);
    let sink = sink(&broker);
    let a = start(&env, &config, &sink, "i1");
    let b = start(&env, &config, &sink, "i2");
    let map = wait_settled(&env, &[&a, &b], 120);
    let holder = &map["t1"];
    let (_, _, other) = share(if holder == "i1" { &b.url } else { &a.url });
    assert!(other.is_empty(), "both run t1: {map:?} {other:?}");
    all_passes_done(&map, &[&a, &b]);
    let v = readyz(&a.url).1;
    assert!(
        v["fleet"]["group"].as_str().is_some_and(|g| !g.is_empty()),
        "{v}"
    );
    let _: Value = v;
    for mut i in [a, b] {
        term(&mut i.child);
    }
    env.assert_exactly_once(&config, &broker, "audit", &env.tenants);
}
