//! Apache Kafka as a real cluster is set up: a broker that refuses transactions (the option that
//! works there, named at start), and SASL_SSL with SCRAM-SHA-512 over TLS with a private CA,
//! users made with Kafka's own tools, the password never shown.

use std::path::Path;
use std::process::Command;

use crate::fleet::{get, passes_done, readyz, run_collect_all, term, Env};
use crate::kafka::Broker;

/// Run `collect` of every tenant into `sink`; its exit code and standard error.
fn collect(env: &Env, config: &Path, sink: &str, envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = run_collect_all(env, config, sink, envs);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_broker_without_transactions_is_named_at_start_and_exactly_once_false_works() {
    // Transactions refused, as on a broker that has none: this principal may use no
    // transactional id (an ACL made with Kafka's own tool).
    let broker = Broker::own_with(
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\nallow.everyone.if.no.acl.found=true\n",
    );
    broker.tool(
        "org.apache.kafka.tools.AclCommand",
        &[
            "--add",
            "--deny-principal",
            "User:ANONYMOUS",
            "--operation",
            "All",
            "--transactional-id",
            "*",
        ],
    );
    let env = Env::new(2, 2.0, |_| {});
    let config = env.config(&env.tenants);
    let sink = broker.sink("audit");
    let (code, err) = collect(&env, &config, &sink, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("refused a transaction")
            && err.contains("authorization failed")
            && err.contains("exactly_once=false"),
        "the error names the refusal and the option: {err}"
    );
    assert_eq!(broker.read("audit").records, 0, "nothing written");
    // At least once, without transactions: every event there, keyed TENANT/ID.
    let (code, err) = collect(&env, &config, &format!("{sink}&exactly_once=false"), &[]);
    assert_eq!(code, Some(0), "{err}");
    env.assert_exactly_once(&config, &broker, "audit", &env.tenants);
}

/// A private CA and a certificate for 127.0.0.1 signed by it, made with openssl: (CA file,
/// key and chain file for the broker).
fn private_ca(dir: &Path) -> (String, String) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (Debian: apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=o365mgmt test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    ]);
    // The broker's PEM key store: the key (PKCS#8) and its chain in one file.
    run(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        "server.key",
        "-out",
        "server.p8",
    ]);
    let store = [
        std::fs::read_to_string(dir.join("server.p8")).unwrap(),
        std::fs::read_to_string(dir.join("server.pem")).unwrap(),
        std::fs::read_to_string(dir.join("ca.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join("store.pem"), store).unwrap();
    (
        dir.join("ca.pem").display().to_string(),
        dir.join("store.pem").display().to_string(),
    )
}

#[test]
fn sasl_ssl_with_scram_and_a_private_ca_and_the_password_never_shown() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, store) = private_ca(certs.path());
    let broker = Broker::own_with(&format!(
        "listeners=PLAINTEXT://127.0.0.1:{{port}},SASL_SSL://127.0.0.1:{{port2}},CONTROLLER://127.0.0.1:{{controller}}
advertised.listeners=PLAINTEXT://127.0.0.1:{{port}},SASL_SSL://127.0.0.1:{{port2}}
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location={store}
"
    ));
    let password = "s3cret-Pa55word-for-o365mgmt";
    // The user, made with Kafka's own tool over the plain listener.
    broker.tool(
        "org.apache.kafka.tools.ConfigCommand",
        &[
            "--alter",
            "--add-config",
            &format!("SCRAM-SHA-512=[iterations=4096,password={password}]"),
            "--entity-type",
            "users",
            "--entity-name",
            "o365",
        ],
    );
    let env = Env::new(2, 2.0, |_| {});
    let config = env.config(&env.tenants);
    let plain = broker.sink("audit");
    let prefix = plain.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let secure = format!(
        "kafka://{}/{}?{prefix}&security.protocol=SASL_SSL&sasl.mechanism=SCRAM-SHA-512&sasl.username=o365&ssl.ca.location={ca}",
        broker.addr2(),
        broker.topic("audit")
    );
    // A wrong password: refused, and the error names the failure, not the password.
    let wrong = "wr0ng-Pa55word-never-shown";
    let (code, err) = collect(
        &env,
        &config,
        &secure,
        &[("O365_KAFKA_SASL_PASSWORD", wrong)],
    );
    assert_ne!(code, Some(0), "{err}");
    assert!(!err.contains(wrong), "the password leaked: {err}");
    assert!(
        err.contains("uthentication") || err.contains("security settings"),
        "the error says what failed: {err}"
    );
    // The service, with the password from the environment.
    let envs = [("O365_KAFKA_SASL_PASSWORD", password)];
    let (mut s, url) = env.serve_with(&config, &["--sink", &secure, "--instance-id", "s1"], &envs);
    passes_done(&url, &["t1", "t2"]);
    let mut shown = String::new();
    for path in ["/metrics", "/readyz", "/api/status", "/"] {
        shown.push_str(&get(&format!("{url}{path}")).1);
    }
    assert!(readyz(&url).1["ready"] == true, "{}", readyz(&url).1);
    term(&mut s);
    for e in std::fs::read_dir(env.home.path()).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "log") {
            shown.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    assert!(!shown.contains(password), "the password leaked");
    // Every event once, read back by librdkafka (over the plain listener of the same broker).
    env.assert_exactly_once(&config, &broker, "audit", &env.tenants);
}
