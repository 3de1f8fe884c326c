//! Which action a request asks for, and its names: id, display name, MCP tool name.

use serde::{Deserialize, Serialize};

use super::InputError;

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

    /// How the existing integration begins the message of a failure of this action.
    pub fn failure_prefix(kind: Option<ActionKind>) -> &'static str {
        match kind {
            Some(ActionKind::Ping) => "Failed to connect to the O365 Management API! Error is",
            _ => "Failed to execute command! Error is",
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
                let hint = crate::suggest::closest(n, names.iter().copied())
                    .map(|c| format!(" Did you mean {c}?"))
                    .unwrap_or_default();
                InputError::new(
                    "action",
                    Some(format!("{:?}", s.chars().take(80).collect::<String>())),
                    format!(
                        "unknown action.{hint} Allowed: {} (or the MCP tool names {TOOL_PREFIX}<action>)",
                        names.join(", ")
                    ),
                )
            })
    }
}
