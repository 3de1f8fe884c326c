//! `o365mgmt`: the command-line tool for the Office 365 Management Activity API.
#![allow(clippy::result_large_err)]

mod cli;
mod collect;
mod demo;
mod render;

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser as _};
use o365_actions::config::{self, ConfigError, Settings, Source};
use o365_actions::input::{self, ActionKind, CaseContext, InputError, TargetEntity};
use o365_actions::result::{ActionResult, Failure, FailureKind, Status};
use o365_actions::Runner;
use o365_store::Store;

use cli::{Cli, Command, ConfigCmd, ContentCmd, Global, Output};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo moves the emulator's clock on purpose: its skew warning would only confuse.
    let default_level = if matches!(cli.command, Command::Demo) {
        "error"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("O365_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    // The collector parses on one thread while its writer thread takes the other core; one
    // runtime thread also means fewer cross-thread wake-ups (~10 % less CPU, measured).
    let mut builder = if matches!(cli.command, Command::Collect(_)) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            report(&anyhow::anyhow!("cannot start the async runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            ExitCode::from(2)
        }
    }
}

#[allow(clippy::print_stderr)]
fn report(e: &anyhow::Error) {
    eprintln!("error: {e:#}");
}

#[allow(clippy::print_stderr)]
pub(crate) fn warn(msg: &str) {
    eprintln!("warning: {msg}");
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

fn output_format(g: &Global) -> Output {
    g.output.unwrap_or(if std::io::stdout().is_terminal() {
        Output::Text
    } else {
        Output::Json
    })
}

/// The configuration: files and environment, then flags on top.
pub(crate) fn settings(g: &Global) -> Result<Settings, ConfigError> {
    let mut l = Settings::loader(g.config.as_deref(), g.soar_config.as_deref())?;
    let flags: [(&str, &'static str, Option<String>); 11] = [
        ("cloud", "--cloud", g.cloud.clone()),
        ("api_root", "--api-root", g.api_root.clone()),
        (
            "login_endpoint",
            "--login-endpoint",
            g.login_endpoint.clone(),
        ),
        ("tenant_id", "--tenant-id", g.tenant_id.clone()),
        ("client_id", "--client-id", g.client_id.clone()),
        ("client_secret", "--client-secret", g.client_secret.clone()),
        (
            "certificate_path",
            "--certificate-path",
            g.certificate_path.as_ref().map(|p| p.display().to_string()),
        ),
        ("verify_ssl", "--verify-ssl", g.verify_ssl.clone()),
        ("publisher_id", "--publisher-id", g.publisher_id.clone()),
        (
            "requests_per_minute",
            "--max-requests-per-minute",
            g.max_requests_per_minute.clone(),
        ),
        (
            "state",
            "--state",
            g.state.as_ref().map(|p| p.display().to_string()),
        ),
    ];
    for (key, flag, v) in flags {
        if let Some(v) = v {
            l.set(key, v, Source::Flag(flag));
        }
    }
    l.resolve()
}

pub(crate) fn state_path(s: &Settings) -> PathBuf {
    s.state
        .as_ref()
        .map(|p| p.value.clone())
        .unwrap_or_else(config::default_state_path)
}

pub(crate) fn open_store(s: &Settings) -> Result<Arc<Store>, o365_store::StoreError> {
    let p = state_path(s);
    if p.as_os_str() == ":memory:" {
        Store::in_memory().map(Arc::new)
    } else {
        Store::open(&p).map(Arc::new)
    }
}

/// The case context from the flags (`case_id` defaults to `manual` on the CLI).
fn context(g: &Global) -> Result<CaseContext, InputError> {
    let mut c = CaseContext::manual();
    if let Some(id) = &g.case_id {
        c.case_id = id.clone();
    }
    c.alert_group_identifiers = g.alert_groups.clone();
    if let Some(s) = &g.scope {
        c.scope = s.clone();
    }
    for t in &g.target_entities {
        match t.rsplit_once(':') {
            Some((id, ty)) if !id.trim().is_empty() && !ty.trim().is_empty() => {
                c.target_entities.push(TargetEntity {
                    identifier: id.trim().into(),
                    entity_type: ty.trim().into(),
                })
            }
            _ => {
                return Err(InputError::new(
                    "--target-entity",
                    Some(format!("{t:?}")),
                    "expected IDENTIFIER:TYPE, e.g. bob@contoso.com:USERUNIQNAME",
                ))
            }
        }
    }
    Ok(c)
}

/// A result for an action that could not even be set up.
fn early_failure(kind: Option<ActionKind>, ctx: &CaseContext, f: Failure) -> ActionResult {
    let mut r = ActionResult::new(
        kind.map(|k| k.display()).unwrap_or("Unknown"),
        ctx,
        chrono::Utc::now(),
    );
    r.status = Status::Failed;
    r.output_message = match kind {
        Some(ActionKind::Ping) => {
            format!(
                "Failed to connect to the O365 Management API! Error is {}",
                f.message
            )
        }
        _ => format!("Failed to execute command! Error is {}", f.message),
    };
    r.error = Some(f);
    r.exit_code = r.compute_exit_code();
    r
}

fn failure(
    kind: FailureKind,
    cause: &str,
    field: Option<String>,
    message: String,
    fix: String,
) -> Failure {
    Failure {
        kind,
        cause: cause.into(),
        message,
        fix,
        code: None,
        http_status: None,
        field,
    }
}

fn config_failure(e: &ConfigError) -> Failure {
    failure(
        FailureKind::Config,
        "config",
        Some(e.field.clone()),
        e.to_string(),
        e.problem.clone(),
    )
}

fn input_failure(e: &InputError) -> Failure {
    failure(
        FailureKind::Input,
        "invalid_input",
        Some(e.field.clone()),
        e.to_string(),
        e.problem.clone(),
    )
}

fn emit(r: &ActionResult, fmt: Output) -> ExitCode {
    match fmt {
        Output::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        )),
        Output::Text => out(&render::result_text(r)),
    }
    ExitCode::from(r.exit_code)
}

/// Set up settings, store and runner for an action; on failure, the result to print.
fn runner(g: &Global, via: &str) -> Result<Runner, Failure> {
    let s = settings(g).map_err(|e| config_failure(&e))?;
    for w in &s.warnings {
        warn(w);
    }
    let store = open_store(&s).map_err(|e| {
        failure(
            FailureKind::Config,
            "state",
            Some("state".into()),
            e.to_string(),
            "choose a writable file with --state (or O365_STATE), or --state :memory: to keep nothing".into(),
        )
    })?;
    Ok(Runner::new(s, Some(store), via))
}

async fn run_action(
    g: &Global,
    kind: ActionKind,
    req: impl FnOnce(CaseContext) -> Result<input::Request, InputError>,
) -> ExitCode {
    let fmt = output_format(g);
    let ctx = match context(g) {
        Ok(c) => c,
        Err(e) => {
            return emit(
                &early_failure(Some(kind), &CaseContext::manual(), input_failure(&e)),
                fmt,
            )
        }
    };
    // Input is judged before the configuration: a bad request never reaches the network.
    let request = match req(ctx.clone()) {
        Ok(r) => r,
        Err(e) => return emit(&early_failure(Some(kind), &ctx, input_failure(&e)), fmt),
    };
    let runner = match runner(g, "cli") {
        Ok(r) => r,
        Err(f) => return emit(&early_failure(Some(kind), &ctx, f), fmt),
    };
    let mut r = runner.run(request).await;
    r.warnings
        .extend(runner.settings().warnings.iter().cloned());
    emit(&r, fmt)
}

fn types_of(t: &cli::Types, field: &str) -> Result<Vec<o365_api::ContentType>, InputError> {
    if t.all {
        Ok(o365_api::ContentType::ALL.to_vec())
    } else {
        input::content_types(field, &t.types)
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match &cli.command {
        Command::Ping => Ok(run_action(g, ActionKind::Ping, |c| Ok(input::Request::Ping(c))).await),
        Command::StartSubscription(t) => Ok(run_action(g, ActionKind::StartSubscription, |c| {
            Ok(input::Request::Start(
                c,
                types_of(t, "start_a_subscription_for")?,
            ))
        })
        .await),
        Command::StopSubscription(t) => Ok(run_action(g, ActionKind::StopSubscription, |c| {
            Ok(input::Request::Stop(
                c,
                types_of(t, "stop_a_subscription_for")?,
            ))
        })
        .await),
        Command::Subscriptions => Ok(run_action(g, ActionKind::ListSubscriptions, |c| {
            Ok(input::Request::List(c))
        })
        .await),
        Command::Content(ContentCmd::List {
            content_type,
            start,
            end,
        }) => Ok(run_action(g, ActionKind::ListContent, |ctx| {
            let t = input::content_types("--content-type", &[content_type])?;
            if t.len() != 1 {
                return Err(InputError::new(
                    "--content-type",
                    Some(content_type.clone()),
                    "name exactly one content type",
                ));
            }
            let time = |field: &str, v: &Option<String>| {
                v.as_deref()
                    .map(|s| {
                        input::parse_time(s)
                            .map_err(|p| InputError::new(field, Some(format!("{s:?}")), p))
                    })
                    .transpose()
            };
            Ok(input::Request::Content {
                ctx,
                content_type: t[0],
                start: time("--start", start)?,
                end: time("--end", end)?,
            })
        })
        .await),
        Command::Action => Ok(run_json_action(g).await),
        Command::Gaps => {
            let s = settings(g)?;
            let runner = Runner::new(s.clone(), Some(open_store(&s)?), "cli");
            let gaps = runner.gaps()?;
            match output_format(g) {
                Output::Json => out(&format!("{}\n", serde_json::to_string_pretty(&gaps)?)),
                Output::Text => out(&render::gaps_text(&gaps)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Journal { limit } => {
            let s = settings(g)?;
            let rows = open_store(&s)?.journal(*limit)?;
            match output_format(g) {
                Output::Json => out(&format!("{}\n", serde_json::to_string_pretty(&rows)?)),
                Output::Text => out(&render::journal_text(&rows)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCmd::Show) => {
            let s = settings(g)?;
            let rows = s.show();
            let state = state_path(&s);
            match output_format(g) {
                Output::Json => out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "settings": rows,
                        "state_path": state,
                        "warnings": s.warnings,
                    }))?
                )),
                Output::Text => {
                    let mut t = String::new();
                    for r in &rows {
                        t.push_str(&format!(
                            "{:<22} {:<48} {}\n",
                            r.key,
                            r.value.as_deref().unwrap_or("(unset)"),
                            r.source
                        ));
                    }
                    t.push_str(&format!(
                        "{:<22} {:<48} {}\n",
                        "state (in use)",
                        state.display(),
                        "-"
                    ));
                    for w in &s.warnings {
                        t.push_str(&format!("warning: {w}\n"));
                    }
                    out(&t);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "o365mgmt", &mut buf);
            out(&String::from_utf8_lossy(&buf));
            Ok(ExitCode::SUCCESS)
        }
        Command::Emulator {
            addr,
            seed,
            page_size,
        } => run_emulator(*addr, g.config.clone(), *seed, *page_size).await,
        Command::Demo => demo::run(g.state.clone()).await,
        Command::Collect(args) => collect::run(g, args, output_format(g)).await,
        Command::Mcp {
            http,
            auth_token_file,
        } => run_mcp(g, *http, auth_token_file.as_deref()).await,
    }
}

/// `o365mgmt mcp`: the actions as MCP tools, over stdio or streamable HTTP.
async fn run_mcp(
    g: &Global,
    http: Option<SocketAddr>,
    token_file: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let s = settings(g)?;
    for w in &s.warnings {
        warn(w);
    }
    let store = open_store(&s)?;
    let runner = Arc::new(Runner::new(s, Some(store), "mcp"));
    if let Err(e) = runner.client() {
        warn(&format!(
            "every tool call will fail until the configuration is fixed: {e}"
        ));
    }
    let Some(addr) = http else {
        o365_mcp::serve_stdio(runner).await?;
        return Ok(ExitCode::SUCCESS);
    };
    let token = match token_file {
        Some(p) => {
            let t = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --auth-token-file {}", p.display()))?;
            let t = t.trim().to_string();
            if t.len() < 16 {
                anyhow::bail!("--auth-token-file {}: the token must be at least 16 characters (e.g. `openssl rand -hex 32 > {}`)", p.display(), p.display());
            }
            Some(t)
        }
        None => None,
    };
    let server = o365_mcp::HttpServer::bind(runner, addr, token).await?;
    out(&format!(
        "{}\n",
        serde_json::json!({"mcp_url": server.url()})
    ));
    server.serve(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `o365mgmt action`: one JSON request on stdin, the result object on stdout.
async fn run_json_action(g: &Global) -> ExitCode {
    let fmt = g.output.unwrap_or(Output::Json);
    let mut text = String::new();
    let ctx = CaseContext {
        case_id: String::new(),
        ..CaseContext::manual()
    };
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        let f = failure(
            FailureKind::Input,
            "invalid_input",
            Some("stdin".into()),
            format!("cannot read the request from stdin: {e}"),
            "pipe one JSON object into `o365mgmt action`".into(),
        );
        return emit(&early_failure(None, &ctx, f), fmt);
    }
    let v: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let f = failure(
                FailureKind::Input,
                "invalid_input",
                Some("request".into()),
                format!("the request on stdin is not JSON: {e}"),
                "send one object such as {\"action\": \"ping\", \"case_id\": \"4711\", \"alert_group_identifiers\": []}".into(),
            );
            return emit(&early_failure(None, &ctx, f), fmt);
        }
    };
    let req = match input::parse_request(&v, None) {
        Ok(r) => r,
        Err(rej) => {
            return emit(
                &early_failure(rej.kind, &rej.ctx, input_failure(&rej.error)),
                fmt,
            )
        }
    };
    let runner = match runner(g, "action") {
        Ok(r) => r,
        Err(f) => return emit(&early_failure(Some(req.kind()), req.context(), f), fmt),
    };
    let mut r = runner.run(req).await;
    r.warnings
        .extend(runner.settings().warnings.iter().cloned());
    emit(&r, fmt)
}

async fn run_emulator(
    addr: SocketAddr,
    config: Option<PathBuf>,
    seed: Option<u64>,
    page_size: Option<u32>,
) -> anyhow::Result<ExitCode> {
    let mut cfg = match &config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --config {}", p.display()))?;
            o365_emulator::EmulatorConfig::from_toml(&text)
                .with_context(|| format!("in --config {}", p.display()))?
        }
        None => o365_emulator::EmulatorConfig::default(),
    };
    if let Some(s) = seed {
        cfg.seed = s;
    }
    if let Some(p) = page_size {
        cfg.api.page_size = p as usize;
    }
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the emulator is listening beyond loopback; it has no real security");
    }
    let emu = o365_emulator::Emulator::start_on(addr, cfg).await?;
    let line = serde_json::to_string(&emu.info())?;
    {
        let mut o = std::io::stdout().lock();
        writeln!(o, "{line}")?;
        o.flush()?;
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    emu.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
