//! HTTPS for the emulator: a throwaway CA made at start, a leaf certificate for loopback and the
//! service's real host names signed by it, and a listener that runs the TLS handshakes beside
//! the accept loop (a client that never finishes its handshake holds up no one).
//!
//! The same port is also an HTTP proxy for the real host names: a `CONNECT manage.office365.us:443`
//! is answered by the emulator itself, which then speaks TLS as that host (so a client configured
//! for a real cloud, with `HTTPS_PROXY` pointing here and the CA trusted, reaches the emulator).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The names the leaf certificate is valid for: loopback and the service's real hosts (API and
/// sign-in) in the four clouds.
pub const HOSTS: [&str; 9] = [
    "127.0.0.1",
    "::1",
    "localhost",
    "manage.office.com",
    "manage-gcc.office.com",
    "manage.office365.us",
    "manage.protection.apps.mil",
    "login.microsoftonline.com",
    "login.microsoftonline.us",
];

/// How long a client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A CA and a server configuration whose certificate it signed.
pub struct TlsMaterial {
    ca_pem: String,
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial").finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Make a new CA (its key lives only in this process) and a leaf for [`HOSTS`].
    pub fn generate() -> Result<Self, String> {
        let e = |what: &str, err: &dyn std::fmt::Display| format!("TLS: {what}: {err}");
        let ca_key = KeyPair::generate().map_err(|x| e("CA key", &x))?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|x| e("CA", &x))?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.distinguished_name
            .push(DnType::CommonName, "o365mgmt emulator throwaway CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca, ca_key).map_err(|x| e("CA", &x))?;
        let leaf_key = KeyPair::generate().map_err(|x| e("server key", &x))?;
        let mut leaf = CertificateParams::new(HOSTS.map(String::from).to_vec())
            .map_err(|x| e("server certificate", &x))?;
        leaf.distinguished_name
            .push(DnType::CommonName, "o365mgmt emulator");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let leaf = leaf
            .signed_by(&leaf_key, &ca)
            .map_err(|x| e("server certificate", &x))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|x| e("server configuration", &x))?
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
            .map_err(|x| e("server configuration", &x))?;
        // The emulator speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            ca_pem: ca.pem(),
            config: Arc::new(config),
        })
    }

    /// The CA certificate (PEM): what a client must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
}

/// Accepts TCP connections and hands on those whose TLS handshake succeeded.
pub(crate) struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Serve TLS on `tcp` with `material`'s certificate.
    pub(crate) fn new(tcp: TcpListener, material: &TlsMaterial) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let tls = TlsAcceptor::from(material.config.clone());
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (tls, tx) = (tls.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = async {
                        let stream = tunnel(stream).await?;
                        tls.accept(stream).await
                    };
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(Ok(s)) => {
                            let _ = tx.send((s, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            ready,
            local,
            acceptor,
        })
    }
}

/// Longest `CONNECT` request head read.
const MAX_CONNECT_HEAD: usize = 8 * 1024;

/// A connection that opens with `CONNECT host:443` to one of the real host names is answered
/// `200` and handed back for TLS as that host; any other `CONNECT` is refused with a reason. A
/// connection that starts with a TLS handshake is handed back untouched.
async fn tunnel(mut stream: TcpStream) -> std::io::Result<TcpStream> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 || first[0] != b'C' {
        return Ok(stream);
    }
    // Read up to the blank line: the client sends nothing more before our answer.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_CONNECT_HEAD || stream.read_buf(&mut head).await? == 0 {
            return Err(std::io::Error::other(
                "CONNECT request head too long or cut off",
            ));
        }
    }
    let line =
        String::from_utf8_lossy(head.split(|b| *b == b'\r').next().unwrap_or(&[])).into_owned();
    let target = match line.split_whitespace().collect::<Vec<_>>()[..] {
        ["CONNECT", target, _version] => target.to_ascii_lowercase(),
        _ => String::new(),
    };
    let known = target
        .strip_suffix(":443")
        .is_some_and(|h| HOSTS[3..].contains(&h));
    if !known {
        let why = format!(
            "this emulator answers CONNECT only for the service's hosts on port 443 ({}), not {target:?}\n",
            HOSTS[3..].join(", ")
        );
        let answer = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}",
            why.len()
        );
        stream.write_all(answer.as_bytes()).await?;
        return Err(std::io::Error::other(format!(
            "CONNECT to {target:?} refused"
        )));
    }
    stream
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    tracing::debug!(%target, "CONNECT: answering as the real host");
    Ok(stream)
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The acceptor is gone only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
