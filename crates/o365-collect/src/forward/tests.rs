use super::*;
use crate::sinks::jsonl::{JsonlKind, LineMap};
use crate::sinks::BlobOut;
use std::sync::Arc;

/// Each event becomes the line `{"ticket_id": "<its Id>"}`.
#[derive(Debug)]
struct Ids;

impl LineMap for Ids {
    fn scheme(&self) -> &'static str {
        "ids"
    }
    fn lines(&self, _: &BlobOut, events: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
        Ok(events.iter().map(|e| e.to_vec()).collect())
    }
}

/// A spool with `n` committed lines (through the JSONL sink, as the collector writes it).
fn spool(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("alerts.jsonl");
    let spec = crate::SinkSpec::new(JsonlKind::mapped(path.clone(), Arc::new(Ids)));
    let mut sink = spec.open().unwrap();
    let body: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"Id":"id-{i}","CreationTime":"2026-11-28T10:00:00","ticket_id":"id-{i}"}}"#
            )
        })
        .collect();
    let events =
        o365_api::event::decode_blob_shared(format!("[{}]", body.join(",")).into_bytes().into())
            .unwrap();
    let blob = BlobOut {
        tenant: "t".into(),
        content_type: o365_api::ContentType::DlpAll,
        content_id: "c1".into(),
        content_created: chrono::Utc::now(),
        events,
        lost: None,
    };
    sink.commit(&[blob], &[]).unwrap();
    path
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["ticket_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn a_cap_leaves_the_rest_for_the_next_run_and_each_line_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spool(dir.path(), 12);
    let out = dir.path().join("out.jsonl");
    let rt = rt();
    let mut runs = vec![];
    loop {
        let mut f = Forwarder::open(
            &spool,
            Target::Jsonl(out.clone()),
            &Default::default(),
            rt.handle().clone(),
        )
        .unwrap();
        let r = f.forward(Some(5)).unwrap();
        runs.push((r.delivered, r.waiting));
        if r.waiting == 0 {
            assert_eq!(r.total, 12);
            break;
        }
    }
    assert_eq!(runs, [(5, 7), (5, 2), (2, 0)]);
    let want: Vec<String> = (0..12).map(|i| format!("id-{i}")).collect();
    assert_eq!(ids(&out), want);
    // Nothing new: nothing more.
    let mut f = Forwarder::open(
        &spool,
        Target::Jsonl(out.clone()),
        &Default::default(),
        rt.handle().clone(),
    )
    .unwrap();
    assert_eq!(f.forward(None).unwrap().delivered, 0);
    assert_eq!(ids(&out).len(), 12);
}

#[test]
fn lines_written_but_not_recorded_are_cut_and_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spool(dir.path(), 6);
    let out = dir.path().join("out.jsonl");
    let rt = rt();
    {
        let mut f = Forwarder::open(
            &spool,
            Target::Jsonl(out.clone()),
            &Default::default(),
            rt.handle().clone(),
        )
        .unwrap();
        assert_eq!(f.forward(Some(2)).unwrap().delivered, 2);
    }
    // A stop after writing, before recording: the file has lines the cursor does not.
    let mut extra = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
    std::io::Write::write_all(
        &mut extra,
        b"{\"ticket_id\":\"id-2\"}\n{\"ticket_id\":\"id-3\"}\n",
    )
    .unwrap();
    drop(extra);
    let mut f = Forwarder::open(
        &spool,
        Target::Jsonl(out.clone()),
        &Default::default(),
        rt.handle().clone(),
    )
    .unwrap();
    assert_eq!(f.forward(None).unwrap().delivered, 4);
    let want: Vec<String> = (0..6).map(|i| format!("id-{i}")).collect();
    assert_eq!(ids(&out), want);
}

#[test]
fn uncommitted_spool_lines_are_not_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spool(dir.path(), 3);
    // Half a write beyond the committed length (the collector stopped mid-commit).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&spool)
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"ticket_id\":\"torn\"}\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let rt = rt();
    let mut fw = Forwarder::open(
        &spool,
        Target::Jsonl(out.clone()),
        &Default::default(),
        rt.handle().clone(),
    )
    .unwrap();
    let r = fw.forward(None).unwrap();
    assert_eq!((r.delivered, r.waiting), (3, 0));
    assert!(!ids(&out).contains(&"torn".to_string()));
}

#[test]
fn targets_parse_and_refuse_with_the_forms() {
    assert!(Target::parse("stdout").unwrap().writes_stdout());
    assert_eq!(
        Target::parse("jsonl:/a/b.jsonl").unwrap().name(),
        "jsonl:/a/b.jsonl"
    );
    let w = Target::parse("webhook:https://soar.example.com/in?token=s3cret").unwrap();
    assert!(!w.name().contains("s3cret"), "{}", w.name());
    assert!(Target::parse("webhook:http://10.0.0.1/in")
        .unwrap_err()
        .contains("loopback"));
    assert!(Target::parse("webhook:http://127.0.0.1:9/in").is_ok());
    assert!(Target::parse("kafka://k:9092/alerts").is_ok());
    for bad in ["sqlite:x", "file.jsonl", "jsonl:"] {
        let e = Target::parse(bad).unwrap_err();
        assert!(
            e.contains("stdout") || e.contains("give a file"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn recent_reads_the_newest_committed_lines_backwards() {
    let dir = tempfile::tempdir().unwrap();
    // Enough lines to span several blocks.
    let spool = spool(dir.path(), 3000);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&spool)
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"ticket_id\":\"uncommitted\"}\n").unwrap();
    let id = |v: &serde_json::Value| v["ticket_id"].as_str().unwrap().to_string();
    let last: Vec<String> = recent(&spool, 3, |_| true)
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(last, ["id-2999", "id-2998", "id-2997"]);
    let all = recent(&spool, 10_000, |_| true).unwrap();
    assert_eq!(all.len(), 3000);
    assert_eq!(id(&all[2999]), "id-0");
    let sevens: Vec<String> = recent(&spool, 2, |v| id(v).ends_with('7'))
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(sevens, ["id-2997", "id-2987"]);
    assert!(recent(&dir.path().join("none.jsonl"), 5, |_| true)
        .unwrap()
        .is_empty());
}

#[cfg(unix)]
#[test]
fn the_forwarding_cursor_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("alerts.jsonl");
    cursor::Cursor::open(&spool, "jsonl:/x").unwrap();
    let mode = std::fs::metadata(cursor::path_of(&spool))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

#[test]
fn one_run_at_a_time_delivers_a_spool_to_an_output_of_any_kind() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spool(dir.path(), 3);
    let rt = rt();
    let hook = |port: u16| {
        Target::Webhook(url::Url::parse(&format!("http://127.0.0.1:{port}/alerts")).unwrap())
    };
    let open = |t: Target| Forwarder::open(&spool, t, &Default::default(), rt.handle().clone());
    let first = open(hook(9)).unwrap();
    let e = open(hook(9)).unwrap_err().to_string();
    assert!(
        e.contains("another run is delivering these alerts to webhook:http://127.0.0.1:9/alerts"),
        "{e}"
    );
    // Another output of the same spool is not held up; nor is stdout by a webhook.
    let other = open(hook(10)).unwrap();
    let out = open(Target::Stdout).unwrap();
    assert!(open(Target::Stdout).is_err(), "stdout is an output too");
    drop((first, other, out));
    open(hook(9)).unwrap();
}

#[test]
fn a_damaged_spool_stops_delivery_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spool(dir.path(), 12);
    let out = dir.path().join("out.jsonl");
    let rt = rt();
    let open = || {
        Forwarder::open(
            &spool,
            Target::Jsonl(out.clone()),
            &Default::default(),
            rt.handle().clone(),
        )
        .unwrap()
    };
    open().forward(Some(4)).unwrap();
    // A garbage line after those delivered (same length: the offsets still agree).
    let text = std::fs::read_to_string(&spool).unwrap();
    let sixth = text.lines().nth(5).unwrap().to_string();
    let garbage = "#".repeat(sixth.len());
    std::fs::write(&spool, text.replacen(&sixth, &garbage, 1)).unwrap();
    let e = open().forward(None).unwrap_err().to_string();
    assert!(e.contains("damaged") && e.contains("is not JSON"), "{e}");
    let delivered = ids(&out);
    assert_eq!(
        delivered.len(),
        4,
        "the batch before the garbage line is held back too"
    );
    // Cut 100 bytes short of what was committed.
    std::fs::write(&spool, &text.as_bytes()[..text.len() - 100]).unwrap();
    let e = open().forward(None).unwrap_err().to_string();
    assert!(e.contains("shorter than"), "{e}");
    assert_eq!(ids(&out), delivered);
    // Restored: the rest arrives, once.
    std::fs::write(&spool, &text).unwrap();
    assert_eq!(open().forward(None).unwrap().delivered, 8);
    let want: Vec<String> = (0..12).map(|i| format!("id-{i}")).collect();
    assert_eq!(ids(&out), want);
}
