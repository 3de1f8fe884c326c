//! The SOAR integration's parameter export (`--soar-config`): a JSON object keyed by the
//! integration's parameter names, the same wrapped as `{"parameters": {...}}`, or a list of
//! `{"Name": ..., "Value": ...}`. Read in order, a parameter named twice refused (a JSON
//! object's repeated key would otherwise keep only its last value, without a word).

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::{ConfigError, Key};

/// An object's entries in order, a name given twice kept twice.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// `{"parameters": {...}}`.
#[derive(serde::Deserialize)]
struct Wrapped {
    parameters: Entries,
}

const SHAPE: &str = "expected a JSON object keyed by the integration's parameter names, e.g. {\"Api Root\": \"https://manage.office.com\", \"Azure Active Directory ID\": \"...\"}, or a list of {\"Name\": ..., \"Value\": ...}";

/// The export's `(name, value)` pairs in order; `field` names the file in errors.
pub(super) fn pairs(
    text: &str,
    field: &str,
) -> Result<Vec<(String, serde_json::Value)>, ConfigError> {
    let invalid = |e: serde_json::Error| ConfigError::new(field, format!("not valid JSON: {e}"));
    let v: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
    let wrapped = v.get("parameters");
    let pairs = match (&v, wrapped) {
        (serde_json::Value::Object(_), Some(serde_json::Value::Object(_))) => {
            serde_json::from_str::<Wrapped>(text)
                .map_err(invalid)?
                .parameters
                .0
        }
        (serde_json::Value::Object(_), None) => {
            serde_json::from_str::<Entries>(text).map_err(invalid)?.0
        }
        (_, Some(list @ serde_json::Value::Array(_)))
        | (list @ serde_json::Value::Array(_), None) => listed(list, field)?,
        _ => return Err(ConfigError::new(field, SHAPE)),
    };
    refuse_repeats(&pairs, field)?;
    Ok(pairs)
}

/// A list of `{"Name": ..., "Value": ...}`.
fn listed(
    list: &serde_json::Value,
    field: &str,
) -> Result<Vec<(String, serde_json::Value)>, ConfigError> {
    let items = list
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ConfigError::new(field, SHAPE))?;
    let mut pairs = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = item.get("Name").or_else(|| item.get("name"));
        let value = item.get("Value").or_else(|| item.get("value"));
        match (name.and_then(|n| n.as_str()), value) {
            (Some(n), Some(v)) => pairs.push((n.to_string(), v.clone())),
            _ => {
                return Err(ConfigError::new(
                    field,
                    format!("item [{i}] is not {{\"Name\": string, \"Value\": ...}}; {SHAPE}"),
                ))
            }
        }
    }
    Ok(pairs)
}

/// A parameter given twice (by the same name in any case, or by its name and its setting's
/// key) is refused, naming both: which one was meant cannot be known.
fn refuse_repeats(pairs: &[(String, serde_json::Value)], field: &str) -> Result<(), ConfigError> {
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (name, _) in pairs {
        let id = match Key::by_soar_name(name) {
            Some(k) => k.name.to_string(),
            None => name.trim().to_ascii_lowercase(),
        };
        if let Some(first) = seen.insert(id, name) {
            return Err(ConfigError::new(
                field,
                format!("the parameter {name:?} is given twice (also as {first:?}): which value is meant cannot be known; keep one"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_reads_in_order_and_a_repeat_is_refused() {
        let want = vec![
            ("Api Root".to_string(), serde_json::json!("https://a")),
            ("Verify SSL".to_string(), serde_json::json!(true)),
        ];
        for text in [
            r#"{"Api Root": "https://a", "Verify SSL": true}"#,
            r#"{"parameters": {"Api Root": "https://a", "Verify SSL": true}}"#,
            r#"[{"Name": "Api Root", "Value": "https://a"}, {"name": "Verify SSL", "value": true}]"#,
            r#"{"parameters": [{"Name": "Api Root", "Value": "https://a"}, {"Name": "Verify SSL", "Value": true}]}"#,
        ] {
            assert_eq!(pairs(text, "f").unwrap(), want, "{text}");
        }
        for text in [
            r#"{"Api Root": "https://a", "Api Root": "https://b"}"#,
            r#"{"parameters": {"Api Root": "https://a", "api root": "https://b"}}"#,
            r#"[{"Name": "Api Root", "Value": "https://a"}, {"Name": "api_root", "Value": "https://b"}]"#,
            r#"{"Custom": 1, "custom ": 2}"#,
        ] {
            let e = pairs(text, "f").unwrap_err().to_string();
            assert!(e.contains("is given twice"), "{text}: {e}");
        }
        for text in ["[]", "3", r#"[{"Value": 1}]"#] {
            assert!(pairs(text, "f").is_err(), "{text}");
        }
    }
}
