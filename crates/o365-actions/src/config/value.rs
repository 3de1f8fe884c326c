//! What a setting holds: its kind (how a value given as text is read, its default and range)
//! and the value read, as people are shown it (secrets redacted).

use std::path::PathBuf;

use o365_api::{Cloud, ContentType};
use secrecy::{ExposeSecret as _, SecretString};

use super::did_you_mean;

/// How a setting's text is read, with its default and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text, trimmed; unset by default.
    Text,
    /// A file path, trimmed; unset by default.
    Path,
    /// A secret, kept as given and never shown; unset by default.
    Secret,
    /// A proxy URL: checked, kept secret (it may hold a password), shown without its password.
    Proxy,
    /// An `https://` endpoint (`http://` on loopback); the cloud gives the default.
    Endpoint,
    /// One of the clouds.
    Cloud,
    /// true or false (also yes/no, 1/0, on/off).
    Bool {
        /// When unset.
        default: bool,
    },
    /// A whole number within `min..=max`.
    Number {
        /// When unset.
        default: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A duration such as `90d` or `12h`, at least `min_hours`; unset by default.
    Duration {
        /// Shortest allowed, in hours.
        min_hours: i64,
    },
    /// A comma-separated list of at least one item.
    List {
        /// When unset.
        default: &'static [&'static str],
    },
    /// Content types, comma-separated; all of them when unset.
    ContentTypes,
}

/// A setting's value, read as its kind says.
#[derive(Debug, Clone)]
pub enum Value {
    /// [`Kind::Text`] and [`Kind::Endpoint`].
    Text(String),
    /// [`Kind::Path`].
    Path(PathBuf),
    /// [`Kind::Secret`] and [`Kind::Proxy`].
    Secret(SecretString),
    /// [`Kind::Cloud`].
    Cloud(Cloud),
    /// [`Kind::Bool`].
    Bool(bool),
    /// [`Kind::Number`].
    Number(u64),
    /// [`Kind::Duration`].
    Duration(chrono::Duration),
    /// [`Kind::List`].
    List(Vec<String>),
    /// [`Kind::ContentTypes`].
    ContentTypes(Vec<ContentType>),
}

/// Why a value was refused: what is allowed, and the value as it may be shown (`None`: as given,
/// unless the setting is secret).
#[derive(Debug)]
pub struct Refused {
    /// What is wrong and what is allowed.
    pub problem: String,
    /// The value as an error may show it, when it differs from what was given.
    pub shown: Option<String>,
}

impl From<String> for Refused {
    fn from(problem: String) -> Self {
        Refused {
            problem,
            shown: None,
        }
    }
}

impl Kind {
    /// The value when the setting is unset, if the kind has one of its own (an endpoint's
    /// comes from the cloud).
    pub fn default_value(self) -> Option<Value> {
        match self {
            Kind::Cloud => Some(Value::Cloud(Cloud::Commercial)),
            Kind::Bool { default } => Some(Value::Bool(default)),
            Kind::Number { default, .. } => Some(Value::Number(default)),
            Kind::List { default } => {
                Some(Value::List(default.iter().map(|s| s.to_string()).collect()))
            }
            Kind::ContentTypes => Some(Value::ContentTypes(ContentType::ALL.to_vec())),
            Kind::Text
            | Kind::Path
            | Kind::Secret
            | Kind::Proxy
            | Kind::Endpoint
            | Kind::Duration { .. } => None,
        }
    }

    /// Read `raw`, the text given for the setting `name`.
    pub fn read(self, name: &'static str, raw: &str) -> Result<Value, Refused> {
        Ok(match self {
            Kind::Text => Value::Text(raw.trim().to_string()),
            Kind::Path => Value::Path(PathBuf::from(raw.trim())),
            Kind::Secret => Value::Secret(SecretString::from(raw)),
            Kind::Proxy => {
                o365_api::proxy::check(raw).map_err(|problem| Refused {
                    problem,
                    shown: Some(o365_api::proxy::redacted(raw)),
                })?;
                Value::Secret(SecretString::from(raw))
            }
            Kind::Endpoint => match o365_api::cloud::parse_endpoint(name, raw) {
                Ok(u) => Value::Text(o365_api::cloud::trimmed(&u)),
                // Its value is shown without any credentials the URL held.
                Err(o365_api::Error::Config { problem, value, .. }) => {
                    return Err(Refused {
                        problem,
                        shown: Some(value),
                    })
                }
                Err(other) => return Err(other.to_string().into()),
            },
            Kind::Cloud => Value::Cloud(raw.parse::<Cloud>().map_err(|_| {
                format!(
                    "{}{}",
                    o365_vocab::UnknownCloud::allowed(),
                    did_you_mean(raw, Cloud::ALL.map(|c| c.name()))
                )
            })?),
            Kind::Bool { .. } => Value::Bool(match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => true,
                "false" | "no" | "0" | "off" => false,
                _ => return Err("allowed are true or false".to_string().into()),
            }),
            Kind::Number { min, max, .. } => match raw.trim().parse::<u64>() {
                Ok(i) if (min..=max).contains(&i) => Value::Number(i),
                _ => return Err(format!("expected a whole number from {min} to {max}").into()),
            },
            Kind::Duration { min_hours } => Value::Duration(
                crate::input::parse_duration(
                    name,
                    raw,
                    chrono::Duration::hours(min_hours),
                    crate::input::MAX_DURATION,
                )
                .map_err(|e| e.problem)?,
            ),
            Kind::List { .. } => {
                let list: Vec<String> = raw
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if list.is_empty() {
                    return Err(format!("list at least one {}", singular(name)).into());
                }
                Value::List(list)
            }
            Kind::ContentTypes => Value::ContentTypes(
                crate::input::content_types(name, &[raw]).map_err(|e| e.problem)?,
            ),
        })
    }

    /// The default as `--help` says it, when the kind has one.
    pub fn default_shown(self) -> Option<String> {
        self.default_value().map(|v| v.shown(self))
    }
}

/// `scopes` → `scope`.
fn singular(name: &str) -> &str {
    name.strip_suffix('s').unwrap_or(name)
}

impl Value {
    /// The value as people see it: a secret redacted, a proxy without its password.
    pub fn shown(&self, kind: Kind) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Path(p) => p.display().to_string(),
            Value::Secret(s) if kind == Kind::Proxy => o365_api::proxy::redacted(s.expose_secret()),
            Value::Secret(_) => "[redacted]".to_string(),
            Value::Cloud(c) => c.name().to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Duration(d) => crate::human_seconds(d.num_seconds()),
            Value::List(l) => l.join(", "),
            Value::ContentTypes(t) => t.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_outside_its_range_is_refused_naming_the_range() {
        let k = Kind::Number {
            default: 5,
            min: 1,
            max: 10,
        };
        assert!(matches!(k.read("n", " 10 "), Ok(Value::Number(10))));
        for bad in ["0", "11", "-1", "x", ""] {
            let e = k.read("n", bad).unwrap_err();
            assert_eq!(e.problem, "expected a whole number from 1 to 10", "{bad}");
        }
    }

    #[test]
    fn a_default_reads_back_as_itself() {
        for k in [
            Kind::Cloud,
            Kind::Bool { default: true },
            Kind::Number {
                default: 60,
                min: 1,
                max: 3600,
            },
            Kind::List {
                default: &["a b", "c"],
            },
            Kind::ContentTypes,
        ] {
            let shown = k.default_shown().unwrap();
            let back = k.read("x", &shown).unwrap();
            assert_eq!(back.shown(k), shown, "{k:?}");
        }
    }

    #[test]
    fn secrets_are_never_shown() {
        let v = Kind::Secret.read("client_secret", "hunter2").unwrap();
        assert_eq!(v.shown(Kind::Secret), "[redacted]");
        let p = Kind::Proxy
            .read("proxy", "http://user:hunter2@127.0.0.1:3128")
            .unwrap();
        assert!(!p.shown(Kind::Proxy).contains("hunter2"));
        let e = Kind::Proxy
            .read("proxy", "ftp://user:hunter2@127.0.0.1:3128")
            .unwrap_err();
        assert!(!e.shown.unwrap_or_default().contains("hunter2"));
    }
}
