//! How the project's listeners (`serve`, `status --serve`, `mcp --http`, the webhook receiver,
//! the metrics endpoint) serve HTTP/1.1: a client must send a request's head within
//! [`Limits::header_read`] (one that holds a half-sent request is cut off, and cannot keep a
//! stopping process alive), and at shutdown the connections still open get [`Limits::drain`]
//! to finish before they are closed.

use std::future::Future;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// Whether a secret a client sent (a token, an AuthID) equals the expected one, in a time that
/// does not say where they differ.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The deadlines of a listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client may take to send a request's head (line and headers).
    pub header_read: Duration,
    /// How long open connections may go on after shutdown began.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            drain: Duration::from_secs(5),
        }
    }
}

/// Serve `app` on `listener` until `shutdown` completes, then let open connections finish
/// within `limits.drain`.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            c = listener.accept() => match c {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let svc = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = http.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = limits.drain.as_secs_f64(),
            "connections still open after the drain: closed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd") && !same_secret(b"abc", b"ab"));
        assert!(!same_secret(b"", b"a"));
    }

    #[tokio::test]
    async fn a_half_sent_request_is_cut_off_and_holds_up_no_shutdown() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = Limits {
            header_read: Duration::from_millis(300),
            drain: Duration::from_millis(300),
        };
        let server = tokio::spawn(serve(
            l,
            app,
            async move {
                let _ = stopped.await;
            },
            limits,
        ));
        // A whole request is answered.
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).await.unwrap();
        assert!(
            got.starts_with("HTTP/1.1 200") && got.ends_with("ok"),
            "{got}"
        );
        // Half a request: the connection is closed once the head's deadline passes.
        let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost:").await.unwrap();
        let mut buf = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(10), half.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "still open after 10 s");
        // Another half request, then shutdown: it ends within the drain.
        let mut held = tokio::net::TcpStream::connect(addr).await.unwrap();
        held.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("shutdown held up by a half-sent request")
            .unwrap();
    }
}
