//! `o365mgmt`: the command-line tool for the Office 365 Management Activity API. Parsing,
//! dispatch and rendering; the work is in the libraries.
#![allow(clippy::result_large_err)]

mod action;
mod alerts;
mod arg;
mod backfill;
mod cli;
mod collect;
mod demo;
mod emulator;
mod fit;
mod flags;
mod mcp;
mod pass;
mod progress;
mod render;
mod repair;
mod serve;
mod setup;
mod show;
mod status;
mod term;
mod token_file;
mod upgrade;
mod webhook;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use o365_actions::input::{ActionKind, Request};

use cli::{Cli, Command, ConfigCmd, ContentCmd};
use term::out;

fn main() -> ExitCode {
    let matches = fit::command(Cli::command()).get_matches();
    if let Err(msg) = fit::refuse_unused(&matches) {
        report(&anyhow::anyhow!(msg));
        return ExitCode::from(2);
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // The demo moves the emulator's clock on purpose: its skew warning would only confuse.
    let default_level = if matches!(cli.command, Command::Demo) {
        "error"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("O365_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.global.log_format {
        cli::LogFormat::Json => logs.json().init(),
        cli::LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    // The collector parses on one thread while its writer thread takes the other core; one
    // runtime thread also means fewer cross-thread wake-ups (~10 % less CPU, measured).
    let mut builder = if matches!(&cli.command, Command::Collect(c) if !c.all_tenants) {
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
            exit_code(&e)
        }
    }
}

/// 3 for what could not be reached (a connectivity problem), else 2 (what was asked cannot be
/// done as given).
fn exit_code(e: &anyhow::Error) -> ExitCode {
    let unreachable = e.chain().any(|c| {
        c.downcast_ref::<o365_collect::SinkError>()
            .is_some_and(o365_collect::SinkError::is_unreachable)
    });
    ExitCode::from(if unreachable { 3 } else { 2 })
}

#[allow(clippy::print_stderr)]
fn report(e: &anyhow::Error) {
    eprintln!("error: {e:#}");
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    Ok(match &cli.command {
        Command::Ping => action::run(g, ActionKind::Ping, |c| Ok(Request::Ping(c))).await,
        Command::StartSubscription(t) => {
            action::run(g, ActionKind::StartSubscription, |c| {
                Ok(Request::Start(
                    c,
                    action::types_of(t, "start_a_subscription_for")?,
                ))
            })
            .await
        }
        Command::StopSubscription(t) => {
            action::run(g, ActionKind::StopSubscription, |c| {
                Ok(Request::Stop(
                    c,
                    action::types_of(t, "stop_a_subscription_for")?,
                ))
            })
            .await
        }
        Command::Subscriptions => {
            action::run(g, ActionKind::ListSubscriptions, |c| Ok(Request::List(c))).await
        }
        Command::Content(ContentCmd::List {
            content_type,
            start,
            end,
        }) => {
            action::run(g, ActionKind::ListContent, |c| {
                Request::content(c, content_type, start.as_deref(), end.as_deref())
            })
            .await
        }
        Command::Action => action::run_json(g).await,
        Command::Gaps {
            svg,
            repair: true,
            sink,
            poll,
        } => {
            let code = repair::run(g, sink.as_deref(), *poll).await?;
            show::gaps(g, svg.as_deref())?;
            code
        }
        Command::Gaps { svg, .. } => show::gaps(g, svg.as_deref())?,
        Command::Status(args) => status::cmd::run(g, args).await?,
        Command::Alerts(args) => alerts::run(g, args, setup::output_format(g)).await?,
        Command::Journal { limit } => show::journal(g, *limit)?,
        Command::Config(ConfigCmd::Show) => show::config(g)?,
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "o365mgmt", &mut buf);
            out(&String::from_utf8_lossy(&buf));
            ExitCode::SUCCESS
        }
        Command::Emulator {
            addr,
            seed,
            page_size,
            tenants,
            tls,
            print_env,
        } => {
            let how = emulator::How {
                seed: *seed,
                page_size: *page_size,
                tenants: *tenants,
                tls: *tls,
                print_env: *print_env,
            };
            emulator::run(*addr, g.config.clone(), how).await?
        }
        Command::Demo => demo::run(g.settings.get("state").map(std::path::PathBuf::from)).await?,
        Command::Collect(args) => collect::run(g, args, setup::output_format(g)).await?,
        Command::Backfill(args) => backfill::run(g, args, setup::output_format(g)).await?,
        Command::Mcp {
            http,
            auth_token_file,
        } => mcp::run(g, *http, auth_token_file.as_deref()).await?,
        Command::Serve(args) => serve::run(g, args).await?,
    })
}
