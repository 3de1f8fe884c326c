//! Validation of what a caller sends: case context, content types, requests in JSON.

use o365_api::ContentType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The SOAR form's placeholder for the content type field.
pub const PLACEHOLDER: &str = "Select content type";

/// Input the action cannot run with; nothing was sent to the service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}{}: {problem}", value.as_ref().map(|v| format!(" = {v}")).unwrap_or_default())]
pub struct InputError {
    /// The argument.
    pub field: String,
    /// What was given (JSON), when it helps.
    pub value: Option<String>,
    /// What is allowed and how to fix it.
    pub problem: String,
}

impl InputError {
    /// An error about one argument.
    pub fn new(
        field: impl Into<String>,
        value: Option<String>,
        problem: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            value,
            problem: problem.into(),
        }
    }
}

/// An entity of the case the action runs for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetEntity {
    /// The entity's identifier.
    #[serde(rename = "Identifier")]
    pub identifier: String,
    /// Its type (e.g. `USERUNIQNAME`).
    #[serde(rename = "EntityType")]
    pub entity_type: String,
}

/// The case context every action carries (spec §2). It does not change what is called at
/// Microsoft (subscriptions are tenant-wide): it is validated, echoed and journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseContext {
    /// Case id (required, non-empty).
    pub case_id: String,
    /// Alert group identifiers (may be empty).
    pub alert_group_identifiers: Vec<String>,
    /// Target entities; when non-empty, they are used and `scope` is ignored.
    #[serde(default)]
    pub target_entities: Vec<TargetEntity>,
    /// Scope (default `All entities`).
    #[serde(default = "default_scope")]
    pub scope: String,
}

fn default_scope() -> String {
    "All entities".into()
}

impl CaseContext {
    /// A context for a manual run from the shell.
    pub fn manual() -> Self {
        Self {
            case_id: "manual".into(),
            alert_group_identifiers: vec![],
            target_entities: vec![],
            scope: default_scope(),
        }
    }

    /// Check the context against the allowed scopes; the scope is normalised to its spelling there.
    pub fn validate(&mut self, scopes: &[String]) -> Result<(), InputError> {
        if self.case_id.trim().is_empty() {
            return Err(InputError::new(
                "case_id",
                Some(format!("{:?}", self.case_id)),
                "required: the id of the case this action runs for",
            ));
        }
        for (i, e) in self.target_entities.iter().enumerate() {
            if e.identifier.trim().is_empty() {
                return Err(InputError::new(
                    format!("target_entities[{i}].Identifier"),
                    Some(format!("{:?}", e.identifier)),
                    "must not be empty",
                ));
            }
        }
        if !self.target_entities.is_empty() {
            // As in the existing integration: explicit entities win and the scope is not applied.
            return Ok(());
        }
        match scopes
            .iter()
            .find(|s| s.eq_ignore_ascii_case(self.scope.trim()))
        {
            Some(s) => {
                self.scope = s.clone();
                Ok(())
            }
            None => {
                let mut sorted: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
                sorted.sort_unstable();
                Err(InputError::new(
                    "scope",
                    None,
                    format!(
                        "Invalid scope '{}'. Allowed values are: {}",
                        self.scope,
                        sorted.join(", ")
                    ),
                ))
            }
        }
    }
}

/// The closest valid content type, if one is close.
fn suggestion(given: &str) -> Option<&'static str> {
    let g = given.trim().to_ascii_lowercase();
    ContentType::ALL
        .iter()
        .map(|c| {
            let name = c.as_str().to_ascii_lowercase();
            let short = name.split('.').nth(1).unwrap_or(&name).to_string();
            let score = strsim::jaro_winkler(&g, &name).max(strsim::jaro_winkler(&g, &short));
            (score, c.as_str())
        })
        .filter(|(s, _)| *s >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

/// Names as a caller gave them: strings, each possibly a comma-separated list.
pub fn content_types<S: AsRef<str>>(
    field: &str,
    given: &[S],
) -> Result<Vec<ContentType>, InputError> {
    let valid = ContentType::ALL.map(|c| c.as_str()).join(", ");
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
                    let hint = suggestion(name)
                        .map(|s| format!(" Did you mean {s}?"))
                        .unwrap_or_default();
                    return Err(InputError::new(
                        field,
                        Some(format!("{name:?}")),
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
                ContentType::ALL.map(|c| c.as_str()).join(", ")
            ),
        )),
        other => Err(InputError::new(
            field,
            Some(other.to_string()),
            "must be a list of strings or one comma-separated string",
        )),
    }
}

/// Which action a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Ping.
    Ping,
    /// Start Subscription.
    StartSubscription,
    /// Stop Subscription.
    StopSubscription,
    /// List Subscriptions.
    ListSubscriptions,
    /// List Content.
    ListContent,
}

/// MCP tool name prefix of the existing integration.
pub const TOOL_PREFIX: &str = "office365_management_api_";

impl ActionKind {
    /// Every action.
    pub const ALL: [ActionKind; 5] = [
        ActionKind::Ping,
        ActionKind::StartSubscription,
        ActionKind::StopSubscription,
        ActionKind::ListSubscriptions,
        ActionKind::ListContent,
    ];

    /// `ping`, `start_subscription`, ...
    pub fn id(self) -> &'static str {
        match self {
            ActionKind::Ping => "ping",
            ActionKind::StartSubscription => "start_subscription",
            ActionKind::StopSubscription => "stop_subscription",
            ActionKind::ListSubscriptions => "list_subscriptions",
            ActionKind::ListContent => "list_content",
        }
    }

    /// The display name used in results: `Ping`, `Start Subscription`, ...
    pub fn display(self) -> &'static str {
        match self {
            ActionKind::Ping => "Ping",
            ActionKind::StartSubscription => "Start Subscription",
            ActionKind::StopSubscription => "Stop Subscription",
            ActionKind::ListSubscriptions => "List Subscriptions",
            ActionKind::ListContent => "List Content",
        }
    }

    /// The MCP tool name.
    pub fn tool_name(self) -> String {
        format!("{TOOL_PREFIX}{}", self.id())
    }

    /// Parse an action id, an MCP tool name or a display name (case-insensitive).
    pub fn parse(s: &str) -> Result<ActionKind, InputError> {
        let n = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let n = n.strip_prefix(TOOL_PREFIX).unwrap_or(&n);
        ActionKind::ALL
            .into_iter()
            .find(|a| a.id() == n)
            .ok_or_else(|| {
                let names: Vec<&str> = ActionKind::ALL.iter().map(|a| a.id()).collect();
                let hint = names
                    .iter()
                    .map(|c| (strsim::jaro_winkler(n, c), *c))
                    .filter(|(s, _)| *s > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, c)| format!(" Did you mean {c}?"))
                    .unwrap_or_default();
                InputError::new(
                    "action",
                    Some(format!("{s:?}")),
                    format!(
                        "unknown action.{hint} Allowed: {} (or the MCP tool names {TOOL_PREFIX}<action>)",
                        names.join(", ")
                    ),
                )
            })
    }
}

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

/// RFC 3339, or `YYYY-MM-DDTHH:MM:SS` (UTC) as the service writes it.
pub fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let t = s.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&chrono::Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return Ok(n.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err("expected a UTC time such as 2026-11-27T10:00:00Z (RFC 3339) or 2026-11-27T10:00:00".into())
}

const CONTEXT_FIELDS: [&str; 4] = [
    "case_id",
    "alert_group_identifiers",
    "target_entities",
    "scope",
];

/// The arguments each action takes besides the case context.
pub fn action_fields(kind: ActionKind) -> &'static [&'static str] {
    match kind {
        ActionKind::Ping | ActionKind::ListSubscriptions => &[],
        ActionKind::StartSubscription => &["start_a_subscription_for"],
        ActionKind::StopSubscription => &["stop_a_subscription_for"],
        ActionKind::ListContent => &["content_type", "start_time", "end_time"],
    }
}

/// Parse a request object (`action` JSON, MCP arguments). `kind` is given when the caller already
/// knows the action (an MCP tool); otherwise the object's `action` field names it.
pub fn parse_request(v: &Value, kind: Option<ActionKind>) -> Result<Request, Box<Rejected>> {
    let mut ctx = CaseContext {
        case_id: String::new(),
        alert_group_identifiers: vec![],
        target_entities: vec![],
        scope: default_scope(),
    };
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
    let allowed: Vec<&str> = CONTEXT_FIELDS
        .iter()
        .chain(action_fields(kind))
        .copied()
        .chain(std::iter::once("action"))
        .collect();
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            let hint = allowed
                .iter()
                .map(|a| (strsim::jaro_winkler(k, a), *a))
                .filter(|(s, _)| *s > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, a)| format!(" Did you mean {a}?"))
                .unwrap_or_default();
            return Err(r(InputError::new(
                k.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
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
