//! The pass against serde_json: the same blobs accepted, the same event bytes, the same fields.

use super::*;
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::Value;

/// serde_json's verdict: the elements' byte ranges, or `None` when it refuses the blob.
fn serde_ranges(b: &[u8]) -> Option<Vec<(usize, usize)>> {
    let raws: Vec<&RawValue> = serde_json::from_slice(b).ok()?;
    let base = b.as_ptr() as usize;
    Some(
        raws.iter()
            .map(|r| {
                let s = r.get().as_ptr() as usize - base;
                (s, s + r.get().len())
            })
            .collect(),
    )
}

fn our_ranges(b: &[u8]) -> Option<Vec<(usize, usize)>> {
    pass(b)
        .ok()
        .map(|els| els.iter().map(|e| (e.start, e.end)).collect())
}

fn text(event: &[u8], t: &Option<Text>) -> Option<String> {
    t.as_ref().map(|t| match t {
        Text::Range(a, b) => String::from_utf8(event[*a as usize..*b as usize].to_vec()).unwrap(),
        Text::Owned(s) => s.clone(),
    })
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "(?s).{0,12}".prop_map(Value::String),
        "[a-z\"\\\\/\u{1}\u{1f}\n\té€😀]{0,8}".prop_map(Value::String),
        // Long enough for the bulk path, with something needing attention now and then.
        "[a-z ]{50,90}[\"\\\\\u{1}é€😀\n]?[a-z]{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Id".to_string()),
        Just("CreationTime".to_string()),
        Just("RecordType".to_string()),
        Just("Operation".to_string()),
        Just("Workload".to_string()),
        Just("UserId".to_string()),
        "[A-Za-z\"\\\\é]{0,6}",
    ]
}

/// A blob: an array of events (objects, sometimes carrying the six fields), or of anything.
fn blob() -> impl Strategy<Value = Value> {
    let event = (
        prop::collection::btree_map(key(), value(), 0..8),
        prop::option::of("[a-z0-9\\-\"\\\\]{0,10}"),
        prop::option::of(prop_oneof![
            "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,3})?Z?",
            ".{0,5}"
        ]),
        prop::option::of(prop_oneof![
            any::<i32>().prop_map(Value::from),
            "-?[0-9]{1,4}".prop_map(Value::String),
            Just(Value::from(2.5)),
        ]),
    )
        .prop_map(|(mut m, id, time, rt)| {
            if let Some(id) = id {
                m.insert("Id".into(), Value::String(id));
            }
            if let Some(t) = time {
                m.insert("CreationTime".into(), Value::String(t));
            }
            if let Some(rt) = rt {
                m.insert("RecordType".into(), rt);
            }
            Value::Object(m.into_iter().collect())
        });
    prop::collection::vec(prop_oneof![4 => event, 1 => value()], 0..6).prop_map(Value::Array)
}

/// Bytes worth inserting: structure, escapes, number parts, control and non-ASCII bytes.
const SPICE: &[u8] = b"\"\\{}[],:0-.eEu+ \n\x01\x1f\xc3\xa9\x80\xff\xed\xa0tfn";

fn mutate(mut b: Vec<u8>, edits: &[(usize, usize, u8)]) -> Vec<u8> {
    for &(kind, at, spice) in edits {
        let at = if b.is_empty() { 0 } else { at % (b.len() + 1) };
        let c = SPICE[spice as usize % SPICE.len()];
        match kind % 3 {
            0 => b.insert(at, c),
            1 if at < b.len() => {
                b.remove(at);
            }
            _ if at < b.len() => b[at] = c,
            _ => b.push(c),
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_blobs_give_serdes_events_and_fields(v in blob(), pretty in any::<bool>()) {
        let s = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
        let b = s.as_bytes();
        prop_assert_eq!(our_ranges(b), serde_ranges(b));
        let els = pass(b).unwrap();
        for (el, v) in els.iter().zip(v.as_array().unwrap()) {
            let Some(obj) = v.as_object() else {
                prop_assert!(el.found.is_none());
                continue;
            };
            let f = el.found.as_ref().unwrap();
            let ev = &b[el.start..el.end];
            let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
            prop_assert_eq!(text(ev, &f.id), s("Id"));
            prop_assert_eq!(text(ev, &f.creation_time), s("CreationTime"));
            prop_assert_eq!(text(ev, &f.operation), s("Operation"));
            prop_assert_eq!(text(ev, &f.workload), s("Workload"));
            prop_assert_eq!(text(ev, &f.user_id), s("UserId"));
            let rt = match obj.get("RecordType") {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            prop_assert_eq!(f.record_type, rt);
        }
    }

    #[test]
    fn damaged_blobs_are_refused_exactly_when_serde_refuses_them(
        v in blob(),
        edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let b = mutate(serde_json::to_vec(&v).unwrap(), &edits);
        prop_assert_eq!(our_ranges(&b), serde_ranges(&b), "{}", String::from_utf8_lossy(&b));
    }

    #[test]
    fn any_bytes_agree_with_serde(b in prop::collection::vec(prop::sample::select(SPICE.to_vec()), 0..40)) {
        let b = [b"[".as_slice(), &b].concat();
        prop_assert_eq!(our_ranges(&b), serde_ranges(&b));
    }
}

#[test]
fn deep_nesting_is_accepted_as_serde_accepts_it() {
    for depth in [126, 127, 128, 129, 100_000] {
        let b = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(
            our_ranges(b.as_bytes()),
            serde_ranges(b.as_bytes()),
            "depth {depth}"
        );
        let b = format!(
            "[{}1{}]",
            r#"{"a":"#.repeat(depth - 1),
            "}".repeat(depth - 1)
        );
        assert_eq!(
            our_ranges(b.as_bytes()),
            serde_ranges(b.as_bytes()),
            "objects, depth {depth}"
        );
    }
}

#[test]
fn an_escaped_key_still_names_its_field_and_the_first_occurrence_counts() {
    let b = br#"[{"I\u0064":"a\"b","Id":"second","Recor\u0064Type":"7","Workload":"W\u00e9"}]"#;
    let els = pass(b).unwrap();
    let f = els[0].found.as_ref().unwrap();
    let ev = &b[els[0].start..els[0].end];
    assert_eq!(text(ev, &f.id).as_deref(), Some("a\"b"));
    assert_eq!(f.record_type, Some(7));
    assert_eq!(text(ev, &f.workload).as_deref(), Some("Wé"));
}

#[test]
fn errors_say_what_and_where() {
    let cases: [(&[u8], &str, usize); 7] = [
        (b"", "ends in the middle", 0),
        (b"{}", "a content blob is a JSON array", 0),
        (b"[{\"Id\":\"a\x01\"}]", "control character", 9),
        (b"[{\"Id\":\"a\\x\"}]", "invalid escape", 10),
        (b"[{\"Id\":01}]", "leading zeros", 8),
        (b"[{\"Id\":\"\xff\"}]", "invalid UTF-8", 8),
        (b"[] x", "after the array", 3),
    ];
    for (b, what, at) in cases {
        let e = pass(b).err().unwrap();
        assert!(
            e.what.contains(what),
            "{e:?} for {:?}",
            String::from_utf8_lossy(b)
        );
        assert_eq!(e.at, at, "{e:?}");
    }
}

#[test]
fn plain_run_stops_at_the_first_byte_needing_attention() {
    for len in 0..SHORT + 20 {
        for at in 0..len {
            for c in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xff] {
                let mut b = vec![b'a'; len];
                b[at] = c;
                // A later byte that would also stop it must not matter.
                if at + 1 < len {
                    b[len - 1] = b'"';
                }
                assert_eq!(plain_run(&b), at, "len {len} at {at} byte {c:#x}");
            }
        }
        assert_eq!(plain_run(&vec![b' '; len]), len);
    }
    // Past the short stretch, valid non-ASCII text is skipped in bulk; invalid is not.
    let long = format!("{}é€😀{}\"tail", "a".repeat(SHORT), "b".repeat(40));
    assert_eq!(plain_run(long.as_bytes()), long.find('"').unwrap());
    let mut bad = long.clone().into_bytes();
    bad[SHORT + 1] = b'a'; // the second byte of `é`: its first byte is now alone
    assert_eq!(plain_run(&bad), SHORT);
    let ctrl = format!("{}é\u{1}\"", "a".repeat(SHORT));
    assert_eq!(plain_run(ctrl.as_bytes()), SHORT + 2);
}
