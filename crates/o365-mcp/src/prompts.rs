//! Prompts an analyst picks from a menu: check the audit feed's health, switch the feeds on,
//! investigate a data gap. Each becomes one user message telling the agent which tools to call
//! and which resources to read, in which order, and what to report.

use o365_api::ContentType;
use rmcp::model::{GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role};
use rmcp::ErrorData as McpError;

/// Prompt names.
pub const HEALTH: &str = "check_audit_feed_health";
/// Switch the audit feeds on.
pub const SWITCH_ON: &str = "switch_on_audit_feeds";
/// Investigate a data gap.
pub const GAP: &str = "investigate_data_gap";

fn arg(name: &str, description: &str, required: bool) -> PromptArgument {
    PromptArgument::new(name)
        .with_description(description)
        .with_required(required)
}

/// The prompts.
pub fn list() -> Vec<Prompt> {
    let tenant = || {
        arg(
            "tenant",
            "The tenant's name (completions offer them)",
            false,
        )
    };
    vec![
        Prompt::new(
            HEALTH,
            Some("Check the audit feed's health: connection, subscriptions, data gaps and collection lag, as a report."),
            Some(vec![tenant()]),
        )
        .with_title("Check the audit feed's health"),
        Prompt::new(
            SWITCH_ON,
            Some("Switch on the audit feeds of a tenant (all five content types unless some are named), with the data-gap warning."),
            Some(vec![
                tenant(),
                arg(
                    "content_types",
                    "Comma-separated content types (default: all five)",
                    false,
                ),
            ]),
        )
        .with_title("Switch on the audit feeds"),
        Prompt::new(
            GAP,
            Some("Investigate a data gap: when a content type was not subscribed, who stopped it, what was lost."),
            Some(vec![
                tenant(),
                arg("content_type", "The content type whose gap to explain", true),
            ]),
        )
        .with_title("Investigate a data gap"),
    ]
}

fn get_arg(args: &Option<JsonObject>, name: &str) -> Option<String> {
    args.as_ref()?
        .get(name)?
        .as_str()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// One prompt with its arguments; `tenants` are the server's tenant names, the default first.
pub fn get(
    name: &str,
    args: &Option<JsonObject>,
    tenants: &[String],
) -> Result<GetPromptResult, McpError> {
    let tenant = match get_arg(args, "tenant") {
        None => tenants.first().cloned().unwrap_or_default(),
        Some(t) if tenants.contains(&t) => t,
        Some(t) => {
            return Err(McpError::invalid_params(
                format!(
                    "tenant {t:?} is not configured here; allowed: {}",
                    tenants.join(", ")
                ),
                None,
            ))
        }
    };
    let ctx = "Use case_id \"mcp\" and alert_group_identifiers [] in every tool call.";
    let text = match name {
        HEALTH => format!(
            "Check the health of the Office 365 audit feed of tenant {tenant}.\n\
             1. Call office365_management_api_ping: is the connection working? If not, report its cause and fix and stop.\n\
             2. Call office365_management_api_list_subscriptions: which of the five content types are enabled, which are not?\n\
             3. Read the resources o365://{tenant}/gaps and o365://{tenant}/collect/status: open data gaps (spans with no content, lost for good), and per content type the collection's cursor and lag.\n\
             Report in a short table per content type: subscription state, open gaps, collection lag; then what to do about each problem. {ctx}"
        ),
        SWITCH_ON => {
            let types = match get_arg(args, "content_types") {
                None => ContentType::ALL.map(|c| c.as_str()).join(", "),
                Some(list) => {
                    let mut v = vec![];
                    for t in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                        let ct = t.parse::<ContentType>().map_err(|e| {
                            McpError::invalid_params(format!("content_types: {e}"), None)
                        })?;
                        v.push(ct.as_str());
                    }
                    v.join(", ")
                }
            };
            format!(
                "Switch on the Office 365 audit feeds ({types}) of tenant {tenant}.\n\
                 Call office365_management_api_start_subscription with start_a_subscription_for = [{types}]. Types already enabled are left as they are (outcome already_enabled). \
                 Then report each type's outcome, and any data gap the result names: content produced while a type was stopped does not exist and cannot be collected later. {ctx}"
            )
        }
        GAP => {
            let ct = get_arg(args, "content_type").ok_or_else(|| {
                McpError::invalid_params("content_type is required: the content type whose gap to explain", None)
            })?;
            let ct = ct
                .parse::<ContentType>()
                .map_err(|e| McpError::invalid_params(format!("content_type: {e}"), None))?;
            let ct = ct.as_str();
            format!(
                "Investigate the data gaps of {ct} for tenant {tenant}.\n\
                 1. Read o365://{tenant}/gaps: the spans in which {ct} was not subscribed, and whether each was caused by an action, observed, or the 7-day retention.\n\
                 2. Read o365://{tenant}/journal: which action (case id, time, via) stopped and restarted {ct}.\n\
                 3. Read o365://{tenant}/collect/status: whether collection has moved past the gap.\n\
                 Explain when the gap started and ended, who or what caused it, that content of that span does not exist and cannot be fetched, and how to prevent it (ask before stopping a subscription)."
            )
        }
        other => {
            return Err(McpError::invalid_params(
                format!(
                    "unknown prompt `{other}`; this server has: {HEALTH}, {SWITCH_ON}, {GAP}"
                ),
                None,
            ))
        }
    };
    Ok(
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).with_description(
            match name {
                HEALTH => "Audit feed health report",
                SWITCH_ON => "Switch on the audit feeds",
                _ => "Investigate a data gap",
            },
        ),
    )
}

/// Completions for a prompt's argument (or a resource template's `tenant`).
pub fn complete(argument: &str, value: &str, tenants: &[String]) -> Vec<String> {
    let starts = |c: &str, prefix: &str| {
        c.to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase())
    };
    match argument {
        "tenant" => tenants
            .iter()
            .filter(|t| starts(t, value))
            .cloned()
            .collect(),
        "content_type" | "content_types" => {
            // For a list, complete its last item and keep the items before it as typed.
            let (head, last) = match value.rsplit_once(',') {
                Some((h, l)) => (format!("{h},"), l.trim()),
                None => (String::new(), value),
            };
            ContentType::ALL
                .iter()
                .map(|c| c.as_str())
                .filter(|c| starts(c, last))
                .map(|c| format!("{head}{c}"))
                .collect()
        }
        _ => vec![],
    }
}
