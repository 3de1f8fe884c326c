//! Flattening a record into one level of keys, as the connectors' events are: a nested object
//! becomes `parent_child`; objects and lists inside a list become `parent_<n>_child` (n from 1);
//! scalars of a list become `parent_<n>`, numbered after the objects and lists; `null` becomes
//! `""`; scalars become text (`13` → `"13"`, `true` → `"True"`), except a list's scalar with no
//! object above it, which keeps its JSON type (`{"a":[1]}` → `a_1: 1`). Empty lists and objects
//! vanish.

use serde_json::{Map, Value};

/// Flatten an object.
pub fn flatten(record: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in record {
        expand(k, v, false, &mut out);
    }
    out
}

/// A scalar as text, the way the connectors write it.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn expand(key: &str, v: &Value, under_object: bool, out: &mut Map<String, Value>) {
    match v {
        Value::Null => {
            out.insert(key.into(), Value::String(String::new()));
        }
        Value::Object(m) => {
            for (k, sub) in m {
                expand(&format!("{key}_{k}"), sub, true, out);
            }
        }
        Value::Array(items) => {
            let mut n = 1;
            for item in items {
                match item {
                    Value::Object(m) => {
                        for (k, sub) in m {
                            expand(&format!("{key}_{n}_{k}"), sub, true, out);
                        }
                        n += 1;
                    }
                    Value::Array(_) => {
                        expand(&format!("{key}_{n}"), item, under_object, out);
                        n += 1;
                    }
                    _ => {}
                }
            }
            for item in items {
                if !matches!(item, Value::Object(_) | Value::Array(_)) {
                    let v = if under_object || item.is_null() {
                        Value::String(text(item))
                    } else {
                        item.clone()
                    };
                    out.insert(format!("{key}_{n}"), v);
                    n += 1;
                }
            }
        }
        scalar => {
            out.insert(key.into(), Value::String(text(scalar)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flat(v: Value) -> Value {
        Value::Object(flatten(v.as_object().unwrap()))
    }

    #[test]
    fn the_rules() {
        assert_eq!(
            flat(json!({"a": {"b": 1, "c": true, "d": null}})),
            json!({"a_b": "1", "a_c": "True", "a_d": ""})
        );
        assert_eq!(flat(json!({"a": [1, "x"]})), json!({"a_1": 1, "a_2": "x"}));
        assert_eq!(flat(json!({"o": {"a": [1]}})), json!({"o_a_1": "1"}));
        // Objects first, then scalars numbered after them.
        assert_eq!(
            flat(json!({"l": ["s", {"k": 2}, [3]]})),
            json!({"l_1_k": "2", "l_2_1": 3, "l_3": "s"})
        );
        assert_eq!(flat(json!({"e": [], "f": {}, "g": 13})), json!({"g": "13"}));
    }
}
