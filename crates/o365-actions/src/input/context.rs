//! The case context every action carries: case id, alert groups, target entities, scope.

use serde::{Deserialize, Serialize};

use super::InputError;

/// Longest case id, scope, alert group id or entity field kept (the journal stores them).
pub const MAX_FIELD_CHARS: usize = 1024;
/// Most alert groups or target entities one request may carry.
pub const MAX_ITEMS: usize = 1000;

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

/// `All entities`.
pub fn default_scope() -> String {
    "All entities".into()
}

fn too_long(field: String, s: &str) -> Result<(), InputError> {
    if s.chars().count() > MAX_FIELD_CHARS {
        return Err(InputError::new(
            field,
            Some(format!("{} characters", s.chars().count())),
            format!("at most {MAX_FIELD_CHARS} characters"),
        ));
    }
    Ok(())
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

    /// A context with no case id yet (for echoing what could be read of a rejected request).
    pub fn blank() -> Self {
        Self {
            case_id: String::new(),
            ..Self::manual()
        }
    }

    /// Check lengths: every free-text field is journaled, so none may be unbounded.
    pub fn check_sizes(&self) -> Result<(), InputError> {
        too_long("case_id".into(), &self.case_id)?;
        too_long("scope".into(), &self.scope)?;
        for (field, n) in [
            (
                "alert_group_identifiers",
                self.alert_group_identifiers.len(),
            ),
            ("target_entities", self.target_entities.len()),
        ] {
            if n > MAX_ITEMS {
                return Err(InputError::new(
                    field,
                    Some(format!("{n} items")),
                    format!("at most {MAX_ITEMS} items"),
                ));
            }
        }
        for (i, g) in self.alert_group_identifiers.iter().enumerate() {
            too_long(format!("alert_group_identifiers[{i}]"), g)?;
        }
        for (i, e) in self.target_entities.iter().enumerate() {
            too_long(format!("target_entities[{i}].Identifier"), &e.identifier)?;
            too_long(format!("target_entities[{i}].EntityType"), &e.entity_type)?;
        }
        Ok(())
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
        self.check_sizes()?;
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
