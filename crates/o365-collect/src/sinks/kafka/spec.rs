//! `kafka://HOST:PORT[,HOST:PORT]/TOPIC[?option=value&...]`: brokers, topics, and the client
//! settings passed through to librdkafka (TLS, SASL), with secrets never shown.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

/// The sink's own options and what each does (for help texts).
pub fn options() -> &'static [(&'static str, &'static str)] {
    &OWN
}

/// Options of the sink itself (the rest, with a dot in the name, go to librdkafka).
const OWN: [(&str, &str); 10] = [
    (
        "checkpoint_topic",
        "topic of the checkpoints (default: TOPIC.checkpoints)",
    ),
    (
        "transactional_id_prefix",
        "prefix of each tenant's transactional.id (default: o365mgmt)",
    ),
    (
        "partitions",
        "partitions of TOPIC when it is created (default: 1)",
    ),
    (
        "replication_factor",
        "replication of the topics when they are created (default: 1)",
    ),
    (
        "transactions",
        "side_by_side (default) or one_at_a_time: how the tenants' transactions of one commit run",
    ),
    (
        "exactly_once",
        "true (default: transactions) or false (a broker without transactions: at least once, keys TENANT/EVENT_ID for de-duplication)",
    ),
    (
        "group",
        "consumer group of the serve instances that share the tenants (default: PREFIX.TOPIC)",
    ),
    (
        "assignment_partitions",
        "partitions of TOPIC.assignments when it is created; tenants are spread over them (default: 64)",
    ),
    (
        "session_timeout_ms",
        "how long a silent serve instance keeps its tenants before the group moves them (default: 10000)",
    ),
    (
        "transaction_timeout_ms",
        "how long the broker lets a serve instance's transaction stay open before it aborts it (default: 10000)",
    ),
];

/// How the tenants' transactions of one commit (and their producers' starts) run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transactions {
    /// Each in its own thread: their round trips to the broker overlap.
    #[default]
    SideBySide,
    /// One after another, so that no two end at once: for brokers whose bookkeeping breaks when
    /// transactions on one partition end together (tansu 0.6 can then keep a partition's last
    /// stable offset behind for good after a crash).
    OneAtATime,
}

impl Transactions {
    /// From the option's value.
    fn parse(v: &str) -> Result<Self, String> {
        match v {
            "side_by_side" => Ok(Self::SideBySide),
            "one_at_a_time" => Ok(Self::OneAtATime),
            _ => Err(format!(
                "transactions = {v:?}: side_by_side (the default) or one_at_a_time"
            )),
        }
    }
}

/// librdkafka settings whose values are secrets.
const SECRET: [&str; 4] = [
    "sasl.password",
    "ssl.key.password",
    "ssl.keystore.password",
    "sasl.oauthbearer.client.secret",
];

/// librdkafka settings the sink sets itself: giving them would break its guarantees.
const RESERVED: [&str; 12] = [
    "transactional.id",
    "enable.idempotence",
    "isolation.level",
    "acks",
    "request.required.acks",
    "group.id",
    "group.instance.id",
    "enable.auto.commit",
    "partition.assignment.strategy",
    "session.timeout.ms",
    "transaction.timeout.ms",
    "transactional.id.prefix",
];

/// A parsed Kafka sink.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaSpec {
    /// `host:port,host:port`.
    pub brokers: String,
    /// The events topic.
    pub topic: String,
    /// The checkpoint topic.
    pub checkpoint_topic: String,
    /// Prefix of `transactional.id`.
    pub prefix: String,
    /// Partitions of the events topic when created.
    pub partitions: i32,
    /// Replication factor of created topics.
    pub replication: i32,
    /// How the tenants' transactions of one commit run.
    pub transactions: Transactions,
    /// Transactions (exactly once); without them, at least once.
    pub exactly_once: bool,
    /// The consumer group of the `serve` instances that share the tenants.
    pub group: String,
    /// Partitions of the assignment topic when it is created.
    pub assignment_partitions: i32,
    /// A group member's session timeout (ms).
    pub session_timeout_ms: i32,
    /// The broker aborts an instance's transaction left open this long (ms).
    pub transaction_timeout_ms: i32,
    /// librdkafka settings passed through.
    pub client: BTreeMap<String, String>,
}

impl std::fmt::Debug for KafkaSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// The longest events topic: `TOPIC.checkpoints` and `TOPIC.assignments` must fit Kafka's 249.
const MAX_TOPIC: usize = 249 - ".assignments".len();

fn topic_ok(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 249
        && t != "."
        && t != ".."
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl KafkaSpec {
    /// Parse what follows `kafka:`.
    pub fn parse(rest: &str) -> Result<KafkaSpec, String> {
        let example = "e.g. kafka://127.0.0.1:9092/o365-audit?security.protocol=SASL_SSL&sasl.mechanism=SCRAM-SHA-512";
        let body = rest
            .strip_prefix("//")
            .ok_or_else(|| format!("write the brokers after kafka://, {example}"))?;
        let (path, query) = match body.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (body, None),
        };
        let (brokers, topic) = path
            .split_once('/')
            .ok_or_else(|| format!("name the topic after the brokers, {example}"))?;
        for b in brokers.split(',') {
            let ok = b
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !ok {
                return Err(format!("broker {b:?} is not HOST:PORT, {example}"));
            }
        }
        if !topic_ok(topic) {
            return Err(format!(
                "topic {topic:?}: use 1 to 249 letters, digits, '.', '_' or '-'"
            ));
        }
        if topic.len() > MAX_TOPIC {
            return Err(format!(
                "topic {topic:?} is {} characters: at most {MAX_TOPIC}, so that TOPIC.checkpoints and TOPIC.assignments fit Kafka's 249",
                topic.len()
            ));
        }
        let mut s = KafkaSpec {
            brokers: brokers.into(),
            topic: topic.into(),
            checkpoint_topic: format!("{topic}.checkpoints"),
            prefix: "o365mgmt".into(),
            partitions: 1,
            replication: 1,
            transactions: Transactions::default(),
            exactly_once: true,
            group: String::new(),
            assignment_partitions: 64,
            session_timeout_ms: 10_000,
            transaction_timeout_ms: 10_000,
            client: BTreeMap::new(),
        };
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let (k, v) = (k.into_owned(), v.into_owned());
            let number = |v: &str, max: i32| {
                v.parse::<i32>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| format!("{k} = {v:?}: a whole number from 1 to {max}"))
            };
            match k.as_str() {
                "checkpoint_topic" if topic_ok(&v) => s.checkpoint_topic = v,
                "checkpoint_topic" => {
                    return Err(format!("checkpoint_topic {v:?}: not a topic name"))
                }
                "transactional_id_prefix" if !v.is_empty() && v.len() <= 100 => s.prefix = v,
                "transactional_id_prefix" => {
                    return Err("transactional_id_prefix: 1 to 100 characters".into())
                }
                "partitions" => s.partitions = number(&v, 10_000)?,
                "replication_factor" => s.replication = number(&v, 10)?,
                "transactions" => s.transactions = Transactions::parse(&v)?,
                "exactly_once" => {
                    s.exactly_once = match v.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(format!(
                                "exactly_once = {v:?}: true (the default) or false"
                            ))
                        }
                    }
                }
                "group" if !v.is_empty() && v.len() <= 200 => s.group = v,
                "group" => return Err("group: 1 to 200 characters".into()),
                "assignment_partitions" => s.assignment_partitions = number(&v, 10_000)?,
                "session_timeout_ms" => {
                    s.session_timeout_ms = number(&v, 1_800_000)?;
                    if s.session_timeout_ms < 6_000 {
                        return Err(format!(
                            "session_timeout_ms = {v:?}: at least 6000 (brokers refuse less by default: group.min.session.timeout.ms)"
                        ));
                    }
                }
                "transaction_timeout_ms" => {
                    s.transaction_timeout_ms = number(&v, 900_000)?;
                    if s.transaction_timeout_ms < 1_000 {
                        return Err(format!(
                            "transaction_timeout_ms = {v:?}: from 1000 to 900000 (brokers refuse more by default: transaction.max.timeout.ms)"
                        ));
                    }
                }
                k if RESERVED.contains(&k) => {
                    return Err(format!(
                        "{k} is set by the sink itself (exactly-once needs it); leave it out"
                    ))
                }
                k if k.contains('.') => {
                    s.client.insert(k.to_string(), v);
                }
                k => {
                    let known: Vec<String> =
                        OWN.iter().map(|(n, d)| format!("{n} ({d})")).collect();
                    return Err(format!(
                        "unknown option {k:?}: the sink takes {}, and librdkafka settings such as security.protocol, ssl.ca.location, sasl.mechanism, sasl.username, sasl.password",
                        known.join(", ")
                    ));
                }
            }
        }
        if s.group.is_empty() {
            s.group = format!("{}.{}", s.prefix, s.topic);
        }
        if !s.client.contains_key("sasl.password") {
            if let Ok(p) = std::env::var("O365_KAFKA_SASL_PASSWORD") {
                s.client.insert("sasl.password".into(), p);
            }
        }
        Ok(s)
    }

    /// The spec as written, secrets shown as `[redacted]`.
    pub fn name(&self) -> String {
        let mut q: Vec<String> = Vec::new();
        if self.checkpoint_topic != format!("{}.checkpoints", self.topic) {
            q.push(format!("checkpoint_topic={}", self.checkpoint_topic));
        }
        for (k, v) in &self.client {
            let shown = if SECRET.contains(&k.as_str()) {
                "[redacted]"
            } else {
                v.as_str()
            };
            q.push(format!("{k}={shown}"));
        }
        let q = if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        };
        format!("kafka://{}/{}{q}", self.brokers, self.topic)
    }

    /// A client configuration with the brokers and every passed-through setting.
    pub fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.client {
            c.set(k, v);
        }
        c
    }

    /// The transactional id of a tenant's producer.
    pub fn transactional_id(&self, tenant: &str) -> String {
        format!("{}-{tenant}", self.prefix)
    }

    /// The transactional id of a `serve` instance's one producer.
    pub fn instance_transactional_id(&self, instance: &str) -> String {
        format!("{}.instance.{instance}", self.prefix)
    }

    /// The topic whose partitions the group shares out: `TOPIC.assignments`.
    pub fn assignment_topic(&self) -> String {
        format!("{}.assignments", self.topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_pass_through_and_redact() {
        let s = KafkaSpec::parse("//a:9092,b:9093/audit?security.protocol=SASL_SSL&sasl.mechanism=SCRAM-SHA-512&sasl.username=u&sasl.password=p%40ss&partitions=6").unwrap();
        assert_eq!(s.brokers, "a:9092,b:9093");
        assert_eq!(
            (s.topic.as_str(), s.checkpoint_topic.as_str()),
            ("audit", "audit.checkpoints")
        );
        assert_eq!(s.partitions, 6);
        assert_eq!(s.client["sasl.password"], "p@ss");
        let name = s.name();
        assert!(
            name.contains("sasl.password=[redacted]") && !name.contains("p@ss"),
            "{name}"
        );
        assert!(!format!("{s:?}").contains("p@ss"));
        assert_eq!(s.transactional_id("t1"), "o365mgmt-t1");
        assert!(s.exactly_once);
        assert!(
            !KafkaSpec::parse("//a:9092/t?exactly_once=false")
                .unwrap()
                .exactly_once
        );
        assert_eq!(s.instance_transactional_id("i1"), "o365mgmt.instance.i1");
        assert_eq!(
            (
                s.group.as_str(),
                s.assignment_partitions,
                s.assignment_topic()
            ),
            ("o365mgmt.audit", 64, "audit.assignments".to_string())
        );
        let g = KafkaSpec::parse("//a:9092/audit?group=g1&assignment_partitions=8&session_timeout_ms=6000&transaction_timeout_ms=5000").unwrap();
        assert_eq!(
            (
                g.group.as_str(),
                g.assignment_partitions,
                g.session_timeout_ms,
                g.transaction_timeout_ms
            ),
            ("g1", 8, 6000, 5000)
        );
        assert_eq!(s.transactions, Transactions::SideBySide);
        let one = KafkaSpec::parse("//a:9092/audit?transactions=one_at_a_time").unwrap();
        assert_eq!(one.transactions, Transactions::OneAtATime);
        let long = format!("//a:9092/{}", "t".repeat(240));
        for (bad, want) in [
            ("a:9092/t", "after kafka://"),
            ("//a/t", "HOST:PORT"),
            ("//a:9092", "name the topic"),
            ("//a:9092/bad topic", "letters, digits"),
            ("//a:9092/t?transactional.id=x", "set by the sink"),
            ("//a:9092/t?color=red", "unknown option"),
            ("//a:9092/t?partitions=0", "1 to 10000"),
            ("//a:9092/t?session_timeout_ms=1000", "at least 6000"),
            (long.as_str(), "at most 237"),
            (
                "//a:9092/t?exactly_once=maybe",
                "true (the default) or false",
            ),
            (
                "//a:9092/t?transaction_timeout_ms=100",
                "from 1000 to 900000",
            ),
            ("//a:9092/t?assignment_partitions=x", "1 to 10000"),
            (
                "//a:9092/t?transactions=sometimes",
                "\"sometimes\": side_by_side (the default) or one_at_a_time",
            ),
        ] {
            let e = KafkaSpec::parse(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
