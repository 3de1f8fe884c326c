//! `o365mgmt`: the command-line tool for the Office 365 Management Activity API.

mod demo;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// Office 365 Management Activity API: subscriptions, audit-log collection, and a local emulator.
#[derive(Parser)]
#[command(name = "o365mgmt", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local emulator of login.microsoftonline.com + manage.office.com.
    ///
    /// Prints one JSON line on stdout (api_root, login_endpoint, tenant_id, client_id,
    /// client_secret, ...) and serves until SIGINT/SIGTERM. Logs go to stderr.
    Emulator {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        /// TOML file with tenants, apps, data and fault settings (see emulator.example.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Seed for all generated content (overrides the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Blobs per content listing page (overrides the file's `api.page_size`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        page_size: Option<u32>,
    },
    /// Walk through the API against an embedded emulator: token, subscriptions, content, a blob.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("O365_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let rt = match tokio::runtime::Runtime::new() {
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

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Emulator {
            addr,
            config,
            seed,
            page_size,
        } => run_emulator(addr, config, seed, page_size).await,
        Command::Demo => demo::run().await,
    }
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
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    emu.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
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
