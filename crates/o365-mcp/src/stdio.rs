//! MCP over stdin/stdout, guarded: every line the client sends gets an answer. A line that is
//! not JSON, or is longer than [`MAX_LINE`], is answered with a JSON-RPC parse error (the
//! protocol library would otherwise skip it in silence); the rest goes to the server.

use rmcp::ServiceExt as _;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;

use crate::server::McpServer;
use crate::ServeError;

/// Longest message accepted on stdin (16 MiB).
pub const MAX_LINE: usize = 16 << 20;

/// A JSON-RPC parse error for a message whose id cannot be known.
fn parse_error(why: &str) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("Parse error: {why}")}})
        .to_string()
}

/// Read one line of at most `max` bytes (without the newline). `Ok(None)` at the end;
/// `Err(true)` for a line that was too long (it is skipped to its end).
async fn read_line(
    r: &mut (impl tokio::io::AsyncBufRead + Unpin),
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut too_long = false;
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok((!buf.is_empty() || too_long).then_some(too_long));
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            buf.extend_from_slice(&chunk[..take]);
            if buf.len() > max + 1 {
                too_long = true;
                buf.clear();
            }
        }
        r.consume(take);
        if done {
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            return Ok(Some(too_long));
        }
    }
}

/// Serve over `input`/`output` until the client closes `input`.
pub async fn serve_guarded(
    server: McpServer,
    input: impl AsyncRead + Unpin + Send + 'static,
    mut output: impl AsyncWrite + Unpin + Send + 'static,
) -> Result<(), ServeError> {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let (their_read, their_write) = tokio::io::split(theirs);
    let (our_read, mut our_write) = tokio::io::split(ours);
    let (errors_tx, mut errors_rx) = mpsc::channel::<String>(16);
    // stdin → the server, answering what it cannot take.
    let reader = tokio::spawn(async move {
        let mut r = BufReader::new(input);
        let mut buf = Vec::new();
        while let Ok(Some(too_long)) = read_line(&mut r, &mut buf, MAX_LINE).await {
            if too_long {
                let _ = errors_tx
                    .send(parse_error(&format!(
                        "message longer than {} MiB",
                        MAX_LINE >> 20
                    )))
                    .await;
                continue;
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&buf) {
                let _ = errors_tx.send(parse_error(&e.to_string())).await;
                continue;
            }
            buf.push(b'\n');
            if our_write.write_all(&buf).await.is_err() {
                break;
            }
        }
        let _ = our_write.shutdown().await;
    });
    // The server's answers and our parse errors → stdout, one whole line at a time.
    let writer = tokio::spawn(async move {
        let mut lines = BufReader::new(our_read).lines();
        let mut errors_open = true;
        loop {
            let line = tokio::select! {
                l = lines.next_line() => match l { Ok(Some(l)) => l, _ => break },
                e = errors_rx.recv(), if errors_open => match e { Some(e) => e, None => { errors_open = false; continue } },
            };
            if output
                .write_all(format!("{line}\n").as_bytes())
                .await
                .is_err()
                || output.flush().await.is_err()
            {
                break;
            }
        }
        // Parse errors that came after the server stopped still get out.
        while let Ok(e) = errors_rx.try_recv() {
            let _ = output.write_all(format!("{e}\n").as_bytes()).await;
        }
        let _ = output.flush().await;
    });
    let service = server
        .session()
        .serve((their_read, their_write))
        .await
        .map_err(|e| ServeError::Mcp(e.to_string()))?;
    let served = service.waiting().await;
    let _ = reader.await;
    let _ = writer.await;
    served.map(drop).map_err(|e| ServeError::Mcp(e.to_string()))
}

/// Serve over the process's stdin and stdout until the client closes stdin.
pub async fn serve_stdio(server: McpServer) -> Result<(), ServeError> {
    serve_guarded(server, tokio::io::stdin(), tokio::io::stdout()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_lines_are_skipped_whole_and_short_ones_read() {
        let data = format!("{}\nshort\n\nlast", "x".repeat(100));
        let mut r = BufReader::with_capacity(7, data.as_bytes());
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf, 10).await.unwrap(), Some(true));
        assert_eq!(read_line(&mut r, &mut buf, 10).await.unwrap(), Some(false));
        assert_eq!(buf, b"short");
        assert_eq!(read_line(&mut r, &mut buf, 10).await.unwrap(), Some(false));
        assert_eq!(buf, b"");
        assert_eq!(read_line(&mut r, &mut buf, 10).await.unwrap(), Some(false));
        assert_eq!(buf, b"last");
        assert_eq!(read_line(&mut r, &mut buf, 10).await.unwrap(), None);
    }
}
