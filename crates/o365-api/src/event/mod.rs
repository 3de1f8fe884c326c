//! Audit events: each event's raw bytes as served, and the few fields a collector needs.

use chrono::NaiveDateTime;
use serde_json::value::RawValue;

use crate::Error;

mod pass;

/// One audit event: the raw JSON bytes as served, plus the fields a collector needs.
#[derive(Debug, Clone)]
pub struct Event {
    /// The event exactly as the service sent it.
    pub raw: Box<RawValue>,
    /// `Id` (the de-duplication key).
    pub id: String,
    /// `CreationTime` (UTC, no zone on the wire).
    pub creation_time: Option<NaiveDateTime>,
    /// `RecordType` (numbers or strings are both accepted).
    pub record_type: Option<i64>,
    /// `Operation`.
    pub operation: Option<String>,
    /// `Workload`.
    pub workload: Option<String>,
    /// `UserId`.
    pub user_id: Option<String>,
}

/// Parse an event `CreationTime` (`YYYY-MM-DDTHH:MM:SS`, optional fraction and `Z`).
pub fn parse_creation_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim_end_matches('Z');
    fast_time(s.as_bytes())
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok())
}

/// `YYYY-MM-DDTHH:MM:SS` without fraction, parsed by hand (the common case).
fn fast_time(b: &[u8]) -> Option<NaiveDateTime> {
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
        })
    };
    chrono::NaiveDate::from_ymd_opt(n(0..4)? as i32, n(5..7)?, n(8..10)?)?.and_hms_opt(
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    )
}

/// Decode a blob (a JSON array of events), each event owning a copy of its bytes.
pub fn decode_blob(body: &[u8]) -> Result<Vec<Event>, Error> {
    decode_blob_shared(bytes::Bytes::copy_from_slice(body))?
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let raw = RawValue::from_string(e.raw_str().to_owned())
                .map_err(|err| blob_error(format!("$[{i}]"), err.to_string()))?;
            Ok(Event {
                raw,
                id: e.id().to_owned(),
                creation_time: e.creation_time,
                record_type: e.record_type,
                operation: e.operation().map(str::to_owned),
                workload: e.workload().map(str::to_owned),
                user_id: e.user_id().map(str::to_owned),
            })
        })
        .collect()
}

/// A content blob that cannot be decoded: where (`path`) and why.
fn blob_error(path: String, message: impl Into<String>) -> Error {
    Error::Decode {
        what: "content blob".into(),
        path,
        message: message.into(),
    }
}

/// A field's text: a range of the raw event when it needs no unescaping, else owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Text {
    Range(u32, u32),
    Owned(String),
}

/// One audit event whose raw bytes are a slice of the blob's buffer: no copy and, for plain
/// field values, no allocation per event.
#[derive(Debug, Clone)]
pub struct SharedEvent {
    /// The event exactly as the service sent it (valid UTF-8 JSON).
    pub raw: bytes::Bytes,
    id: Text,
    /// `CreationTime` (UTC, no zone on the wire).
    pub creation_time: Option<NaiveDateTime>,
    /// `RecordType`.
    pub record_type: Option<i64>,
    operation: Option<Text>,
    workload: Option<Text>,
    user_id: Option<Text>,
}

impl SharedEvent {
    /// The raw JSON as text.
    pub fn raw_str(&self) -> &str {
        // The bytes were validated as UTF-8 JSON when the blob was decoded.
        std::str::from_utf8(&self.raw).unwrap_or_default()
    }

    fn text<'a>(&'a self, t: &'a Text) -> &'a str {
        match t {
            Text::Range(a, b) => {
                std::str::from_utf8(&self.raw[*a as usize..*b as usize]).unwrap_or_default()
            }
            Text::Owned(s) => s,
        }
    }

    /// `Id` (the de-duplication key).
    pub fn id(&self) -> &str {
        self.text(&self.id)
    }
    /// `Operation`.
    pub fn operation(&self) -> Option<&str> {
        self.operation.as_ref().map(|t| self.text(t))
    }
    /// `Workload`.
    pub fn workload(&self) -> Option<&str> {
        self.workload.as_ref().map(|t| self.text(t))
    }
    /// `UserId`.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_ref().map(|t| self.text(t))
    }
}

/// Decode a blob in one validating pass that also finds each event's bounds and the fields a
/// collector needs: the events share `body` (no copy).
pub fn decode_blob_shared(body: bytes::Bytes) -> Result<Vec<SharedEvent>, Error> {
    let elements = pass::pass(&body).map_err(|e| {
        let before = &body[..e.at.min(body.len())];
        let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
        let column = before.len()
            - before
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |n| n + 1)
            + 1;
        blob_error(
            format!("$ (line {line} column {column})"),
            format!("{} (at byte {})", e.what, e.at),
        )
    })?;
    let mut out = Vec::with_capacity(elements.len());
    for (i, el) in elements.into_iter().enumerate() {
        let Some(f) = el.found else {
            return Err(blob_error(
                format!("$[{i}]"),
                "every event must be a JSON object",
            ));
        };
        let id = f.id.ok_or_else(|| {
            blob_error(
                format!("$[{i}].Id"),
                "every event must have an Id (a string)",
            )
        })?;
        let raw = body.slice(el.start..el.end);
        let creation_time = f.creation_time.as_ref().and_then(|t| match t {
            Text::Range(a, b) => {
                let v = &raw[*a as usize..*b as usize];
                fast_time(v).or_else(|| std::str::from_utf8(v).ok().and_then(parse_creation_time))
            }
            Text::Owned(o) => parse_creation_time(o),
        });
        out.push(SharedEvent {
            raw,
            id,
            creation_time,
            record_type: f.record_type,
            operation: f.operation,
            workload: f.workload,
            user_id: f.user_id,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod shared_tests {
    use super::*;

    #[test]
    fn both_decodes_give_the_fields_as_written() {
        let body = br#"[
          {"CreationTime":"2026-11-26T20:27:32","Id":"a-1","Operation":"Send","RecordType":2,"Workload":"Exchange","UserId":"grace@x","Big":{"n":[1,{"s":"}]\"x"}]}},
          {"Id":"b\u002d2","Nested":{"Id":"not-this"},"CreationTime":"2026-11-26T20:27:32.123Z","RecordType":"15","Operation":"Op \"quoted\"","UserId":null},
          {"Big":"\\\"","Id":"c-3"},
          {  "Id" : "d-4" , "RecordType" : -1 , "Workload" : "W" }
        ]"#;
        let a = decode_blob(body).unwrap();
        let b = decode_blob_shared(bytes::Bytes::from_static(body)).unwrap();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.raw.get(), y.raw_str());
            assert_eq!(
                (
                    x.id.as_str(),
                    x.creation_time,
                    x.record_type,
                    x.operation.as_deref(),
                    x.workload.as_deref(),
                    x.user_id.as_deref()
                ),
                (
                    y.id(),
                    y.creation_time,
                    y.record_type,
                    y.operation(),
                    y.workload(),
                    y.user_id()
                )
            );
        }
        let fields: Vec<_> = b
            .iter()
            .map(|e| {
                (
                    e.id(),
                    e.record_type,
                    e.operation(),
                    e.workload(),
                    e.user_id(),
                )
            })
            .collect();
        assert_eq!(
            fields,
            [
                (
                    "a-1",
                    Some(2),
                    Some("Send"),
                    Some("Exchange"),
                    Some("grace@x")
                ),
                ("b-2", Some(15), Some("Op \"quoted\""), None, None),
                ("c-3", None, None, None, None),
                ("d-4", Some(-1), None, Some("W"), None),
            ]
        );
        let t = |s| parse_creation_time(s);
        assert_eq!(b[0].creation_time, t("2026-11-26T20:27:32"));
        assert_eq!(b[1].creation_time, t("2026-11-26T20:27:32.123"));
        assert!(b[1].creation_time.is_some() && b[2].creation_time.is_none());
        assert!(b[3].raw_str().starts_with("{  \"Id\" : \"d-4\""));
        assert!(
            decode_blob_shared(bytes::Bytes::from_static(b"[{\"x\":1}]")).is_err(),
            "Id required"
        );
        assert!(
            decode_blob_shared(bytes::Bytes::from_static(b"[{\"Id\":\"a\"")).is_err(),
            "invalid JSON"
        );
    }
}
