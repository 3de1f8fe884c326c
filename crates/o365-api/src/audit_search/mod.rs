//! Microsoft Graph's audit log search, which reaches 180 days and more (the Management Activity
//! API keeps 7): create a query, poll it until it ends, page its records. A client of its own
//! for Graph's resource (its own token, pacing and counts) shares the configured credentials,
//! trust and proxy. v1.0 is tried first; where it does not serve the search, beta is, and the
//! version used is remembered.

pub mod record;
pub mod strip;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;

use crate::client::Client;
use crate::Error;
pub use record::{content_type_of, decode_page, record_type_filters, RecordPage};

/// What a query asks for.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    /// Its name, shown in the tenant's list of queries.
    pub display_name: String,
    /// Start of the range (inclusive).
    pub start: DateTime<Utc>,
    /// End of the range (exclusive).
    pub end: DateTime<Utc>,
    /// `recordTypeFilters` (none: every type).
    pub record_types: Vec<String>,
}

/// Where a query stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryState {
    /// Its id.
    pub id: String,
    /// `notStarted`, `running`, `succeeded`, `failed`, `cancelled`.
    pub status: String,
    /// Whether the answer was cut at the record limit (v1.0 says so; beta does not).
    #[serde(default)]
    pub is_record_count_limit_exceeded: Option<bool>,
    /// Records the query returns, about.
    #[serde(default)]
    pub approximate_returned_record_count: Option<u64>,
    /// Records a query returns at most.
    #[serde(default)]
    pub record_count_limit: Option<u64>,
}

impl QueryState {
    /// Whether the query ended (any way).
    pub fn ended(&self) -> bool {
        !matches!(self.status.as_str(), "notStarted" | "running")
    }
    /// Whether it ended with records to page.
    pub fn succeeded(&self) -> bool {
        self.status == "succeeded"
    }
}

/// The audit search of one tenant.
#[derive(Clone)]
pub struct AuditSearch {
    graph: Client,
    version: Arc<parking_lot::Mutex<&'static str>>,
}

impl std::fmt::Debug for AuditSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSearch")
            .field("graph", &self.graph.inner.resource)
            .field("version", &*self.version.lock())
            .finish()
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Client {
    /// The Graph audit search of this client's tenant. Refused (before any request) in the
    /// clouds Graph does not serve it for: GCC High and DoD.
    pub fn audit_search(&self) -> Result<AuditSearch, Error> {
        let Some(root) = self.inner.graph_root.clone() else {
            return Err(Error::Config {
                field: "cloud",
                value: self.inner.cloud_name.to_string(),
                problem: "Microsoft Graph's audit log search is served for the commercial and GCC clouds only (global endpoints), not for GCC High or DoD: backfill beyond the 7 days of the Management Activity API is not available there".into(),
            });
        };
        Ok(AuditSearch {
            graph: self.sibling(&root),
            version: Arc::new(parking_lot::Mutex::new("v1.0")),
        })
    }
}

impl AuditSearch {
    /// The Graph version in use (`v1.0`, or `beta` where v1.0 does not serve the search).
    pub fn version(&self) -> &'static str {
        *self.version.lock()
    }

    /// The client that talks to Graph (its counts, its token).
    pub fn client(&self) -> &Client {
        &self.graph
    }

    fn url(&self, version: &str, rest: &str) -> String {
        format!(
            "{}/{version}/security/auditLog/queries{rest}",
            self.graph.inner.resource
        )
    }

    /// Submit a query. A 404 or 400 from v1.0 (the search not served there) sends it to beta,
    /// which is then used for everything.
    pub async fn create(&self, q: &QuerySpec) -> Result<QueryState, Error> {
        let body = serde_json::json!({
            "@odata.type": "#microsoft.graph.security.auditLogQuery",
            "displayName": q.display_name,
            "filterStartDateTime": stamp(q.start),
            "filterEndDateTime": stamp(q.end),
            "recordTypeFilters": q.record_types,
        })
        .to_string();
        let version = self.version();
        let first = self
            .graph
            .send_to_api_host(
                Method::POST,
                &self.url(version, ""),
                Some(body.clone()),
                "audit log query",
            )
            .await;
        let answer = match first {
            Err(Error::Api { status, .. }) if version == "v1.0" && matches!(status, 400 | 404) => {
                tracing::info!("Graph v1.0 does not serve the audit log search here: using beta");
                *self.version.lock() = "beta";
                self.graph
                    .send_to_api_host(
                        Method::POST,
                        &self.url("beta", ""),
                        Some(body),
                        "audit log query",
                    )
                    .await?
            }
            other => other?,
        };
        decode_state(&answer.body)
    }

    /// Where query `id` stands.
    pub async fn state(&self, id: &str) -> Result<QueryState, Error> {
        let url = self.url(self.version(), &format!("/{id}"));
        let a = self
            .graph
            .send_to_api_host(Method::GET, &url, None, "audit log query")
            .await?;
        decode_state(&a.body)
    }

    /// A page of query `id`'s records: the first (`next` = `None`, `top` records) or the one at
    /// `next` (a previous page's `@odata.nextLink`).
    pub async fn records(
        &self,
        id: &str,
        top: usize,
        next: Option<&str>,
    ) -> Result<RecordPage, Error> {
        let url = match next {
            Some(n) => n.to_string(),
            None => self.url(self.version(), &format!("/{id}/records?$top={top}")),
        };
        let a = self
            .graph
            .send_to_api_host(Method::GET, &url, None, "audit log records")
            .await?;
        decode_page(&a.body)
    }
}

fn decode_state(body: &[u8]) -> Result<QueryState, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        what: "Graph audit log query".into(),
        path: "$".into(),
        message: e.to_string(),
    })
}
