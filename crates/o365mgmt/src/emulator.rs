//! `o365mgmt emulator`: the local emulator of the service, as a process.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::shutdown_signal;

/// What the command line changes in the emulator's configuration, and how it serves.
pub struct How {
    /// Overrides the file's `seed`.
    pub seed: Option<u64>,
    /// Overrides the file's `api.page_size`.
    pub page_size: Option<u32>,
    /// Serve this many tenants.
    pub tenants: Option<u32>,
    /// Serve HTTPS with a CA made for this run.
    pub tls: bool,
}

/// Removes the CA file when the emulator stops.
struct CaFile(PathBuf);

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Serve until SIGINT/SIGTERM; one JSON line on stdout says where.
pub async fn run(addr: SocketAddr, config: Option<PathBuf>, how: How) -> anyhow::Result<ExitCode> {
    let How {
        seed,
        page_size,
        tenants,
        tls,
    } = how;
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
    let emu = if tls {
        o365_emulator::Emulator::start_tls_on(addr, cfg).await?
    } else {
        o365_emulator::Emulator::start_on(addr, cfg).await?
    };
    let mut info = emu.info();
    let mut _ca = None;
    if let Some(pem) = emu.ca_pem() {
        let path = std::env::temp_dir().join(format!(
            "o365mgmt-emulator-{}-{}-ca.pem",
            std::process::id(),
            emu.addr().port()
        ));
        std::fs::write(&path, pem)
            .with_context(|| format!("cannot write the CA certificate to {}", path.display()))?;
        info.ca_file = Some(path.display().to_string());
        _ca = Some(CaFile(path));
    }
    let line = serde_json::to_string(&info)?;
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
