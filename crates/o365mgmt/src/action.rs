//! The actions from the command line (`ping`, `start-subscription`, ...) and from one JSON
//! request on stdin (`action`).

use std::process::ExitCode;

use o365_actions::input::{self, ActionKind, CaseContext, InputError, Request};
use o365_actions::result::{ActionResult, Failure, FailureKind};
use o365_actions::Runner;

use crate::cli::{Global, Output};
use crate::render;
use crate::setup::{context, open_store, output_format, settings};
use crate::term::{out, warn};

/// Print a result; its exit code is the process's.
pub fn emit(r: &ActionResult, fmt: Output) -> ExitCode {
    match fmt {
        Output::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        )),
        Output::Text => out(&render::result_text(r)),
    }
    ExitCode::from(r.exit_code)
}

/// Settings, store and runner for an action; on failure, why.
fn runner(g: &Global, via: &str) -> Result<Runner, Failure> {
    let s = settings(g).map_err(|e| Failure::config(&e))?;
    for w in &s.warnings {
        warn(w);
    }
    let store = open_store(&s).map_err(|e| Failure {
        field: Some("state".into()),
        ..Failure::new(
            FailureKind::Config,
            "state",
            e.to_string(),
            "choose a writable file with --state (or O365_STATE), or --state :memory: to keep nothing".into(),
        )
    })?;
    Ok(Runner::new(s, Some(store), via))
}

async fn run_request(g: &Global, req: Request, via: &str, fmt: Output) -> ExitCode {
    let runner = match runner(g, via) {
        Ok(r) => r,
        Err(f) => {
            return emit(
                &ActionResult::failed(Some(req.kind()), req.context(), f),
                fmt,
            )
        }
    };
    let mut r = runner.run(req).await;
    r.warnings
        .extend(runner.settings().warnings.iter().cloned());
    emit(&r, fmt)
}

/// An action from flags. Input is judged before the configuration: a bad request never
/// reaches the network.
pub async fn run(
    g: &Global,
    kind: ActionKind,
    req: impl FnOnce(CaseContext) -> Result<Request, InputError>,
) -> ExitCode {
    let fmt = output_format(g);
    let ctx = match context(g) {
        Ok(c) => c,
        Err(e) => {
            return emit(
                &ActionResult::failed(Some(kind), &CaseContext::manual(), Failure::input(&e)),
                fmt,
            )
        }
    };
    match req(ctx.clone()) {
        Ok(r) => run_request(g, r, "cli", fmt).await,
        Err(e) => emit(
            &ActionResult::failed(Some(kind), &ctx, Failure::input(&e)),
            fmt,
        ),
    }
}

/// `o365mgmt action`: one JSON request on stdin (at most 1 MiB, each key once), the result
/// object on stdout.
pub async fn run_json(g: &Global) -> ExitCode {
    let fmt = g.output.unwrap_or(Output::Json);
    let ctx = CaseContext::blank();
    let refuse = |field: &str, message: String, fix: &str| {
        let f = Failure {
            field: Some(field.into()),
            ..Failure::new(FailureKind::Input, "invalid_input", message, fix.into())
        };
        emit(&ActionResult::failed(None, &ctx, f), fmt)
    };
    let limit = o365_api::limits::MAX_INPUT_BYTES;
    let text =
        match o365_api::limits::read_capped(std::io::stdin().lock(), limit, "the request on stdin")
            .map(String::from_utf8)
        {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                return refuse(
                    "stdin",
                    "the request on stdin is not UTF-8".into(),
                    "pipe one JSON object into `o365mgmt action`",
                )
            }
            Err(e) => {
                return refuse(
                    "stdin",
                    format!("cannot read the request from stdin: {e}"),
                    "pipe one JSON object into `o365mgmt action`",
                )
            }
        };
    let v = match input::parse_strict(&text) {
        Ok(v) => v,
        Err(input::JsonError::Duplicate(k)) => {
            return refuse(&k, format!("the request names {k:?} twice"), "send each argument once: with a repeated key it is unclear which one is meant")
        }
        Err(e) => return refuse("request", format!("the request on stdin is {e}"), "send one object such as {\"action\": \"ping\", \"case_id\": \"4711\", \"alert_group_identifiers\": []}"),
    };
    match input::parse_request(&v, None) {
        Ok(req) => run_request(g, req, "action", fmt).await,
        Err(rej) => emit(
            &ActionResult::failed(rej.kind, &rej.ctx, Failure::input(&rej.error)),
            fmt,
        ),
    }
}

/// Content types from `TYPE…` or `--all`.
pub fn types_of(
    t: &crate::cli::Types,
    field: &str,
) -> Result<Vec<o365_api::ContentType>, InputError> {
    if t.all {
        Ok(o365_api::ContentType::ALL.to_vec())
    } else {
        input::content_types(field, &t.types)
    }
}
