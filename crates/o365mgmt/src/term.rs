//! What the person at the terminal sees and does: the command's output on stdout, warnings and
//! notes on stderr, and the signals that stop a command.

use std::io::Write as _;

/// A warning for people, on stderr.
#[allow(clippy::print_stderr)]
pub(crate) fn warn(msg: &str) {
    eprintln!("warning: {msg}");
}

/// Say something to the person running the command that is not a warning (where a listener
/// is, what a run did), on stderr: stdout is the command's output.
#[allow(clippy::print_stderr)]
pub(crate) fn note(msg: &str) {
    eprintln!("{msg}");
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// SIGINT or SIGTERM.
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
