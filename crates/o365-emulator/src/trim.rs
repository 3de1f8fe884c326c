//! Records smaller than their shape: a record longer than the configured event size loses its
//! last optional fields, whole, until it fits. The common-schema fields always stay, so a
//! trimmed record is still an audit record every consumer can read.

/// Fields of the common schema (and those a collector indexes): never removed.
const KEPT: [&str; 10] = [
    "CreationTime",
    "Id",
    "Operation",
    "OrganizationId",
    "RecordType",
    "UserKey",
    "UserType",
    "Version",
    "Workload",
    "UserId",
];

/// The top-level members of the object that starts at `s[0]` (`{`, its closing brace absent or
/// present): each as the byte range of `"name":value`, with the name.
fn members(s: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    let mut start = None;
    for (i, &c) in b.iter().enumerate() {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => {
                in_str = true;
                if depth == 1 && start.is_none() {
                    start = Some(i);
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                if depth == 1 {
                    if let Some(st) = start.take() {
                        out.push(st..i);
                    }
                }
                depth = depth.saturating_sub(1);
            }
            b',' if depth == 1 => {
                if let Some(st) = start.take() {
                    out.push(st..i);
                }
            }
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push(st..b.len());
    }
    out.into_iter()
        .map(|r| {
            let name = s[r.start + 1..].split('"').next().unwrap_or_default();
            (r, name)
        })
        .collect()
}

/// Shorten the record `s[start..]` (an object without its closing brace) to at most `size`
/// bytes with the brace, dropping optional fields from the end; the kept fields stay in order.
/// A record whose common fields alone are longer keeps just those.
pub(crate) fn trim_record(s: &mut String, start: usize, size: usize) {
    let rec = &s[start..];
    if rec.len() < size {
        return;
    }
    let fields = members(rec);
    // `{`, the members, the commas between them and `}`.
    let mut len =
        2 + fields.iter().map(|(r, _)| r.len()).sum::<usize>() + fields.len().saturating_sub(1);
    let mut keep = vec![true; fields.len()];
    for (i, (r, name)) in fields.iter().enumerate().rev() {
        if len <= size {
            break;
        }
        if !KEPT.contains(name) {
            keep[i] = false;
            len -= r.len() + 1;
        }
    }
    let mut out = String::with_capacity(size);
    out.push('{');
    for ((r, _), _) in fields.iter().zip(&keep).filter(|(_, k)| **k) {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&rec[r.clone()]);
    }
    s.truncate(start);
    s.push_str(&out);
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &str = r#"{"CreationTime":"2026-12-04T12:01:35","Id":"ab3f","Operation":"UserLoggedIn","OrganizationId":"7c1e","RecordType":15,"UserKey":"b529","UserType":0,"Version":1,"Workload":"AzureActiveDirectory","ClientIP":"203.0.113.54","Extended":[{"Name":"a,\"}b","Value":"x"}],"UserId":"dave@contoso.onmicrosoft.com","Actor":[{"ID":"b5","Type":0}],"Tail":"end"}"#;

    fn trimmed(size: usize) -> String {
        let mut s = String::from("[");
        s.push_str(&REC[..REC.len() - 1]);
        trim_record(&mut s, 1, size);
        s.push('}');
        s[1..].to_string()
    }

    #[test]
    fn members_follow_nesting_and_strings() {
        let names: Vec<&str> = members(REC).into_iter().map(|(_, n)| n).collect();
        assert_eq!(
            names,
            [
                "CreationTime",
                "Id",
                "Operation",
                "OrganizationId",
                "RecordType",
                "UserKey",
                "UserType",
                "Version",
                "Workload",
                "ClientIP",
                "Extended",
                "UserId",
                "Actor",
                "Tail"
            ]
        );
    }

    #[test]
    fn a_record_that_fits_is_unchanged() {
        assert_eq!(trimmed(REC.len() + 1), REC);
    }

    #[test]
    fn trimmed_records_are_json_within_size_with_the_common_fields() {
        let full: serde_json::Value = serde_json::from_str(REC).unwrap();
        for size in 0..REC.len() + 5 {
            let t = trimmed(size);
            let v: serde_json::Value =
                serde_json::from_str(&t).unwrap_or_else(|e| panic!("size {size}: {e}: {t}"));
            let o = v.as_object().unwrap();
            for k in KEPT {
                assert_eq!(o.get(k), full.get(k), "size {size}: {k}");
            }
            // The fields kept are the original's, in the original's order.
            let names = |r: &str| -> Vec<String> {
                members(r).into_iter().map(|(_, n)| n.to_string()).collect()
            };
            let all = names(REC);
            let kept = names(&t);
            assert_eq!(
                all.iter().filter(|n| kept.contains(n)).collect::<Vec<_>>(),
                kept.iter().collect::<Vec<_>>(),
                "size {size}"
            );
            for (k, val) in o {
                assert_eq!(Some(val), full.get(k), "size {size}: {k}");
            }
            let common = trimmed(0).len();
            assert!(
                t.len() <= size.max(common),
                "size {size}: {} bytes",
                t.len()
            );
        }
    }

    #[test]
    fn optional_fields_go_from_the_end() {
        let t = trimmed(REC.len() - 5);
        assert!(!t.contains("Tail") && t.contains("Actor"), "{t}");
    }
}
