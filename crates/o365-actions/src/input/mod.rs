//! Validation of what a caller sends: case context, content types, requests in JSON.

pub mod args;
mod context;
mod json;
mod kind;
mod request;
mod time;
mod types;

pub use context::{default_scope, CaseContext, TargetEntity, MAX_FIELD_CHARS, MAX_ITEMS};
pub use json::{parse_strict, JsonError};
pub use kind::{ActionKind, TOOL_PREFIX};
pub use request::{parse_request, Rejected, Request};
pub use time::{human, parse_duration, parse_time, MAX_DURATION};
pub use types::{content_types, content_types_json, one_content_type, PLACEHOLDER};

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
