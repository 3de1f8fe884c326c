//! `o365mgmt emulator`: the local emulator of the service, as a process.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::shutdown_signal;

/// Serve until SIGINT/SIGTERM; one JSON line on stdout says where.
pub async fn run(
    addr: SocketAddr,
    config: Option<PathBuf>,
    seed: Option<u64>,
    page_size: Option<u32>,
    tenants: Option<u32>,
) -> anyhow::Result<ExitCode> {
    let mut cfg = match &config {
        Some(p) => {
            let text = o365_api::limits::read_file_capped(p)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .with_context(|| format!("cannot read --config {}", p.display()))?;
            o365_emulator::EmulatorConfig::from_toml(&text)
                .with_context(|| format!("in --config {}", p.display()))?
        }
        None => o365_emulator::EmulatorConfig::default(),
    };
    if let Some(s) = seed {
        cfg.seed = s;
    }
    if let Some(n) = tenants {
        cfg = cfg.with_tenants(n as usize, 24.0);
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
