//! The connectors' parameters, declared once: the key in the config file's `[alerts]` table, the
//! display name in an exported SOAR connector configuration, which connector reads it, its
//! default. Values are parsed as the connectors parse them (trimmed; booleans `true`/`false` in
//! any case; lists split on commas), later layers winning: SOAR export, config file, flags.

use std::collections::BTreeMap;

use crate::filters::list;
use crate::{AuditParams, DlpParams, EnvironmentRule};

/// Which connector reads a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Both connectors.
    Both,
    /// The DLP connector only.
    Dlp,
    /// The Audit.General connector only.
    Audit,
}

/// How a value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// Comma-separated list.
    List,
    /// `true` or `false`.
    Bool,
    /// A whole number of at least 1.
    Count,
}

/// One parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Key in the `[alerts]` table (also the flag, with dashes).
    pub key: &'static str,
    /// Display name in the SOAR connector's configuration, if it has one there.
    pub soar: Option<&'static str>,
    /// Which connector reads it.
    pub reader: Reader,
    /// How it is read.
    pub kind: Kind,
    /// Its default, as text (empty: none).
    pub default: &'static str,
}

/// Every parameter.
pub const PARAMS: [Param; 12] = [
    Param {
        key: "max_events_to_fetch",
        soar: Some("Max events to fetch"),
        reader: Reader::Both,
        kind: Kind::Count,
        default: "",
    },
    Param {
        key: "environment_field",
        soar: Some("Environment Field Name"),
        reader: Reader::Both,
        kind: Kind::Text,
        default: "",
    },
    Param {
        key: "environment_regex",
        soar: Some("Environment Regex Pattern"),
        reader: Reader::Both,
        kind: Kind::Text,
        default: ".*",
    },
    Param {
        key: "default_environment",
        soar: None,
        reader: Reader::Both,
        kind: Kind::Text,
        default: "Default Environment",
    },
    Param {
        key: "event_class_id",
        soar: Some("EventClassId"),
        reader: Reader::Audit,
        kind: Kind::Text,
        default: "Operation",
    },
    Param {
        key: "mask_findings",
        soar: Some("Mask findings?"),
        reader: Reader::Dlp,
        kind: Kind::Bool,
        default: "false",
    },
    Param {
        key: "dlp_operation_filter",
        soar: Some("Type of Operation Filter"),
        reader: Reader::Dlp,
        kind: Kind::List,
        default: "",
    },
    Param {
        key: "dlp_policy_filter",
        soar: Some("Type of Policy Filter"),
        reader: Reader::Dlp,
        kind: Kind::List,
        default: "",
    },
    Param {
        key: "audit_operation_filter",
        soar: Some("Type of Operation Filter"),
        reader: Reader::Audit,
        kind: Kind::List,
        default: "",
    },
    Param {
        key: "audit_status_filter",
        soar: Some("Status Filter"),
        reader: Reader::Audit,
        kind: Kind::List,
        default: "",
    },
    Param {
        key: "audit_filters_as_whitelist",
        soar: Some("Use operation and status filters as whitelist"),
        reader: Reader::Audit,
        kind: Kind::Bool,
        default: "false",
    },
    Param {
        key: "entity_keys",
        soar: Some("Entity Keys to Create Additional Events"),
        reader: Reader::Audit,
        kind: Kind::List,
        default: "mailMessage, mailbox, ip",
    },
];

/// Connector parameters of the SOAR export that have no use here, and why (accepted silently
/// apart from a log line, so an export loads as is).
pub const NOT_NEEDED: [(&str, &str); 7] = [
    (
        "DeviceProductField",
        "a platform field; every alert names its product",
    ),
    ("PythonProcessTimeout", "no run is cut short here"),
    (
        "Fetch Backwards Time Interval (minutes)",
        "collection reads every window, not one per run",
    ),
    (
        "Events Padding Period (minutes)",
        "collection re-lists recent time on every pass (--overlap)",
    ),
    (
        "Use whitelist as a blacklist",
        "the platform's workload list is empty for these connectors",
    ),
    ("Proxy Server Address", "set `proxy` in the configuration"),
    ("Proxy Username", "set `proxy` in the configuration"),
];

/// The longest first-run look-back an export may ask for (ten years).
const MAX_SINCE_HOURS: i64 = 87_600;

/// The export's first-run look-back, taken as `--since` when none is given.
pub const SOAR_SINCE: &str = "Fetch Max Hours Backwards";

/// Whether `name` is a connector parameter of the SOAR export (used here or known unneeded).
pub fn is_soar_name(name: &str) -> bool {
    let n = name.trim();
    PARAMS.iter().any(|p| p.soar == Some(n))
        || NOT_NEEDED.iter().any(|(s, _)| *s == n)
        || n == SOAR_SINCE
        || n == "Proxy Password"
}

/// A parameter value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value:?} ({origin}): {problem}")]
pub struct ParamError {
    /// The parameter (its key, or the display name it was given by).
    pub field: String,
    /// The value.
    pub value: String,
    /// Where it came from.
    pub origin: String,
    /// What is allowed, and the fix.
    pub problem: String,
}

/// The connectors to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Only DLP.
    Dlp,
    /// Only Audit.General.
    Audit,
    /// Both.
    Both,
}

/// Raw values by key, with where each came from; later layers win.
#[derive(Debug, Clone, Default)]
pub struct Values {
    raw: BTreeMap<&'static str, (String, String)>,
    /// Log lines for accepted SOAR parameters that have no use here.
    pub notes: Vec<String>,
    /// `Fetch Max Hours Backwards` from a SOAR export: the first run's look-back, unless
    /// `--since` is given.
    pub since: Option<chrono::Duration>,
}

/// The parameters resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The DLP connector's.
    pub dlp: DlpParams,
    /// The Audit.General connector's.
    pub audit: AuditParams,
    /// "Max events to fetch": alerts delivered per run at most (`None`: all).
    pub max_alerts: Option<u64>,
}

fn param(key: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.key == key)
}

impl Values {
    /// Set `key` (a [`PARAMS`] key) from `origin`; an unknown key is named with the known ones.
    pub fn set(&mut self, key: &str, value: &str, origin: &str) -> Result<(), ParamError> {
        let Some(p) = param(key) else {
            return Err(ParamError {
                field: key.into(),
                value: value.into(),
                origin: origin.into(),
                problem: format!(
                    "unknown parameter; known: {}",
                    PARAMS.map(|p| p.key).join(", ")
                ),
            });
        };
        self.raw
            .insert(p.key, (value.trim().to_string(), origin.to_string()));
        Ok(())
    }

    /// The `[alerts]` table of a config file: text, lists (as text or arrays), booleans, numbers.
    pub fn toml(&mut self, table: &toml::Table, origin: &str) -> Result<(), ParamError> {
        for (k, v) in table {
            let text =
                match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Array(a) => {
                        let mut items = Vec::with_capacity(a.len());
                        for item in a {
                            match item.as_str() {
                                Some(s) => items.push(s.to_string()),
                                None => return Err(ParamError {
                                    field: k.clone(),
                                    value: v.to_string(),
                                    origin: origin.into(),
                                    problem:
                                        "a list holds strings, e.g. [\"DlpRuleUndo\", \"DlpInfo\"]"
                                            .into(),
                                }),
                            }
                        }
                        items.join(", ")
                    }
                    other => {
                        return Err(ParamError {
                            field: k.clone(),
                            value: other.to_string(),
                            origin: origin.into(),
                            problem: "give text, a list of strings, true/false or a number".into(),
                        })
                    }
                };
            self.set(k, &text, origin)?;
        }
        Ok(())
    }

    /// The connector parameters of a SOAR export (`(display name, value)` pairs; connection
    /// parameters and unknown names are left to others). "Type of Operation Filter" belongs to
    /// whichever connector the export is of: `which`, or the one its other parameters show.
    pub fn soar(
        &mut self,
        pairs: &[(String, String)],
        which: Which,
        origin: &str,
    ) -> Result<(), ParamError> {
        let has = |name: &str| pairs.iter().any(|(n, _)| n.trim() == name);
        let of = match which {
            Which::Dlp => Reader::Dlp,
            Which::Audit => Reader::Audit,
            Which::Both => {
                let dlp = has("Mask findings?") || has("Type of Policy Filter");
                let audit = has("Status Filter")
                    || has("Use operation and status filters as whitelist")
                    || has("Entity Keys to Create Additional Events");
                match (dlp, audit) {
                    (true, false) => Reader::Dlp,
                    (false, true) => Reader::Audit,
                    _ if !has("Type of Operation Filter") => Reader::Both,
                    _ => {
                        return Err(ParamError {
                            field: "Type of Operation Filter".into(),
                            value: String::new(),
                            origin: origin.into(),
                            problem: "the export does not show which connector it is of: add --connector dlp or --connector audit-general".into(),
                        })
                    }
                }
            }
        };
        for (name, value) in pairs {
            let n = name.trim();
            if n == SOAR_SINCE {
                let h = value.trim();
                match h.parse::<i64>() {
                    Ok(h) if (1..=MAX_SINCE_HOURS).contains(&h) => {
                        self.since = Some(chrono::Duration::hours(h))
                    }
                    _ => {
                        return Err(ParamError {
                            field: n.into(),
                            value: value.clone(),
                            origin: origin.into(),
                            problem: format!(
                                "a whole number of hours from 1 to {MAX_SINCE_HOURS}, e.g. 8"
                            ),
                        })
                    }
                }
                continue;
            }
            if let Some((_, why)) = NOT_NEEDED.iter().find(|(s, _)| *s == n) {
                self.notes
                    .push(format!("{origin}: {n:?} not needed: {why}"));
                continue;
            }
            let found = PARAMS.iter().find(|p| {
                p.soar == Some(n)
                    && (p.reader == Reader::Both || of == Reader::Both || p.reader == of)
            });
            if let Some(p) = found {
                self.set(p.key, value, origin)?;
            }
        }
        Ok(())
    }

    fn get(&self, p: &Param) -> (String, String) {
        self.raw
            .get(p.key)
            .cloned()
            .unwrap_or_else(|| (p.default.to_string(), "default".to_string()))
    }

    /// Check and build both connectors' parameters; the first bad value is named.
    pub fn resolve(&self) -> Result<Resolved, ParamError> {
        let mut text: BTreeMap<&str, String> = BTreeMap::new();
        let mut flags: BTreeMap<&str, bool> = BTreeMap::new();
        let mut max_alerts = None;
        for p in &PARAMS {
            let (v, origin) = self.get(p);
            let bad = |problem: &str| ParamError {
                field: p.key.into(),
                value: v.clone(),
                origin: origin.clone(),
                problem: problem.into(),
            };
            match p.kind {
                Kind::Bool => {
                    let b = match v.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" | "" => false,
                        _ => return Err(bad("give true or false")),
                    };
                    flags.insert(p.key, b);
                }
                Kind::Count => {
                    if !v.is_empty() {
                        match v.parse::<u64>() {
                            Ok(0) => return Err(bad("0 would deliver no alert at all: give 1 or more, or leave it unset to deliver every alert")),
                            Ok(n) => max_alerts = Some(n),
                            Err(_) => return Err(bad("a whole number of at least 1, e.g. 50")),
                        }
                    }
                }
                Kind::Text | Kind::List => {
                    text.insert(p.key, v);
                }
            }
        }
        let environment = EnvironmentRule::new(
            &text["environment_field"],
            &text["environment_regex"],
            &text["default_environment"],
        )
        .map_err(|problem| {
            let (value, origin) = self.get(param("environment_regex").expect("declared"));
            ParamError {
                field: "environment_regex".into(),
                value,
                origin,
                problem,
            }
        })?;
        Ok(Resolved {
            dlp: DlpParams {
                operation_filter: list(&text["dlp_operation_filter"]),
                policy_filter: list(&text["dlp_policy_filter"]),
                mask: flags["mask_findings"],
                platform_list: vec![],
                list_as_blacklist: false,
                environment: environment.clone(),
            },
            audit: AuditParams {
                operation_filter: list(&text["audit_operation_filter"]),
                status_filter: list(&text["audit_status_filter"]),
                whitelist: flags["audit_filters_as_whitelist"],
                entity_keys: list(&text["entity_keys"]),
                event_class_id: text["event_class_id"].clone(),
                platform_list: vec![],
                list_as_blacklist: false,
                environment,
            },
            max_alerts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_connectors() {
        let r = Values::default().resolve().unwrap();
        assert_eq!(r.audit.entity_keys, ["mailMessage", "mailbox", "ip"]);
        assert_eq!(r.audit.event_class_id, "Operation");
        assert!(!r.dlp.mask && !r.audit.whitelist);
        assert_eq!(r.max_alerts, None);
        assert_eq!(r.dlp.environment.default, "Default Environment");
    }

    #[test]
    fn a_dlp_export_loads_with_its_operation_filter_for_dlp() {
        let mut v = Values::default();
        v.soar(
            &pairs(&[
                ("Api Root", "https://manage.office.com"),
                ("Mask findings?", "TRUE"),
                ("Type of Operation Filter", " DlpRuleUndo , DlpInfo"),
                ("Max events to fetch", "50"),
                ("Fetch Max Hours Backwards", "8"),
                ("PythonProcessTimeout", "180"),
            ]),
            Which::Both,
            "--soar-config x.json",
        )
        .unwrap();
        let r = v.resolve().unwrap();
        assert!(r.dlp.mask);
        assert_eq!(r.dlp.operation_filter, ["DlpRuleUndo", "DlpInfo"]);
        assert!(r.audit.operation_filter.is_empty());
        assert_eq!(r.max_alerts, Some(50));
        assert_eq!(v.since, Some(chrono::Duration::hours(8)));
        assert_eq!(v.notes.len(), 1, "{:?}", v.notes);
    }

    #[test]
    fn an_audit_export_and_an_ambiguous_one() {
        let mut v = Values::default();
        v.soar(
            &pairs(&[
                ("Status Filter", "Resolved"),
                ("Type of Operation Filter", "AlertEntityGenerated"),
                ("Use operation and status filters as whitelist", "false"),
            ]),
            Which::Both,
            "x",
        )
        .unwrap();
        let r = v.resolve().unwrap();
        assert_eq!(r.audit.operation_filter, ["AlertEntityGenerated"]);
        assert!(r.dlp.operation_filter.is_empty());
        let e = Values::default()
            .soar(
                &pairs(&[("Type of Operation Filter", "X")]),
                Which::Both,
                "x",
            )
            .unwrap_err();
        assert!(e.problem.contains("--connector"), "{e}");
        let mut v = Values::default();
        v.soar(
            &pairs(&[("Type of Operation Filter", "X")]),
            Which::Dlp,
            "x",
        )
        .unwrap();
        assert_eq!(v.resolve().unwrap().dlp.operation_filter, ["X"]);
    }

    #[test]
    fn bad_values_are_named_with_what_is_allowed() {
        for (key, value, want) in [
            ("mask_findings", "yes", "true or false"),
            ("max_events_to_fetch", "0", "1 or more"),
            ("max_events_to_fetch", "ten", "whole number"),
            ("environment_regex", "([", "not a valid regular expression"),
        ] {
            let mut v = Values::default();
            v.set(key, value, "--flag").unwrap();
            let e = v.resolve().unwrap_err();
            assert_eq!((e.field.as_str(), e.value.as_str()), (key, value));
            assert!(e.problem.contains(want), "{e}");
            assert!(e.to_string().contains("--flag"), "{e}");
        }
        let e = Values::default().set("mask", "true", "f").unwrap_err();
        assert!(e.problem.contains("mask_findings"), "{e}");
    }

    #[test]
    fn toml_takes_arrays_and_booleans_and_later_layers_win() {
        let t: toml::Table =
            "mask_findings = true\ndlp_policy_filter = [\"A\", \"B\"]\nmax_events_to_fetch = 5"
                .parse()
                .unwrap();
        let mut v = Values::default();
        v.toml(&t, "config").unwrap();
        v.set("max_events_to_fetch", "7", "--max-events-to-fetch")
            .unwrap();
        let r = v.resolve().unwrap();
        assert!(r.dlp.mask);
        assert_eq!(r.dlp.policy_filter, ["A", "B"]);
        assert_eq!(r.max_alerts, Some(7));
        let bad: toml::Table = "entity_keys = [1]".parse().unwrap();
        assert!(Values::default().toml(&bad, "c").is_err());
        assert!(is_soar_name("Mask findings?") && !is_soar_name("Client ID"));
    }
}
