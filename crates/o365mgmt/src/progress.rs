//! A tenant's collection progress as the reading commands see it (`collect status`, the MCP
//! resource, the status page): the key its state is kept under, and its cursors, lag and gaps.

use std::process::ExitCode;

use anyhow::anyhow;
use chrono::Utc;
use o365_actions::config::Settings;
use o365_api::ContentType;
use o365_collect::SinkSpec;

use crate::cli::Output;
use crate::setup::read_store;
use crate::term::{out, warn};

/// The key of the tenant's state in `spec`: its GUID however it is written (a domain needs a
/// sign-in to name it; a GUID needs none). `None` when that sign-in failed (said, as what
/// `doing` cannot do: exit 3).
pub async fn tenant_key(
    s: &Settings,
    client: &o365_api::Client,
    spec: &SinkSpec,
    store: &o365_store::Store,
    doing: &str,
) -> anyhow::Result<Option<String>> {
    let configured = s.tenant().map_err(|e| anyhow!("{e}"))?;
    let known = o365_collect::identity::known(spec).await?;
    match o365_collect::identity::resolve(client, configured, &known, Some(store)).await {
        Ok((_, key)) => Ok(Some(key)),
        Err(o365_collect::identity::IdentityError::Api(e)) => {
            warn(&format!(
                "cannot {doing}: the sign-in that names tenant {configured} failed: {e}"
            ));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The key a tenant's state is read under, without signing in (see
/// `o365_collect::identity::offline_key`).
pub fn reading_key(
    s: &Settings,
    spec: &SinkSpec,
    store: Option<&o365_store::Store>,
) -> anyhow::Result<String> {
    let configured = s.tenant().map_err(|e| anyhow!("{e}"))?;
    let known = spec.tenants()?;
    Ok(o365_collect::identity::offline_key(
        configured, &known, store,
    ))
}

/// A tenant's progress in one sink, read once (read-only: status never writes, and never cuts
/// a file another collector writes), for the JSON and the text of `collect status`.
struct Progress {
    sink: String,
    tenant: String,
    /// Whether the sink holds anything of the tenant.
    exists: bool,
    types: Vec<o365_collect::TypeStatus>,
    gaps: Vec<o365_store::Gap>,
    now: chrono::DateTime<Utc>,
}

impl Progress {
    fn read(s: &Settings, sink: Option<&str>) -> anyhow::Result<Self> {
        let store = read_store(s)?;
        let spec = crate::pass::reading_sink(s, sink, store.as_ref())?;
        let tenant = reading_key(s, &spec, store.as_ref())?;
        let types = spec.status(&tenant)?;
        let gaps = match &store {
            Some(store) => store.gaps(Some(&o365_api::cloud::history_key(
                &tenant,
                &s.api_root.value,
            )))?,
            None => vec![],
        };
        Ok(Self {
            sink: spec.name(),
            tenant,
            exists: types.is_some(),
            types: types.unwrap_or_default(),
            gaps,
            now: Utc::now(),
        })
    }

    fn of(&self, ct: ContentType) -> Option<&o365_collect::TypeStatus> {
        self.types.iter().find(|t| t.content_type == ct.as_str())
    }

    fn gaps_of(&self, ct: ContentType) -> impl Iterator<Item = &o365_store::Gap> {
        self.gaps
            .iter()
            .filter(move |g| g.content_type == ct.as_str())
    }

    fn json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = ContentType::ALL
            .iter()
            .map(|ct| {
                let t = self.of(*ct);
                let g: Vec<_> = self
                    .gaps_of(*ct)
                    .map(|g| o365_actions::result::GapReport::from_gap(g, self.now))
                    .collect();
                serde_json::json!({
                    "content_type": ct.as_str(),
                    "cursor": t.and_then(|t| t.cursor).map(o365_actions::stamp),
                    "lag_seconds": t.and_then(|t| t.lag_seconds),
                    "blobs_done": t.map(|t| t.blobs_done).unwrap_or(0),
                    "events_written": t.map(|t| t.events_written).unwrap_or(0),
                    "blobs_lost": t.map(|t| t.blobs_lost).unwrap_or(0),
                    "gaps": g,
                })
            })
            .collect();
        serde_json::json!({"sink": self.sink, "tenant": self.tenant, "types": rows})
    }

    fn text(&self) -> String {
        let mut t = format!("Collection into {} for tenant {}\n", self.sink, self.tenant);
        if !self.exists {
            t.push_str("  nothing collected yet\n");
        }
        for ct in ContentType::ALL {
            let ts = self.of(ct);
            t.push_str(&format!(
                "  {:<28} cursor {:<26} lag {:<12} blobs {:>7} events {:>9}\n",
                ct.as_str(),
                ts.and_then(|t| t.cursor)
                    .map(o365_actions::stamp)
                    .unwrap_or_else(|| "-".into()),
                ts.and_then(|t| t.lag_seconds)
                    .map(o365_actions::human_seconds)
                    .unwrap_or_else(|| "-".into()),
                ts.map(|t| t.blobs_done).unwrap_or(0),
                ts.map(|t| t.events_written).unwrap_or(0),
            ));
            for g in self.gaps_of(ct) {
                t.push_str(&format!(
                    "    gap [{}, {}) {} ({})\n",
                    o365_actions::stamp(g.stopped_at),
                    g.started_at
                        .map(o365_actions::stamp)
                        .unwrap_or_else(|| "still stopped".into()),
                    o365_actions::human_seconds(g.seconds(self.now)),
                    g.source
                ));
            }
        }
        t
    }
}

/// What `collect status -o json` prints (also the MCP resource `o365://{tenant}/collect/status`).
pub fn status_json(s: &Settings, sink: Option<&str>) -> anyhow::Result<serde_json::Value> {
    Ok(Progress::read(s, sink)?.json())
}

/// `collect status`: as text or JSON.
pub fn status(s: &Settings, sink: Option<&str>, fmt: Output) -> anyhow::Result<ExitCode> {
    let p = Progress::read(s, sink)?;
    match fmt {
        Output::Json => out(&format!("{}\n", serde_json::to_string_pretty(&p.json())?)),
        Output::Text => out(&p.text()),
    }
    Ok(ExitCode::SUCCESS)
}
