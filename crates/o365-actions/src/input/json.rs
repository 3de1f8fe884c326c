//! JSON requests parsed strictly: an object naming a key twice is refused, because "the last one
//! wins" would let `{"action": "ping", "action": "stop_subscription"}` run a stop.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a request is not acceptable JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    Syntax(serde_json::Error),
    /// An object names this key twice.
    #[error("the key {0:?} appears twice in one object: send each argument once")]
    Duplicate(String),
}

/// Parse `text`, refusing duplicate keys at any depth.
pub fn parse_strict(text: &str) -> Result<Value, JsonError> {
    let dup = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Seed(&dup).deserialize(&mut de).and_then(|v| {
        de.end()?;
        Ok(v)
    });
    if let Some(k) = dup.into_inner() {
        return Err(JsonError::Duplicate(k));
    }
    v.map_err(JsonError::Syntax)
}

#[derive(Clone, Copy)]
struct Seed<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(n.into())
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(n.into())
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element_seed(self)? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if m.contains_key(&k) {
                let msg = format!("duplicate key {k:?}");
                *self.0.borrow_mut() = Some(k);
                return Err(A::Error::custom(msg));
            }
            let v = map.next_value_seed(self)?;
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_named_and_the_rest_parses_as_usual() {
        let e = parse_strict(r#"{"action":"ping","action":"stop_subscription"}"#).unwrap_err();
        assert!(
            matches!(&e, JsonError::Duplicate(k) if k == "action"),
            "{e}"
        );
        let e = parse_strict(r#"{"a":{"b":1,"b":2}}"#).unwrap_err();
        assert!(matches!(&e, JsonError::Duplicate(k) if k == "b"), "{e}");
        let v = parse_strict(r#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}]}"#).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a":[1,-2,3.5,"x",null,true,{"b":{}}]})
        );
        assert!(matches!(parse_strict("{} x"), Err(JsonError::Syntax(_))));
        assert!(matches!(parse_strict("nope"), Err(JsonError::Syntax(_))));
    }
}
