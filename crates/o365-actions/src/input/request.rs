//! Requests: what each action needs, parsed from JSON (the `action` command, MCP) or built from
//! command-line arguments, validated before anything is sent.

use o365_api::ContentType;
use serde_json::Value;

use super::args::all_args;
use super::time::parse_time;
use super::types::{content_types_json, one_content_type};
use super::{default_scope, ActionKind, CaseContext, InputError, TargetEntity};

/// A validated request, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Ping.
    Ping(CaseContext),
    /// Start subscriptions.
    Start(CaseContext, Vec<ContentType>),
    /// Stop subscriptions.
    Stop(CaseContext, Vec<ContentType>),
    /// List subscriptions.
    List(CaseContext),
    /// List available content of one type in `[start, end)` (default: the last 24 hours).
    Content {
        /// Case context.
        ctx: CaseContext,
        /// Content type.
        content_type: ContentType,
        /// Window start.
        start: Option<chrono::DateTime<chrono::Utc>>,
        /// Window end.
        end: Option<chrono::DateTime<chrono::Utc>>,
    },
}

impl Request {
    /// The action.
    pub fn kind(&self) -> ActionKind {
        match self {
            Request::Ping(_) => ActionKind::Ping,
            Request::Start(..) => ActionKind::StartSubscription,
            Request::Stop(..) => ActionKind::StopSubscription,
            Request::List(_) => ActionKind::ListSubscriptions,
            Request::Content { .. } => ActionKind::ListContent,
        }
    }

    /// The case context.
    pub fn context(&self) -> &CaseContext {
        match self {
            Request::Ping(c) | Request::Start(c, _) | Request::Stop(c, _) | Request::List(c) => c,
            Request::Content { ctx, .. } => ctx,
        }
    }
}

/// Whatever could be read of a request that failed validation, so the result can echo it.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The action, when it was understood.
    pub kind: Option<ActionKind>,
    /// The context, as far as it was readable.
    pub ctx: CaseContext,
    /// Why.
    pub error: InputError,
}

fn string_list(field: &str, v: Option<&Value>, required: bool) -> Result<Vec<String>, InputError> {
    match v {
        None | Some(Value::Null) if !required => Ok(vec![]),
        None | Some(Value::Null) => Err(InputError::new(
            field,
            None,
            "required: a list of strings (it may be empty: [])",
        )),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::String(s) => Ok(s.clone()),
                other => Err(InputError::new(
                    format!("{field}[{i}]"),
                    Some(other.to_string()),
                    "must be a string",
                )),
            })
            .collect(),
        Some(other) => Err(InputError::new(
            field,
            Some(other.to_string()),
            "must be a list of strings",
        )),
    }
}

fn time_arg(
    field: &str,
    v: Option<&Value>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, InputError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_time(s)
            .map(Some)
            .map_err(|p| InputError::new(field, Some(format!("{s:?}")), p)),
        Some(other) => Err(InputError::new(
            field,
            Some(other.to_string()),
            "must be a string such as 2026-11-27T10:00:00Z",
        )),
    }
}

/// Parse a request object (`action` JSON, MCP arguments). `kind` is given when the caller already
/// knows the action (an MCP tool); otherwise the object's `action` field names it.
pub fn parse_request(v: &Value, kind: Option<ActionKind>) -> Result<Request, Box<Rejected>> {
    let mut ctx = CaseContext::blank();
    let reject = |kind, ctx: &CaseContext, error| {
        Box::new(Rejected {
            kind,
            ctx: ctx.clone(),
            error,
        })
    };
    let Value::Object(o) = v else {
        return Err(reject(
            kind,
            &ctx,
            InputError::new(
                "request",
                Some(v.to_string().chars().take(80).collect()),
                "expected a JSON object such as {\"action\": \"ping\", \"case_id\": \"4711\", \"alert_group_identifiers\": []}",
            ),
        ));
    };
    // Echo what can be read before judging the rest.
    if let Some(Value::String(s)) = o.get("case_id") {
        ctx.case_id = s.clone();
    }
    if let Ok(l) = string_list(
        "alert_group_identifiers",
        o.get("alert_group_identifiers"),
        false,
    ) {
        ctx.alert_group_identifiers = l;
    }
    if let Some(Value::String(s)) = o.get("scope") {
        ctx.scope = s.clone();
    }
    let kind = match (kind, o.get("action")) {
        (Some(k), _) => k,
        (None, Some(Value::String(s))) => ActionKind::parse(s).map_err(|e| reject(None, &ctx, e))?,
        (None, Some(other)) => {
            return Err(reject(
                None,
                &ctx,
                InputError::new("action", Some(other.to_string()), "must be a string such as \"start_subscription\""),
            ))
        }
        (None, None) => {
            return Err(reject(
                None,
                &ctx,
                InputError::new(
                    "action",
                    None,
                    "required: ping, start_subscription, stop_subscription, list_subscriptions or list_content",
                ),
            ))
        }
    };
    let r = |e| reject(Some(kind), &ctx, e);
    let mut allowed: Vec<&str> = all_args(kind).map(|a| a.name).collect();
    allowed.push("action");
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            let hint = crate::suggest::closest(k, allowed.iter().copied())
                .map(|a| format!(" Did you mean {a}?"))
                .unwrap_or_default();
            return Err(r(InputError::new(
                k.chars().take(80).collect::<String>(),
                None,
                format!(
                    "not an argument of {}.{hint} Allowed: {}",
                    kind.id(),
                    allowed.join(", ")
                ),
            )));
        }
    }
    let mut full = ctx.clone();
    full.case_id = match o.get("case_id") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(r(InputError::new(
                "case_id",
                Some(other.to_string()),
                "must be a string",
            )))
        }
        None => {
            return Err(r(InputError::new(
                "case_id",
                None,
                "required: the id of the case this action runs for",
            )))
        }
    };
    full.alert_group_identifiers = string_list(
        "alert_group_identifiers",
        o.get("alert_group_identifiers"),
        true,
    )
    .map_err(&r)?;
    full.scope = match o.get("scope") {
        None | Some(Value::Null) => default_scope(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(r(InputError::new(
                "scope",
                Some(other.to_string()),
                "must be a string",
            )))
        }
    };
    full.target_entities = match o.get("target_entities") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for (i, e) in a.iter().enumerate() {
                out.push(
                    serde_json::from_value::<TargetEntity>(e.clone()).map_err(|_| {
                        r(InputError::new(
                            format!("target_entities[{i}]"),
                            Some(e.to_string()),
                            "must be an object {\"Identifier\": string, \"EntityType\": string}",
                        ))
                    })?,
                );
            }
            out
        }
        Some(other) => {
            return Err(r(InputError::new(
                "target_entities",
                Some(other.to_string()),
                "must be a list of {\"Identifier\": string, \"EntityType\": string}",
            )))
        }
    };
    let ctx = full;
    let r = |e| reject(Some(kind), &ctx, e);
    ctx.check_sizes().map_err(&r)?;
    Ok(match kind {
        ActionKind::Ping => Request::Ping(ctx),
        ActionKind::ListSubscriptions => Request::List(ctx),
        ActionKind::StartSubscription => {
            let f = "start_a_subscription_for";
            let t = content_types_json(f, o.get(f).unwrap_or(&Value::Null)).map_err(r)?;
            Request::Start(ctx, t)
        }
        ActionKind::StopSubscription => {
            let f = "stop_a_subscription_for";
            let t = content_types_json(f, o.get(f).unwrap_or(&Value::Null)).map_err(r)?;
            Request::Stop(ctx, t)
        }
        ActionKind::ListContent => {
            let t = content_types_json(
                "content_type",
                o.get("content_type").unwrap_or(&Value::Null),
            )
            .map_err(&r)?;
            if t.len() != 1 {
                return Err(r(InputError::new(
                    "content_type",
                    None,
                    "name exactly one content type",
                )));
            }
            let start = time_arg("start_time", o.get("start_time")).map_err(&r)?;
            let end = time_arg("end_time", o.get("end_time")).map_err(&r)?;
            Request::Content {
                content_type: t[0],
                start,
                end,
                ctx,
            }
        }
    })
}

impl Request {
    /// A List Content request from command-line text (`--content-type`, `--start`, `--end`).
    pub fn content(
        ctx: CaseContext,
        content_type: &str,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<Request, InputError> {
        let time = |field: &str, v: Option<&str>| {
            v.map(|s| parse_time(s).map_err(|p| InputError::new(field, Some(format!("{s:?}")), p)))
                .transpose()
        };
        Ok(Request::Content {
            content_type: one_content_type("--content-type", content_type)?,
            start: time("--start", start)?,
            end: time("--end", end)?,
            ctx,
        })
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{content_types, PLACEHOLDER};
    use serde_json::json;

    #[test]
    fn content_types_are_normalised() {
        let t = content_types("f", &["audit.exchange, DLP.ALL", "Audit.Exchange"]).unwrap();
        assert_eq!(t, vec![ContentType::Exchange, ContentType::DlpAll]);
    }

    #[test]
    fn placeholder_empty_and_unknown_are_rejected() {
        let e = content_types("f", &[PLACEHOLDER]).unwrap_err();
        assert!(e.problem.contains("placeholder"), "{e}");
        let e = content_types::<&str>("f", &[]).unwrap_err();
        assert!(e.problem.contains("at least one"), "{e}");
        let e = content_types("f", &[" , "]).unwrap_err();
        assert!(e.problem.contains("at least one"), "{e}");
        let e = content_types("f", &["Audit.Exchnage"]).unwrap_err();
        assert!(e.problem.contains("Did you mean Audit.Exchange?"), "{e}");
        assert!(e.problem.contains("DLP.All"), "lists valid names: {e}");
        let e = content_types("f", &["sharepoint"]).unwrap_err();
        assert!(e.problem.contains("Did you mean Audit.SharePoint?"), "{e}");
    }

    #[test]
    fn scope_rules() {
        let scopes: Vec<String> = crate::config::DEFAULT_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut c = CaseContext::manual();
        c.scope = "all ENTITIES".into();
        c.validate(&scopes).unwrap();
        assert_eq!(c.scope, "All entities");
        c.scope = "Everything".into();
        let e = c.validate(&scopes).unwrap_err();
        assert_eq!(
            e.problem,
            "Invalid scope 'Everything'. Allowed values are: All entities, All external entities, All internal entities, Non-suspicious entities, Suspicious entities"
        );
        c.target_entities = vec![TargetEntity {
            identifier: "bob@contoso.com".into(),
            entity_type: "USERUNIQNAME".into(),
        }];
        c.validate(&scopes)
            .expect("entities make the scope irrelevant");
        c.case_id = " ".into();
        assert_eq!(c.validate(&scopes).unwrap_err().field, "case_id");
    }

    #[test]
    fn requests_parse_and_reject() {
        let r = parse_request(
            &json!({"action": "office365_management_api_start_subscription", "case_id": "1",
                    "alert_group_identifiers": ["g"], "start_a_subscription_for": "DLP.All,audit.general"}),
            None,
        )
        .unwrap();
        assert_eq!(
            r,
            Request::Start(
                CaseContext {
                    case_id: "1".into(),
                    alert_group_identifiers: vec!["g".into()],
                    target_entities: vec![],
                    scope: "All entities".into()
                },
                vec![ContentType::DlpAll, ContentType::General]
            )
        );
        let e = parse_request(
            &json!({"action": "ping", "alert_group_identifiers": []}),
            None,
        )
        .unwrap_err();
        assert_eq!(e.error.field, "case_id");
        assert_eq!(e.kind, Some(ActionKind::Ping));
        let e = parse_request(&json!({"action": "pnig", "case_id": "1"}), None).unwrap_err();
        assert!(
            e.error.problem.contains("Did you mean ping?"),
            "{}",
            e.error
        );
        assert_eq!(e.ctx.case_id, "1", "what was readable is echoed");
        let e = parse_request(
            &json!({"action": "stop_subscription", "case_id": "1", "alert_group_identifiers": [],
                    "stop_subscription_for": ["DLP.All"]}),
            None,
        )
        .unwrap_err();
        assert!(
            e.error
                .problem
                .contains("Did you mean stop_a_subscription_for?"),
            "{}",
            e.error
        );
        let e = parse_request(
            &json!({"case_id": "1", "alert_group_identifiers": "g"}),
            Some(ActionKind::Ping),
        )
        .unwrap_err();
        assert_eq!(e.error.field, "alert_group_identifiers");
        let e = parse_request(
            &json!({"case_id": "1", "alert_group_identifiers": [], "target_entities": [{"Identifier": 3}]}),
            Some(ActionKind::Ping),
        )
        .unwrap_err();
        assert_eq!(e.error.field, "target_entities[0]");
    }
}
