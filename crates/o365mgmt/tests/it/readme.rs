//! The README's first examples, run as written: "Try it without a tenant", "One tenant, end to
//! end", "Shipping the events to your SIEM", in one shell, with the binary on the PATH. A README example that breaks fails here.

use std::process::Command;

/// The shell blocks of the README section titled `title`.
fn blocks(readme: &str, title: &str) -> String {
    fenced(readme, title, "sh")
}

/// The blocks fenced as `lang` in the section of `doc` titled `title` (a `## ` heading), joined.
pub(crate) fn fenced(doc: &str, title: &str, lang: &str) -> String {
    let start = doc
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("no section {title:?}"));
    let rest = &doc[start + 4 + title.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut out = String::new();
    let mut inside = false;
    for line in section.lines() {
        if line.starts_with("```") && line[3..].trim() == lang && !inside {
            inside = true;
        } else if line.starts_with("```") {
            inside = false;
        } else if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(!out.is_empty(), "no {lang} block in {title:?}");
    out
}

/// Run `script` in bash in `home`, as a user with nothing configured, the binary on the PATH.
fn run(script: &str, home: &std::path::Path) -> std::process::Output {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_o365mgmt"))
        .parent()
        .unwrap()
        .to_path_buf();
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .current_dir(home)
        .output()
        .unwrap()
}

#[test]
fn the_gcc_high_example_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    // From the repository's root, as the README is read.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../emulator.example.toml");
    let script = format!(
        "set -e\n{}wait\n",
        blocks(&readme, "GCC High (or GCC, DoD)").replace("emulator.example.toml", example)
    );
    let home = tempfile::tempdir().unwrap();
    let o = run(&script, home.path());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(
        o.status.success() || o.status.code() == Some(143),
        "the example failed:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The real GCC High host names, through the emulator's proxy, signed in.
    assert!(stdout.contains("Ping: ok"), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("api root https://manage.office365.us"),
        "{stdout}"
    );
    assert!(stdout.contains("from HTTPS_PROXY"), "{stdout}");
    assert!(
        !home.path().join("data/o365mgmt/state.sqlite").exists(),
        "the emulator's examples write into its own state, never the user's"
    );
}

#[test]
fn the_first_examples_run_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let script = format!(
        "set -e\n{}{}{}kill %1\nwait\n",
        blocks(&readme, "Try it without a tenant"),
        blocks(&readme, "One tenant, end to end"),
        blocks(&readme, "Shipping the events to your SIEM")
    );
    let home = tempfile::tempdir().unwrap();
    let o = run(&script, home.path());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(
        o.status.success(),
        "the README's examples failed:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // What they promise: events in the file, each once; the user's own state untouched.
    let (ids, lines) = crate::jsonl_ids(&home.path().join("events.jsonl"));
    assert!(lines > 1000, "{lines} events\n{stderr}");
    assert_eq!(ids.len(), lines, "events written twice");
    // Shipping: the same events inside envelopes that name the tenant.
    let shipped = std::fs::read_to_string(home.path().join("audit.jsonl")).unwrap();
    let mut enveloped = std::collections::BTreeSet::new();
    for l in shipped.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["tenant_id"].is_string(), "{l}");
        assert!(
            enveloped.insert(v["event"]["Id"].as_str().unwrap().to_string()),
            "twice: {l}"
        );
    }
    assert!(
        enveloped.len() > 1000,
        "{} events in envelopes",
        enveloped.len()
    );
    assert!(
        !home.path().join("data/o365mgmt/state.sqlite").exists(),
        "the emulator's examples write into its own state, never the user's"
    );
}
