//! The ledger's vocabulary as types: subscription states, why a state changed, where a gap is
//! known from. Stored and serialised by stable lower-case names.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

macro_rules! named {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vm])* $v),+
        }

        impl $name {
            /// The stable name (as stored and serialised).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$v),)+
                    other => Err(format!("{other:?} is not a {}", stringify!($name))),
                }
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                v.as_str()?.parse().map_err(|e: String| FromSqlError::Other(e.into()))
            }
        }
    };
}

named!(
    /// The state of one content type's subscription.
    SubscriptionState {
        /// Content is produced.
        Enabled = "enabled",
        /// Stopped: nothing is produced.
        Disabled = "disabled",
        /// Never started.
        Absent = "absent",
    }
);

named!(
    /// Why a state was recorded.
    TransitionCause {
        /// An action of ours caused it.
        Action = "action",
        /// We saw it in a listing (someone else, or the service, changed it).
        Observed = "observed",
    }
);

named!(
    /// How a gap is known.
    GapSource {
        /// Our stop opened it.
        Action = "action",
        /// A listing showed the type disabled: it stopped at or before the recorded time.
        Observed = "observed",
        /// A collector could no longer list it (older than the 7-day retention).
        Retention = "retention",
    }
);

impl From<TransitionCause> for GapSource {
    fn from(c: TransitionCause) -> Self {
        match c {
            TransitionCause::Action => GapSource::Action,
            TransitionCause::Observed => GapSource::Observed,
        }
    }
}

impl SubscriptionState {
    /// Whether content is produced in this state.
    pub fn is_enabled(self) -> bool {
        self == SubscriptionState::Enabled
    }
}
