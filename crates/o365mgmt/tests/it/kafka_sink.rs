//! The Kafka sink driven directly, for moments the service cannot be brought to on cue.

use chrono::{Duration as Span, Utc};
use o365_api::ContentType;
use o365_collect::sinks::{BlobOut, Sink};
use o365_collect::{SinkSpec, SpecContext};
use serde_json::{json, Value};

use crate::kafka::Broker;

const TENANT: &str = "5f1c2d3e-0a1b-4c2d-8e3f-112233445566";

/// Events `from..to` of the test, as the service sends them.
fn events(from: usize, to: usize) -> Vec<Value> {
    let t0 = Utc::now() - Span::hours(1);
    (from..to)
        .map(|i| {
            json!({
                "Id": format!("00000000-0000-4000-8000-{i:012}"),
                "CreationTime": (t0 + Span::seconds(i as i64)).format("%Y-%m-%dT%H:%M:%S").to_string(),
                "RecordType": 1,
                "Operation": "Set-Mailbox",
                "Workload": "Exchange",
                "UserId": "admin@example.com",
            })
        })
        .collect()
}

/// A blob of these events.
fn blob(id: &str, events: &[Value]) -> BlobOut {
    let body = serde_json::to_vec(events).unwrap();
    BlobOut {
        tenant: TENANT.into(),
        content_type: ContentType::General,
        content_id: id.into(),
        content_created: Utc::now() - Span::minutes(30),
        events: o365_api::event::decode_blob_shared(body.into()).unwrap(),
        lost: None,
    }
}

/// Open the sink as a new instance would and commit each blob in turn; the events each wrote.
fn as_a_new_instance(spec: &SinkSpec, blobs: Vec<BlobOut>) -> Vec<u64> {
    let mut sink: Box<dyn Sink> = spec.open().unwrap();
    blobs
        .into_iter()
        .map(|b| {
            let c = sink.commit(&[b], &[]).unwrap();
            assert!(c.failed.is_empty(), "commit failed: {:?}", c.failed);
            c.written[0]
        })
        .collect()
}

#[test]
fn events_a_dead_transaction_left_visible_stay_written_after_the_tail_moves_on() {
    let broker = Broker::start();
    let ctx = SpecContext {
        stdout_checkpoint: std::env::temp_dir().join("unused"),
    };
    let spec = SinkSpec::parse(&broker.sink("audit"), &ctx).unwrap();
    let all = events(0, 15);
    // An instance writes blob 1.
    assert_eq!(as_a_new_instance(&spec, vec![blob("b1", &all[0..3])]), [3]);
    // Another began blob 2 and died: its first half is visible to consumers (this broker does
    // not hide aborted data), in one batch, and no checkpoint counts it.
    broker.produce_stray("audit", TENANT, &all[3..6]);
    // The next instance writes blobs 3 and 4: its tail moves past the visible half of blob 2.
    assert_eq!(
        as_a_new_instance(
            &spec,
            vec![blob("b3", &all[9..12]), blob("b4", &all[12..15])]
        ),
        [3, 3]
    );
    // The one after that writes blob 2: only its second half is new.
    assert_eq!(
        as_a_new_instance(&spec, vec![blob("b2", &all[3..9])]),
        [3],
        "events that consumers could already see were written again"
    );
    let read = broker.read("audit");
    let mut got = read.by_tenant[TENANT].clone();
    let mut want: Vec<String> = all
        .iter()
        .map(|e| e["Id"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "each event once");
}
