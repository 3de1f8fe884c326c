//! The confirmation before a change that loses data: when the client can ask its user (form
//! elicitation), a stop names the tenant and the content types and says that content produced
//! while stopped is lost for good; nothing is stopped unless the user confirms.

use std::time::Duration;

use o365_actions::input::{ActionKind, Request};
use o365_actions::result::ActionResult;
use o365_actions::{Runner, STOP_WARNING};
use rmcp::model::{BooleanSchema, ElicitRequestParams, ElicitationAction, ElicitationSchema};
use rmcp::service::ElicitationMode;
use rmcp::{Peer, RoleServer};

/// How long the user has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(600);

/// The property the user sets to confirm.
const CONFIRM: &str = "confirm";

/// Ask before a stop. `Ok` to go on (confirmed, or a client that cannot ask: it sees the tool
/// annotated destructive); `Err` with the result to return when the user did not confirm.
pub async fn stop(
    peer: &Peer<RoleServer>,
    runner: &Runner,
    req: &Request,
) -> Result<(), ActionResult> {
    let Request::Stop(ctx, types) = req else {
        return Ok(());
    };
    if !peer
        .supported_elicitation_modes()
        .contains(&ElicitationMode::Form)
    {
        return Ok(());
    }
    let tenant = runner
        .settings()
        .tenant_id
        .as_ref()
        .map(|t| t.value.clone())
        .unwrap_or_default();
    let names = types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!(
        "Stop the audit-log subscription{} {names} of tenant {} ({tenant})? {STOP_WARNING}",
        if types.len() == 1 { "" } else { "s" },
        runner.settings().name,
    );
    let schema = ElicitationSchema::builder()
        .required_bool_with(CONFIRM, |b: BooleanSchema| {
            b.title("Stop, and lose the content of the stopped time")
                .description("Content produced while a subscription is stopped is never available: it cannot be collected later.")
        })
        .build();
    let schema = match schema {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(
                error = e,
                "cannot ask for the confirmation: stopping unconfirmed"
            );
            return Ok(());
        }
    };
    let answer = peer
        .create_elicitation_with_timeout(
            ElicitRequestParams::FormElicitationParams {
                meta: None,
                message,
                requested_schema: schema,
            },
            Some(ANSWER_WITHIN),
        )
        .await;
    let why = match answer {
        Ok(r) if r.action == ElicitationAction::Accept => {
            let yes = r
                .content
                .as_ref()
                .and_then(|c| c.get(CONFIRM))
                .and_then(|v| v.as_bool())
                == Some(true);
            if yes {
                return Ok(());
            }
            "the user did not tick the confirmation"
        }
        Ok(r) if r.action == ElicitationAction::Decline => "the user declined",
        Ok(_) => "the user dismissed the question",
        Err(e) => {
            tracing::warn!(error = %e, "no answer to the confirmation");
            "no answer came to the confirmation"
        }
    };
    let mut r = ActionResult::new(
        ActionKind::StopSubscription.display(),
        ctx,
        chrono::Utc::now(),
    );
    r.result_value = false;
    r.tenant_id = Some(tenant);
    r.output_message =
        format!("Nothing was stopped: {why}. The subscriptions of {names} stay as they were.");
    r.exit_code = 1;
    Err(r)
}
