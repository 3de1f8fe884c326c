//! Help that fits each command: the flags every command accepts before or after its name
//! (settings, case context, `--tenant`, `--output`, …) are shown only where they are used, and
//! refused where they are not, naming the command — a flag given is never silently ignored.
//!
//! One table ([`uses`]) says which command uses which; [`command`] hides the rest from each
//! command's help and [`refuse_unused`] refuses them on its command line.

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};
use o365_actions::config::KEYS;

/// What a command uses of the flags every command accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Uses {
    /// Which settings (`--tenant-id`, `--proxy`, …).
    settings: Settings,
    /// `--case-id`, `--alert-group`, `--scope`, `--target-entity`.
    case: bool,
    /// `--tenant` and `--soar-config`.
    tenant: bool,
    /// `--output`.
    output: bool,
    /// `--config` as the client's configuration file.
    config: bool,
}

/// Which settings a command reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settings {
    /// None.
    None,
    /// Only where the state lives (the demo's own state).
    State,
    /// Where the state lives and which tenant (the commands that only read the state).
    Local,
    /// Everything a client needs to reach the service (all but the service's own keys).
    Client,
    /// Every setting.
    All,
}

/// Settings only `serve` reads (what it does beside following the feed).
const SERVE_ONLY: &[&str] = &["backfill_since", "repair_gaps"];
/// Settings that say where the state is and which tenant.
const LOCAL: &[&str] = &["state", "tenant_id", "cloud", "api_root"];
/// The case-context flags' ids.
const CASE: &[&str] = &["case_id", "alert_groups", "scope", "target_entities"];

impl Settings {
    /// Whether this command reads setting `name`.
    fn reads(self, name: &str) -> bool {
        match self {
            Settings::None => false,
            Settings::State => name == "state",
            Settings::Local => LOCAL.contains(&name),
            Settings::Client => !SERVE_ONLY.contains(&name),
            Settings::All => true,
        }
    }
}

/// The table: what each top-level command uses (its subcommands use the same).
fn uses(command: &str) -> Uses {
    let client = Uses {
        settings: Settings::Client,
        case: false,
        tenant: true,
        output: true,
        config: true,
    };
    match command {
        // The integration's actions carry the case they run for.
        "ping" | "start-subscription" | "stop-subscription" | "subscriptions" | "content" => Uses {
            case: true,
            ..client
        },
        "serve" | "config" => Uses {
            settings: Settings::All,
            ..client
        },
        "status" | "journal" => Uses {
            settings: Settings::Local,
            ..client
        },
        "demo" => Uses {
            settings: Settings::State,
            case: false,
            tenant: false,
            output: false,
            config: false,
        },
        // The emulator's `--config` is its own file (see [`command`]).
        "emulator" => Uses {
            settings: Settings::None,
            case: false,
            tenant: false,
            output: false,
            config: true,
        },
        "completions" => Uses {
            settings: Settings::None,
            case: false,
            tenant: false,
            output: false,
            config: false,
        },
        // action (the case is in its JSON), gaps, alerts, collect, backfill, mcp.
        _ => client,
    }
}

/// The ids of the flags `u` does not use, with the flag as written.
fn unused(u: Uses) -> Vec<(&'static str, String)> {
    let mut ids: Vec<(&'static str, String)> = KEYS
        .iter()
        .filter(|k| !u.settings.reads(k.name))
        .map(|k| (k.name, k.flag.to_string()))
        .collect();
    if !u.case {
        ids.extend(CASE.iter().map(|id| (*id, flag_of(id))));
    }
    if !u.tenant {
        ids.extend(["tenant", "soar_config"].map(|id| (id, flag_of(id))));
    }
    if !u.output {
        ids.push(("output", "--output".into()));
    }
    if !u.config {
        ids.push(("config", "--config".into()));
    }
    ids
}

/// The long flag of a global argument's id.
fn flag_of(id: &str) -> String {
    match id {
        "alert_groups" => "--alert-group".into(),
        "target_entities" => "--target-entity".into(),
        _ => format!("--{}", id.replace('_', "-")),
    }
}

/// The command line's definition, each command's help showing only the flags it uses: a
/// command gets its own hidden copy of each global flag it does not use, before clap copies the
/// global ones into it (clap keeps a command's own argument of the same id).
pub fn command(mut cmd: Command) -> Command {
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let hide = unused(uses(&name));
        let copies: Vec<clap::Arg> = globals
            .iter()
            .filter(|a| hide.iter().any(|(id, _)| a.get_id() == *id))
            .map(|a| a.clone().hide(true))
            .collect();
        let after = after_help(&name);
        let sink = sink_help(&name);
        cmd = cmd.mut_subcommand(&name, |s| {
            let s = crate::arg::with_value_defaults(s.args(copies));
            let s = match sink {
                Some(help) => s.mut_arg("sink", |a| a.help(help)),
                None => s,
            };
            match after {
                Some(text) => s.after_help(text),
                None => s,
            }
        });
    }
    let config = globals.iter().find(|a| a.get_id() == "config").cloned();
    match config {
        Some(config) => cmd.mut_subcommand("emulator", |s| {
            s.arg(config.help(
                "The emulator's TOML file: tenants, apps, data, faults (see emulator.example.toml)",
            ))
        }),
        None => cmd,
    }
}

/// A flag given on the command line that the command does not use: its message (the flag, the
/// command, what to do).
pub fn refuse_unused(m: &ArgMatches) -> Result<(), String> {
    let Some((name, mut leaf)) = m.subcommand() else {
        return Ok(());
    };
    let mut path = vec![name];
    while let Some((n, sub)) = leaf.subcommand() {
        path.push(n);
        leaf = sub;
    }
    let Some((_, flag)) = unused(uses(name))
        .into_iter()
        .find(|(id, _)| given(leaf, id) || given(m, id))
    else {
        return Ok(());
    };
    let command = path.join(" ");
    let why = match flag.as_str() {
        "--output" if name == "emulator" => {
            "it prints one JSON line (or shell export lines with --print-env)"
        }
        "--repair-gaps" | "--backfill-since" => {
            "it is a setting of `serve` (for one run: `gaps --repair`, `backfill --since`)"
        }
        f if CASE.iter().any(|id| flag_of(id) == f) => {
            "the case context belongs to the integration's actions (ping, start-subscription, stop-subscription, subscriptions, content)"
        }
        _ => "this command does not read it",
    };
    Err(format!(
        "{flag} is not used by `o365mgmt {command}`: {why}; remove it (`o365mgmt {command} --help` lists what it takes)"
    ))
}

/// Whether `id` was given on the command line at the level `m` parsed (the subcommand's own
/// flags, or those before its name).
fn given(m: &ArgMatches, id: &str) -> bool {
    matches!(m.try_contains_id(id), Ok(true))
        && m.value_source(id) == Some(ValueSource::CommandLine)
}

/// The help of `--sink` for the commands that write into the collector's sinks: the kinds
/// from the sink table ([`o365_collect::sinks::SCHEMES`]), so a new sink shows in every help.
fn sink_help(name: &str) -> Option<String> {
    let lead = match name {
        "collect" | "serve" | "backfill" => "Where events go",
        "gaps" => "Where repairs go",
        _ => return None,
    };
    let kinds: Vec<&str> = o365_collect::sinks::SCHEMES
        .iter()
        .map(|(_, shape, _)| *shape)
        .collect();
    Some(format!(
        "{lead}: {} (Kafka options below) [default: sqlite:events.sqlite next to the state file]",
        kinds.join(", ")
    ))
}

/// Two or three examples per command, shown after its help.
const EXAMPLES: &[(&str, &[&str])] = &[
    ("ping", &["o365mgmt ping -o text", "o365mgmt ping --tenant contoso --case-id 4711"]),
    (
        "start-subscription",
        &[
            "o365mgmt start-subscription --all",
            "o365mgmt start-subscription Audit.Exchange,DLP.All --case-id 4711",
        ],
    ),
    (
        "stop-subscription",
        &["o365mgmt stop-subscription Audit.General -o text"],
    ),
    ("subscriptions", &["o365mgmt subscriptions -o text"]),
    (
        "content",
        &["o365mgmt content list -t Audit.Exchange --start 2026-12-01T00:00:00 --end 2026-12-01T12:00:00"],
    ),
    (
        "gaps",
        &[
            "o365mgmt gaps -o text",
            "o365mgmt gaps --svg gaps.svg",
            "o365mgmt gaps --repair --sink jsonl:repaired.jsonl",
        ],
    ),
    (
        "alerts",
        &[
            "o365mgmt alerts --connector dlp --mask-findings --sink jsonl:alerts.jsonl",
            "o365mgmt alerts --follow --sink webhook:https://soar.example.com/hooks/o365",
        ],
    ),
    (
        "status",
        &["o365mgmt status -o text", "o365mgmt status --serve 127.0.0.1:8080"],
    ),
    ("journal", &["o365mgmt journal --limit 10 -o text"]),
    ("config", &["o365mgmt config show -o text"]),
    (
        "action",
        &["echo '{\"action\": \"ping\", \"case_id\": \"4711\", \"alert_group_identifiers\": []}' | o365mgmt action"],
    ),
    (
        "collect",
        &[
            "o365mgmt collect --once --sink jsonl:audit.jsonl",
            "o365mgmt collect Audit.Exchange,Audit.General --since 3d --follow",
            "o365mgmt collect status -o text",
        ],
    ),
    (
        "backfill",
        &[
            "o365mgmt backfill --all --since 90d --sink jsonl:audit.jsonl",
            "o365mgmt backfill Audit.Exchange --since 2026-09-01T00:00:00Z --until 7d",
        ],
    ),
    (
        "mcp",
        &["o365mgmt mcp", "o365mgmt mcp --http 127.0.0.1:8931"],
    ),
    (
        "serve",
        &[
            "o365mgmt serve --config fleet.toml --sink jsonl:audit.jsonl",
            "o365mgmt serve --config fleet.toml --sink kafka://broker:9092/o365-audit --instance-id node-1",
            "o365mgmt serve --config fleet.toml --listen 127.0.0.1:9465 --shard 2/2",
        ],
    ),
    ("completions", &["o365mgmt completions bash > o365mgmt.bash"]),
    (
        "emulator",
        &[
            "o365mgmt emulator --print-env > emulator.env &",
            "o365mgmt emulator --tenants 3 --tls",
            "o365mgmt emulator --config emulator.example.toml",
        ],
    ),
    ("demo", &["o365mgmt demo"]),
];

/// What follows a command's help: its examples, and the Kafka sink's options where a sink can
/// be Kafka.
fn after_help(name: &str) -> Option<String> {
    let (_, examples) = EXAMPLES.iter().find(|(n, _)| *n == name)?;
    let mut text = String::from("Examples:\n");
    for e in *examples {
        text.push_str("  ");
        text.push_str(e);
        text.push('\n');
    }
    if matches!(name, "collect" | "serve" | "backfill" | "gaps") {
        text.push_str("\nKafka sink options (kafka://HOST:PORT/TOPIC?option=value&…; names with a dot go to librdkafka):\n");
        for (option, what) in o365_collect::sinks::kafka::options() {
            text.push_str(&format!("  {option}: {what}\n"));
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, FromArgMatches as _};

    use super::*;
    use crate::cli::Cli;

    /// The words of an example's `o365mgmt …` part (before a redirection or `&`).
    fn words(example: &str) -> Vec<&str> {
        let from = example.find("o365mgmt").unwrap();
        example[from..]
            .split_whitespace()
            .take_while(|w| !matches!(*w, ">" | "&" | "|"))
            .collect()
    }

    fn parse(args: &[&str]) -> Result<ArgMatches, String> {
        let m = command(Cli::command())
            .try_get_matches_from(args)
            .map_err(|e| e.to_string())?;
        refuse_unused(&m)?;
        Ok(m)
    }

    #[test]
    fn every_command_has_examples_and_each_parses_as_written() {
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            assert!(
                EXAMPLES.iter().any(|(n, _)| *n == name),
                "{name} has no examples"
            );
        }
        for (name, examples) in EXAMPLES {
            for e in *examples {
                let args = words(e);
                assert_eq!(args.get(1), Some(name), "{e}");
                if let Err(err) = parse(&args) {
                    panic!("the example {e:?} does not parse: {err}");
                }
            }
        }
    }

    /// The help of `path` (a command and its subcommand), as printed.
    fn help(path: &[&str]) -> String {
        let mut cmd = command(Cli::command());
        cmd.build();
        let mut c = &mut cmd;
        for p in path {
            c = c.find_subcommand_mut(p).unwrap();
        }
        c.render_help().to_string()
    }

    #[test]
    fn each_help_lists_only_the_flags_its_command_uses() {
        for path in [
            &["collect"][..],
            &["serve"],
            &["status"],
            &["gaps"],
            &["mcp"],
        ] {
            let h = help(path);
            assert!(!h.contains("--case-id"), "{path:?}: {h}");
            assert!(!h.contains("--target-entity"), "{path:?}");
        }
        // Every sink kind of the table, in the help of every command that writes into one.
        for path in [&["collect"][..], &["serve"], &["backfill"], &["gaps"]] {
            let h = help(path);
            for (scheme, ..) in o365_collect::sinks::SCHEMES {
                assert!(
                    h.contains(scheme),
                    "{path:?} --sink leaves out {scheme}: {h}"
                );
            }
        }
        let serve = help(&["serve"]);
        assert!(
            !serve.replace("collect --follow", "").contains("--follow"),
            "{serve}"
        );
        for path in [&["ping"][..], &["start-subscription"], &["content", "list"]] {
            assert!(help(path).contains("--case-id"), "{path:?}");
        }
        for path in [&["emulator"][..], &["demo"], &["completions"]] {
            let h = help(path);
            assert!(!h.contains("--client-secret"), "{path:?}");
            assert!(!h.contains("--output"), "{path:?}");
            assert!(!h.contains("--tenant "), "{path:?}");
        }
        let status = help(&["status"]);
        assert!(status.contains("--state"), "{status}");
        assert!(!status.contains("--client-secret"), "{status}");
        assert!(!status.contains("--proxy"), "{status}");
        let emulator = help(&["emulator"]);
        assert!(emulator.contains("The emulator's TOML file"), "{emulator}");
        assert!(!emulator.contains("o365mgmt.toml"), "{emulator}");
        assert!(serve.contains("--repair-gaps"), "{serve}");
        assert!(serve.contains("assignment_partitions"), "{serve}");
        assert!(!help(&["collect"]).contains("--repair-gaps"));
    }

    #[test]
    fn a_flag_a_command_does_not_use_is_refused_naming_both() {
        let err = parse(&["o365mgmt", "collect", "--case-id", "7"]).unwrap_err();
        assert!(
            err.starts_with("--case-id is not used by `o365mgmt collect`"),
            "{err}"
        );
        // Before the command's name as well, and in a subcommand.
        let err = parse(&["o365mgmt", "--client-secret", "s", "journal"]).unwrap_err();
        assert!(
            err.contains("--client-secret is not used by `o365mgmt journal`"),
            "{err}"
        );
        let err = parse(&["o365mgmt", "collect", "status", "--scope", "x"]).unwrap_err();
        assert!(err.contains("`o365mgmt collect status`"), "{err}");
        let err = parse(&["o365mgmt", "emulator", "-o", "text"]).unwrap_err();
        assert!(err.contains("prints one JSON line"), "{err}");
        let err = parse(&["o365mgmt", "ping", "--repair-gaps", "true"]).unwrap_err();
        assert!(err.contains("setting of `serve`"), "{err}");
        // What a command uses passes, before or after its name.
        parse(&["o365mgmt", "--case-id", "7", "ping"]).unwrap();
        parse(&["o365mgmt", "ping", "--proxy", "http://127.0.0.1:3128"]).unwrap();
        parse(&["o365mgmt", "--state", "s.sqlite", "status"]).unwrap();
        parse(&["o365mgmt", "emulator", "--config", "e.toml"]).unwrap();
        parse(&["o365mgmt", "serve", "--repair-gaps", "true"]).unwrap();
    }

    #[test]
    fn each_value_default_the_help_states_is_the_value_its_flag_reads_to_and_applies() {
        use crate::cli::{Command as Sub, PassArgs};
        let (opts, interval) = crate::pass::options(&PassArgs::default());
        for (id, default) in crate::arg::value_defaults() {
            let flag = format!("--{}", id.replace('_', "-"));
            let commands: Vec<String> = Cli::command()
                .get_subcommands()
                .filter(|c| {
                    c.get_arguments()
                        .any(|a| a.get_id() == id && !a.is_required_set())
                })
                .map(|c| c.get_name().to_string())
                .collect();
            assert!(!commands.is_empty(), "{id}: no command has it");
            for name in commands {
                let h = help(&[&name]);
                assert!(
                    h.contains(&format!("[default: {default}]")),
                    "{name} {flag}: {h}"
                );
                let mut args = vec!["o365mgmt", &name, &flag, &default];
                if name == "backfill" {
                    args.extend(["--since", "2d"]);
                }
                if name == "gaps" {
                    args.push("--repair");
                }
                let m = parse(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
                let cli = Cli::from_arg_matches(&m).unwrap();
                // What the flag reads the stated default to is what applies when it is not given.
                let pass = match &cli.command {
                    Sub::Collect(c) => Some(&c.pass),
                    Sub::Serve(c) => Some(&c.pass),
                    Sub::Alerts(c) => Some(&c.pass),
                    _ => None,
                };
                if let Some(p) = pass {
                    let (o, i) = crate::pass::options(p);
                    assert_eq!(
                        (o.since, o.overlap, o.concurrency, i),
                        (opts.since, opts.overlap, opts.concurrency, interval),
                        "{name} {flag} {default}"
                    );
                }
                use o365_collect::backfill as b;
                let read_back = match (&cli.command, id) {
                    (Sub::Serve(c), "ready_after") => {
                        c.ready_after == Some(crate::arg::DEFAULT_READY_AFTER)
                    }
                    (Sub::Serve(c), "max_in_flight") => {
                        c.max_in_flight == Some(crate::arg::DEFAULT_MAX_IN_FLIGHT)
                    }
                    (Sub::Backfill(c), "window") => c.window == Some(b::DEFAULT_WINDOW),
                    (Sub::Backfill(c), "poll") => c.poll == Some(b::DEFAULT_POLL),
                    (Sub::Backfill(c), "queries") => {
                        c.queries.map(usize::from) == Some(b::DEFAULT_QUERIES)
                    }
                    (Sub::Backfill(c), "max_window_records") => {
                        c.max_window_records == Some(b::DEFAULT_MAX_WINDOW_RECORDS)
                    }
                    (Sub::Gaps { poll, .. }, "poll") => poll == &Some(b::DEFAULT_POLL),
                    _ => pass.is_some(),
                };
                assert!(read_back, "{name} {flag} {default}: read as another value");
            }
        }
    }
}
