//! Content types as callers give them: lists or comma-separated strings, any case.

use o365_api::ContentType;
use serde_json::Value;

use super::InputError;

/// The SOAR form's placeholder for the content type field.
pub const PLACEHOLDER: &str = "Select content type";

fn valid_names() -> String {
    ContentType::ALL.map(|c| c.as_str()).join(", ")
}

/// Names as a caller gave them: strings, each possibly a comma-separated list.
pub fn content_types<S: AsRef<str>>(
    field: &str,
    given: &[S],
) -> Result<Vec<ContentType>, InputError> {
    let valid = valid_names();
    let mut out = Vec::new();
    let mut seen_any = false;
    for item in given {
        for part in item.as_ref().split(',') {
            let name = part.trim();
            if name.is_empty() {
                continue;
            }
            seen_any = true;
            if name.eq_ignore_ascii_case(PLACEHOLDER) {
                return Err(InputError::new(
                    field,
                    Some(format!("{name:?}")),
                    format!("that is the form's placeholder, not a content type: choose one or more of {valid}"),
                ));
            }
            match name.parse::<ContentType>() {
                Ok(c) => {
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
                Err(_) => {
                    let hint = crate::suggest::closest(name, ContentType::ALL.map(|c| c.as_str()))
                        .map(|s| format!(" Did you mean {s}?"))
                        .unwrap_or_default();
                    return Err(InputError::new(
                        field,
                        Some(format!("{:?}", name.chars().take(80).collect::<String>())),
                        format!("unknown content type.{hint} Valid names: {valid}"),
                    ));
                }
            }
        }
    }
    if !seen_any {
        return Err(InputError::new(
            field,
            Some("[]".into()),
            format!("name at least one content type: {valid}"),
        ));
    }
    Ok(out)
}

/// Exactly one content type.
pub fn one_content_type(field: &str, given: &str) -> Result<ContentType, InputError> {
    match content_types(field, &[given])?.as_slice() {
        [one] => Ok(*one),
        _ => Err(InputError::new(
            field,
            Some(given.to_string()),
            "name exactly one content type",
        )),
    }
}

/// Content types from JSON: a list of strings, or one (comma-separated) string.
pub fn content_types_json(field: &str, v: &Value) -> Result<Vec<ContentType>, InputError> {
    match v {
        Value::String(s) => content_types(field, &[s]),
        Value::Array(a) => {
            let mut names = Vec::with_capacity(a.len());
            for (i, item) in a.iter().enumerate() {
                match item {
                    Value::String(s) => names.push(s.as_str()),
                    other => {
                        return Err(InputError::new(
                            format!("{field}[{i}]"),
                            Some(other.to_string()),
                            "must be a string such as \"Audit.Exchange\"",
                        ))
                    }
                }
            }
            content_types(field, &names)
        }
        Value::Null => Err(InputError::new(
            field,
            None,
            format!(
                "required: a list of content types, e.g. [\"Audit.Exchange\", \"DLP.All\"]; valid names: {}",
                valid_names()
            ),
        )),
        other => Err(InputError::new(
            field,
            Some(other.to_string()),
            "must be a list of strings or one comma-separated string",
        )),
    }
}
