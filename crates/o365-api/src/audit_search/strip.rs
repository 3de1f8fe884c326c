//! Graph's `auditData` is the classic audit record plus OData annotations
//! (`"@odata.type": "#microsoft.graph.security.defaultAuditData"`,
//! `"RecordType@odata.type": "#Int64"`, …) that the Management Activity API never sends.
//! [`strip`] removes every member whose name holds `@odata.`, at any depth, and keeps the rest
//! in its order: the record the feed would have served.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Whether a member name is an OData annotation.
fn is_annotation(name: &str) -> bool {
    name.contains("@odata.")
}

/// `json` without its OData annotations, members in their order, as compact JSON.
pub fn strip(json: &str) -> Result<String, serde_json::Error> {
    let mut out = String::with_capacity(json.len());
    let mut de = serde_json::Deserializer::from_str(json);
    Copy(&mut out).deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

/// Writes what it is given to the string, leaving annotations out.
struct Copy<'a>(&'a mut String);

fn push_json<T: serde::Serialize + ?Sized>(out: &mut String, v: &T) {
    // Serialising a string or number to a string cannot fail.
    if let Ok(s) = serde_json::to_string(v) {
        out.push_str(&s);
    }
}

impl<'de> DeserializeSeed<'de> for Copy<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Copy<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push_str(&v.to_string());
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push_str(&v.to_string());
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        push_json(self.0, &v);
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        push_json(self.0, v);
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push_str("null");
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.0.push_str("null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.push('[');
        let mut first = true;
        loop {
            let mark = self.0.len();
            if !first {
                self.0.push(',');
            }
            if seq.next_element_seed(Copy(self.0))?.is_none() {
                self.0.truncate(mark);
                break;
            }
            first = false;
        }
        self.0.push(']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.push('{');
        let mut first = true;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if is_annotation(&k) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if !first {
                self.0.push(',');
            }
            first = false;
            push_json(self.0, k.as_ref());
            self.0.push(':');
            map.next_value_seed(Copy(self.0))?;
        }
        self.0.push('}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    #[test]
    fn annotations_go_and_the_order_stays() {
        let a = r##"{"@odata.type":"#microsoft.graph.security.defaultAuditData","CreationTime":"2026-01-01T00:00:00","Id":"x","RecordType":15,"RecordType@odata.type":"#Int64","Nested":{"a@odata.type":"#Int64","a":1,"b":[{"@odata.id":"q","c":"\"é\\"}]},"Z":null,"F":1.5,"T":true}"##;
        assert_eq!(
            strip(a).unwrap(),
            r#"{"CreationTime":"2026-01-01T00:00:00","Id":"x","RecordType":15,"Nested":{"a":1,"b":[{"c":"\"é\\"}]},"Z":null,"F":1.5,"T":true}"#
        );
        assert!(strip("{\"a\":1} x").is_err());
        assert!(strip("{\"a\":").is_err());
        assert_eq!(strip("[]").unwrap(), "[]");
        assert_eq!(strip("{}").unwrap(), "{}");
    }

    /// JSON values whose member names hold no annotation.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[ -~é\"\\\\\\n]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[A-Za-z]{1,6}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// The same value with annotations beside its members, as Graph writes them.
    fn annotate(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let mut s = String::from("{\"@odata.type\":\"#t\"");
                for (k, x) in m {
                    s.push_str(&format!(
                        ",{}:{},{}:\"#Int64\"",
                        serde_json::to_string(k).unwrap(),
                        annotate(x),
                        serde_json::to_string(&format!("{k}@odata.type")).unwrap()
                    ));
                }
                s.push('}');
                s
            }
            Value::Array(a) => {
                format!("[{}]", a.iter().map(annotate).collect::<Vec<_>>().join(","))
            }
            other => other.to_string(),
        }
    }

    proptest! {
        /// Differential against serde_json: what is left is the value without annotations.
        #[test]
        fn stripping_an_annotated_value_gives_the_value(v in value()) {
            let got = strip(&annotate(&v)).unwrap();
            prop_assert_eq!(serde_json::from_str::<Value>(&got).unwrap(), v.clone());
            // Nothing to strip: the bytes are serde_json's own.
            prop_assert_eq!(strip(&v.to_string()).unwrap(), v.to_string());
        }
    }
}
