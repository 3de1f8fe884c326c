//! The SOAR integration's two connectors, as pure functions: a `DLP.All` record or an
//! `Audit.General` record in, the alert the connector would create out (name, priority,
//! grouping, environment, flattened events), after the connectors' filters, with the same field
//! semantics. Fetching is not here: alerts come from the effectively-once collector.

pub mod alert;
pub mod audit_general;
pub mod dlp;
pub mod filters;
pub mod flatten;
pub mod params;

pub use alert::{Alert, EnvironmentRule, Skip};
pub use audit_general::AuditParams;
pub use dlp::DlpParams;
