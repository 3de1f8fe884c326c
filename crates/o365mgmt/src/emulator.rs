//! `o365mgmt emulator`: the local emulator of the service, as a process.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::term::shutdown_signal;

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
    /// Print shell `export` lines instead of the JSON line.
    pub print_env: bool,
}

/// Removes the CA file when the emulator stops.
struct CaFile(PathBuf);

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes the emulator's own state directory when it stops.
struct StateDir(PathBuf);

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A value quoted for a POSIX shell.
fn quoted(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

/// Paths in the file (app certificates) are relative to the file, not to where it is run from.
fn resolve_paths(cfg: &mut o365_emulator::EmulatorConfig, file: &std::path::Path) {
    let Some(dir) = file.parent() else { return };
    for t in &mut cfg.tenants {
        for a in &mut t.apps {
            for c in &mut a.certificates {
                if !c.contains("-----BEGIN") && std::path::Path::new(c.as_str()).is_relative() {
                    *c = dir.join(c.as_str()).display().to_string();
                }
            }
        }
    }
}

/// Serve until SIGINT/SIGTERM; one JSON line on stdout says where.
pub async fn run(addr: SocketAddr, config: Option<PathBuf>, how: How) -> anyhow::Result<ExitCode> {
    let How {
        seed,
        page_size,
        tenants,
        tls,
        print_env,
    } = how;
    let mut cfg = match &config {
        Some(p) => {
            let text = o365_api::limits::read_file_capped(p)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .with_context(|| format!("cannot read --config {}", p.display()))?;
            let mut cfg = o365_emulator::EmulatorConfig::from_toml(&text)
                .with_context(|| format!("in --config {}", p.display()))?;
            resolve_paths(&mut cfg, p);
            cfg
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
    let mut _state = None;
    let text = if print_env {
        let dir = std::env::temp_dir().join(format!(
            "o365mgmt-emulator-{}-{}",
            std::process::id(),
            emu.addr().port()
        ));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot make the state directory {}", dir.display()))?;
        let state = dir.join("state.sqlite").display().to_string();
        _state = Some(StateDir(dir));
        let mut vars = vec![
            ("O365_API_ROOT", info.api_root.clone()),
            ("O365_LOGIN_ENDPOINT", info.login_endpoint.clone()),
            ("O365_GRAPH_ROOT", info.graph_root.clone()),
            ("O365_TENANT_ID", info.tenant_id.clone()),
            ("O365_CLIENT_ID", info.client_id.clone()),
            ("O365_CLIENT_SECRET", info.client_secret.clone()),
            ("O365_STATE", state),
            ("O365_EMULATOR_CONTROL", info.control_root.clone()),
        ];
        if let Some(ca) = &info.ca_file {
            vars.push(("O365_CA_FILE", ca.clone()));
        }
        if let Some(p) = &info.proxy {
            vars.push(("O365_EMULATOR_PROXY", p.clone()));
        }
        let mut t: String = vars
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", quoted(v)))
            .collect();
        t.push_str("# o365mgmt emulator: ready (its state is removed when it stops)\n");
        t
    } else {
        format!("{}\n", serde_json::to_string(&info)?)
    };
    {
        let mut o = std::io::stdout().lock();
        o.write_all(text.as_bytes())?;
        o.flush()?;
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    emu.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
