//! Command-line arguments (clap derive). Parsed first, then turned into settings in `main`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::arg::{self, When};
use crate::flags::SettingFlags;

/// Office 365 Management Activity API: subscriptions, audit-log collection, SOAR and MCP
/// integration, and a local emulator.
///
/// Exit codes: 0 every requested content type reached its state; 1 the action ran but some type
/// failed; 2 bad input or configuration; 3 authentication or connectivity failure.
#[derive(Parser, Debug)]
#[command(name = "o365mgmt", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// The result object (default when stdout is not a terminal).
    Json,
}

/// Log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// For people.
    #[default]
    Text,
    /// JSON lines.
    Json,
}

/// Options every command accepts, before or after the subcommand.
#[derive(Args, Debug, Default)]
pub struct Global {
    /// Log format on stderr: text, or json (one object per line, with the tenant on every
    /// line of a tenant's work).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, short = 'o', global = true, value_enum)]
    pub output: Option<Output>,
    /// TOML configuration file [default: ./o365mgmt.toml, else the user config dir's o365mgmt/config.toml].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// JSON export of the existing SOAR integration's parameters ("Api Root", "Client ID", ...).
    #[arg(long, global = true, value_name = "FILE")]
    pub soar_config: Option<PathBuf>,
    /// The tenant to use, by its name in the configuration (`default` is the top-level one)
    /// [default: the only tenant, else `default`].
    #[arg(long, global = true, value_name = "NAME")]
    pub tenant: Option<String>,
    /// Settings (connection, credentials, state): one flag per setting of the configuration.
    #[command(flatten)]
    pub settings: SettingFlags,
    /// Case id the action runs for [default: manual].
    #[arg(long, global = true, help_heading = "Case context")]
    pub case_id: Option<String>,
    /// Alert group identifier (repeatable).
    #[arg(
        long = "alert-group",
        global = true,
        value_name = "ID",
        help_heading = "Case context"
    )]
    pub alert_groups: Vec<String>,
    /// Scope of the case [default: "All entities"].
    #[arg(long, global = true, help_heading = "Case context")]
    pub scope: Option<String>,
    /// Target entity as IDENTIFIER:TYPE (repeatable); when given, the scope is not applied.
    #[arg(
        long = "target-entity",
        global = true,
        value_name = "ID:TYPE",
        help_heading = "Case context"
    )]
    pub target_entities: Vec<String>,
}

/// Content types as given on the command line.
#[derive(Args, Debug)]
pub struct Types {
    /// Content types (each may be a comma-separated list), case-insensitive:
    /// Audit.AzureActiveDirectory, Audit.Exchange, Audit.SharePoint, Audit.General, DLP.All.
    #[arg(value_name = "TYPE", required_unless_present = "all")]
    pub types: Vec<String>,
    /// All five content types.
    #[arg(long, conflicts_with = "types")]
    pub all: bool,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check the connection: a token AND subscriptions/list, with the cause and fix of any failure.
    Ping,
    /// Start content subscriptions (already enabled counts as success).
    #[command(alias = "start")]
    StartSubscription(Types),
    /// Stop content subscriptions. Content produced while stopped is lost for good.
    #[command(alias = "stop")]
    StopSubscription(Types),
    /// List the tenant's subscriptions.
    #[command(alias = "list-subscriptions")]
    Subscriptions,
    /// Available content blobs.
    #[command(subcommand)]
    Content(ContentCmd),
    /// Data gaps ever recorded: spans in which a content type was not subscribed (or content
    /// expired before it was collected); with --repair, filled from Graph's audit search.
    Gaps {
        /// Also write the tenant's 7-day timeline (gaps, collected, pending) as an SVG file.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Backfill each closed gap within the audit search's reach (180 days), for exactly its
        /// span and content type, into --sink; the ledger records it repaired with the events
        /// recovered, or why not. Needs AuditLogsQuery.Read.All (as `backfill`).
        #[arg(long)]
        repair: bool,
        /// Where repairs go; the kinds listed in its help come from the sink table
        /// (`fit::sink_help`).
        #[arg(long, value_name = "SINK", requires = "repair")]
        sink: Option<String>,
        /// First wait before asking how a repair's query goes.
        #[arg(long, value_name = "DURATION", requires = "repair", value_parser = arg::poll)]
        poll: Option<std::time::Duration>,
    },
    /// The integration's two connectors: DLP and Audit.General records as SOAR alerts (one JSON
    /// object each), made once into a spool beside the state file and delivered to --sink
    /// (stdout, a JSONL file, a webhook or Kafka), at most --max-events-to-fetch per run.
    Alerts(AlertsArgs),
    /// Every tenant's feeds at a glance: subscription, data gaps, collection and lag per content
    /// type (JSON); with --serve, as a page in the browser.
    Status(StatusArgs),
    /// The action journal: every action run, newest first.
    Journal {
        /// Rows to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Run one action from a JSON request on stdin and write the result object on stdout:
    /// {"action": "start_subscription", "case_id": "4711", "alert_group_identifiers": [],
    /// "start_a_subscription_for": ["Audit.Exchange"]}.
    Action,
    /// Collect the audit log: effectively once (no loss, no duplicates), bounded memory.
    ///
    /// Default sink: SQLite (events.sqlite next to the state file), one row per event.
    Collect(CollectArgs),
    /// Backfill the audit log beyond the feed's 7 days through Microsoft Graph's audit search
    /// (180 days with Audit Standard, a year and more with Premium), into the same sinks:
    /// each event once, also beside what `collect` wrote; a stopped run resumes where it was.
    ///
    /// Needs the Microsoft Graph application permission AuditLogsQuery.Read.All (with admin
    /// consent); commercial and GCC clouds only.
    Backfill(crate::backfill::BackfillArgs),
    /// Serve the actions as MCP tools for AI agents: stdio by default, or streamable HTTP; with
    /// several `[[tenants]]`, tools take an optional `tenant` (default: --tenant, else the first).
    ///
    /// Tools: office365_management_api_ping, _start_subscription, _stop_subscription,
    /// _list_subscriptions, _list_content, and _list_alerts (what `alerts` made). With --http,
    /// one JSON line on stdout gives the URL.
    Mcp {
        /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8931; port 0 picks one) at /mcp.
        #[arg(long, value_name = "ADDR")]
        http: Option<SocketAddr>,
        /// File holding the bearer token HTTP clients must send (required beyond loopback).
        #[arg(long, value_name = "FILE", requires = "http")]
        auth_token_file: Option<PathBuf>,
    },
    /// The long-running service: follow every configured tenant (or this instance's shard) into
    /// one sink, with /metrics, /healthz and /readyz (and /mcp when asked) on one listener.
    ///
    /// SIGTERM/SIGINT: graceful stop (blobs in flight finish, progress is saved). SIGHUP: reload
    /// the tenants from the configuration (added ones start, removed ones stop, unchanged ones
    /// are not disturbed).
    Serve(ServeArgs),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Run the local emulator of login.microsoftonline.com + manage.office.com.
    ///
    /// Prints one JSON line on stdout (api_root, login_endpoint, tenant_id, client_id,
    /// client_secret, ...) and serves until SIGINT/SIGTERM. Logs go to stderr. Here `--config`
    /// names the emulator's TOML file (tenants, apps, data, faults: see emulator.example.toml).
    Emulator {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        /// Seed for all generated content (overrides the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Blobs per content listing page (overrides the file's `api.page_size`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        page_size: Option<u32>,
        /// Serve this many tenants, each with the default app and all five subscriptions
        /// enabled a day ago (ids and domains in the JSON line).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        tenants: Option<u32>,
        /// Serve HTTPS with a CA made for this run: its certificate is written to a file named
        /// in the JSON line (`ca_file`); give that file to clients (`--ca-file`).
        #[arg(long)]
        tls: bool,
        /// Print shell `export` lines instead of the JSON line: every O365_* setting a client
        /// needs, and a state file of this emulator's own (so trying it never touches your
        /// state). E.g. `o365mgmt emulator --print-env > emulator.env &`, then `. ./emulator.env`.
        #[arg(long)]
        print_env: bool,
    },
    /// A guided tour on an embedded emulator: ping, start all, list, stop, restart with the gap.
    Demo,
}

/// `collect` arguments.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CollectArgs {
    /// `status`: cursors, lag and gaps per content type.
    #[command(subcommand)]
    pub command: Option<CollectCmd>,
    /// Content types (each may be a comma-separated list) [default: all five].
    #[arg(value_name = "TYPE")]
    pub types: Vec<String>,
    /// All five content types.
    #[arg(long, conflicts_with = "types")]
    pub all: bool,
    /// Collect every configured tenant (each with its content_types), concurrently.
    #[arg(long, conflicts_with = "types")]
    pub all_tenants: bool,
    /// One pass or keep going.
    #[command(flatten)]
    pub run: FollowArgs,
    /// How passes run.
    #[command(flatten)]
    pub pass: PassArgs,
    /// Where events go; the kinds listed in its help come from the sink table
    /// (`fit::sink_help`).
    #[arg(long, value_name = "SINK")]
    pub sink: Option<String>,
    /// Start subscriptions that are not enabled (journaled, like start-subscription).
    #[arg(long)]
    pub auto_start: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics while collecting.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Webhook notifications.
    #[command(flatten)]
    pub webhook: WebhookArgs,
}

/// Webhook notifications, for `collect --follow` and `serve`.
#[derive(Args, Default)]
pub struct WebhookArgs {
    /// Receive the service's notifications on ADDR (a run that keeps going: `serve`, `collect --follow`): a new blob starts a pass at
    /// once, and polling every --interval (15m by default then) catches what a notification missed.
    #[arg(long, value_name = "ADDR")]
    pub webhook: Option<SocketAddr>,
    /// The address the service posts to: HTTPS, e.g. a reverse proxy in front of --webhook
    /// (http:// only on loopback) [default: http://ADDR/ when ADDR is loopback].
    #[arg(long, value_name = "URL", requires = "webhook")]
    pub webhook_url: Option<String>,
    /// Value the service must send back as Webhook-AuthID; requests without it are refused.
    /// A secret: prefer the variable.
    #[arg(
        long,
        value_name = "ID",
        requires = "webhook",
        env = "O365_WEBHOOK_AUTH_ID",
        hide_env_values = true
    )]
    pub auth_id: Option<String>,
}

impl std::fmt::Debug for WebhookArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The auth id is a shared secret.
        f.debug_struct("WebhookArgs")
            .field("webhook", &self.webhook)
            .field("webhook_url", &self.webhook_url)
            .field("auth_id", &self.auth_id.as_ref().map(|_| "[hidden]"))
            .finish()
    }
}

/// How passes run, for `collect` and `serve`. The defaults the help states come from the
/// constants applied (`arg::value_defaults`).
#[derive(Args, Debug, Default, Clone)]
pub struct PassArgs {
    /// Where a content type starts the first time it is collected: a duration back (24h, 3d,
    /// 90m) or a UTC time (RFC 3339). Fixed once decided.
    #[arg(long, value_name = "DURATION|TIME", value_parser = arg::when)]
    pub since: Option<When>,
    /// Pause between passes.
    #[arg(long, value_name = "DURATION", value_parser = arg::interval)]
    pub interval: Option<std::time::Duration>,
    /// Recent time re-listed on every pass so late blobs are caught.
    #[arg(long, value_name = "DURATION", value_parser = arg::overlap)]
    pub overlap: Option<chrono::Duration>,
    /// Blobs in flight at once, per tenant.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,
}

/// `--once` or `--follow`, for the commands that collect.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct FollowArgs {
    /// One pass, then exit (the default).
    #[arg(long, conflicts_with = "follow")]
    pub once: bool,
    /// Keep going, one pass per --interval, until SIGINT/SIGTERM.
    #[arg(long)]
    pub follow: bool,
}

/// One of the integration's two connectors.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    /// DLP.All records.
    Dlp,
    /// Audit.General records.
    AuditGeneral,
}

/// `alerts` arguments: the connectors' parameters (their display names in the help). Each may
/// also be set in the config file's `[alerts]` table (same name with underscores) or come from
/// an exported connector configuration (`--soar-config`); a flag wins.
#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// Which connector: dlp, audit-general [default: both].
    #[arg(long, value_name = "CONNECTOR")]
    pub connector: Option<Connector>,
    /// Where alerts are delivered: stdout, jsonl:PATH, webhook:https://HOST/PATH (each alert
    /// POSTed as JSON, retried, its ticket id as Idempotency-Key) or kafka://HOST:PORT/TOPIC
    /// [default: the `sink` key of the config file's alerts table, else stdout].
    #[arg(long, value_name = "SINK")]
    pub sink: Option<String>,
    /// One pass or keep going.
    #[command(flatten)]
    pub run: FollowArgs,
    /// How passes run.
    #[command(flatten)]
    pub pass: PassArgs,
    /// "Max events to fetch": alerts delivered per run (per pass with --follow) at most; the
    /// rest wait for the next [default: all].
    #[arg(long, value_name = "N", visible_alias = "max-alerts")]
    pub max_events_to_fetch: Option<String>,
    /// "Mask findings?" (DLP): detected values become 0 for digits and X for letters.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub mask_findings: Option<String>,
    /// "Type of Operation Filter" (DLP): operations that make no alert, comma-separated.
    #[arg(long, value_name = "LIST")]
    pub dlp_operation_filter: Option<String>,
    /// "Type of Policy Filter" (DLP): a record naming one of these policies makes no alert.
    #[arg(long, value_name = "LIST")]
    pub dlp_policy_filter: Option<String>,
    /// "Type of Operation Filter" (Audit.General), comma-separated.
    #[arg(long, value_name = "LIST")]
    pub audit_operation_filter: Option<String>,
    /// "Status Filter" (Audit.General), comma-separated.
    #[arg(long, value_name = "LIST")]
    pub audit_status_filter: Option<String>,
    /// "Use operation and status filters as whitelist" (Audit.General; otherwise blacklists).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub audit_filters_as_whitelist: Option<String>,
    /// "Entity Keys to Create Additional Events" (Audit.General) [default: mailMessage, mailbox, ip].
    #[arg(long, value_name = "LIST")]
    pub entity_keys: Option<String>,
    /// "EventClassId": the event-name field entity events get [default: Operation].
    #[arg(long, value_name = "FIELD")]
    pub event_class_id: Option<String>,
    /// "Environment Field Name": a top-level field of the record.
    #[arg(long, value_name = "FIELD")]
    pub environment_field: Option<String>,
    /// "Environment Regex Pattern": its whole match is the environment [default: .*].
    #[arg(long, value_name = "REGEX")]
    pub environment_regex: Option<String>,
    /// The environment when the field gives none [default: Default Environment].
    #[arg(long, value_name = "NAME")]
    pub default_environment: Option<String>,
    /// Start subscriptions that are not enabled (journaled).
    #[arg(long)]
    pub auto_start: bool,
}

/// `status` arguments.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Serve the page at http://ADDR/ and its JSON at /api/status, until SIGINT/SIGTERM.
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<SocketAddr>,
    /// The sink whose progress to show [default: the default SQLite sink].
    #[arg(long, value_name = "SINK")]
    pub sink: Option<String>,
    /// File holding the bearer token required beyond loopback (a browser signs in at /login).
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
}

/// `serve` arguments.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where /metrics, /healthz, /readyz (and /mcp) are served.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub listen: SocketAddr,
    /// Where events go; the kinds listed in its help come from the sink table
    /// (`fit::sink_help`).
    #[arg(long, value_name = "SINK")]
    pub sink: Option<String>,
    /// This instance's share of the tenants, K/N, for the local sinks: N instances with the same
    /// configuration collect disjoint sets of tenants (a stable hash of the tenant's name). With
    /// a Kafka sink the instances share the tenants through Kafka's group protocol instead.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// This instance's name in the fleet's Kafka group (static membership: an instance that
    /// comes back under the same name within the session timeout gets its tenants back); unique
    /// per instance [default: the host name].
    #[arg(long, value_name = "NAME")]
    pub instance_id: Option<String>,
    /// How passes run.
    #[command(flatten)]
    pub pass: PassArgs,
    /// Blobs in flight across all tenants.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_in_flight: Option<u32>,
    /// Start subscriptions that are not enabled.
    #[arg(long)]
    pub auto_start: bool,
    /// /readyz answers 503 once a tenant has been failing for this long.
    #[arg(long, value_name = "DURATION", value_parser = arg::ready_after)]
    pub ready_after: Option<chrono::Duration>,
    /// Also serve the MCP tools at /mcp, for every configured tenant (tools take an optional
    /// `tenant`; the default is the one chosen with --tenant, else the first).
    #[arg(long)]
    pub mcp: bool,
    /// File holding the bearer token required on /metrics and /mcp (required for /mcp beyond
    /// loopback).
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Webhook notifications, for every tenant.
    #[command(flatten)]
    pub webhook: WebhookArgs,
}

/// `collect` subcommands.
#[derive(Subcommand, Debug)]
pub enum CollectCmd {
    /// Cursors, lag, blobs and events done, and data gaps per content type.
    Status {
        /// The sink whose progress to show [default: the default SQLite sink].
        #[arg(long, value_name = "SINK")]
        sink: Option<String>,
    },
    /// Rewrite a SQLite sink made by an earlier version in the current layout (about a quarter
    /// less CPU per event from then on), in one transaction: stop its collector first, or each
    /// waits for the other.
    Upgrade {
        /// The SQLite sink to upgrade [default: the default SQLite sink].
        #[arg(long, value_name = "SINK")]
        sink: Option<String>,
    },
}

/// `content` subcommands.
#[derive(Subcommand, Debug)]
pub enum ContentCmd {
    /// List available content blobs of one type in a window (default: the last 24 hours).
    List {
        /// Content type.
        #[arg(long, short = 't')]
        content_type: String,
        /// Start (RFC 3339 or YYYY-MM-DDTHH:MM:SS, UTC).
        #[arg(long)]
        start: Option<String>,
        /// End (exclusive) [default: now].
        #[arg(long)]
        end: Option<String>,
    },
}

/// `config` subcommands.
#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// The effective configuration, secrets redacted, with where each value came from.
    Show,
}
