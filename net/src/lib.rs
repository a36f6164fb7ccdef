//! wharf-net: HTTPS for Wharf's servers (`wharf serve` and `wharf admission`), so both
//! load certificates and accept TLS connections the same way.
//!
//! rustls with the ring provider (no C/cmake build); HTTP/2 and HTTP/1.1 by ALPN.
//! Handshakes run in their own tasks with a deadline, so a slow or silent client never
//! holds up the accept loop.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::pem::PemObject};

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// Why the certificate and key could not be loaded. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading certificates from {path}: {reason}")]
    Certificates { path: String, reason: String },
    #[error("no certificate found in {0}")]
    NoCertificate(String),
    #[error("reading private key from {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("certificate and key do not fit together: {0}")]
    Mismatch(String),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A TLS acceptor for a PEM certificate chain and its PEM private key.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificates {
            path: cert.display().to_string(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert.display().to_string()));
    }
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Mismatch(e.to_string()))?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(tls)))
}

/// Hands axum finished TLS connections (`axum::serve(TlsListener::spawn(..), app)`).
pub struct TlsListener {
    ready: mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp`; must be called inside a Tokio runtime.
    pub fn spawn(tcp: TcpListener, acceptor: TlsAcceptor) -> Self {
        let local = tcp.local_addr().expect("bound listener has an address");
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // A response written as several TLS records would otherwise wait for the
                // peer's delayed ACK (~40 ms).
                let _ = stream.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener { ready, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// What a server listens on: plain TCP or TLS, one type for `axum::serve`, so that
/// `wharf serve` and the admission webhook bind and serve with the same few lines.
pub enum Listener {
    Plain(TcpListener),
    Tls(TlsListener),
}

/// A connection from a [`Listener`].
pub type Connection =
    tokio_util::either::Either<TcpStream, tokio_rustls::server::TlsStream<TcpStream>>;

/// Why a server could not start listening.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Binds `addr`; with `tls` (certificate and key PEM files) connections are TLS. The
/// PEM files are read on the blocking pool.
pub async fn bind(
    addr: SocketAddr,
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
) -> Result<Listener, BindError> {
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|source| BindError::Bind { addr, source })?;
    Ok(match tls {
        None => Listener::Plain(tcp),
        Some((cert, key)) => {
            let acceptor = tokio::task::spawn_blocking(move || acceptor(&cert, &key))
                .await
                .map_err(io::Error::other)??;
            Listener::Tls(TlsListener::spawn(tcp, acceptor))
        }
    })
}

impl Listener {
    pub fn is_tls(&self) -> bool {
        matches!(self, Listener::Tls(_))
    }
}

impl axum::serve::Listener for Listener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        use tokio_util::either::Either;
        match self {
            Listener::Plain(l) => {
                let (io, addr) = axum::serve::Listener::accept(l).await;
                (Either::Left(io), addr)
            }
            Listener::Tls(l) => {
                let (io, addr) = l.accept().await;
                (Either::Right(io), addr)
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        match self {
            Listener::Plain(l) => l.local_addr(),
            Listener::Tls(l) => axum::serve::Listener::local_addr(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// A self-signed P-256 certificate and key made by the openssl CLI.
    fn openssl_pair(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let (cert, key) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        let ok = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl runs")
            .status
            .success();
        assert!(ok, "openssl req failed");
        (cert, key)
    }

    #[test]
    fn bad_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = openssl_pair(dir.path(), "a");
        let (_, other_key) = openssl_pair(dir.path(), "b");
        acceptor(&cert, &key).expect("a matching pair loads");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = acceptor(&empty, &key).err().unwrap();
        assert!(
            matches!(e, TlsError::NoCertificate(ref p) if p.ends_with("empty.pem")),
            "{e}"
        );
        let e = acceptor(&cert, &empty).err().unwrap();
        assert!(
            matches!(e, TlsError::Key { .. }) && e.to_string().contains("empty.pem"),
            "{e}"
        );
        let e = acceptor(&cert, &other_key).err().unwrap();
        assert!(matches!(e, TlsError::Mismatch(_)), "{e}");
        let e = acceptor(&dir.path().join("missing.crt"), &key)
            .err()
            .unwrap();
        assert!(e.to_string().contains("missing.crt"), "{e}");
    }
}
