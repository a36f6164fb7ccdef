//! Harbor's pluggable scanner adapter API, version 1.2 (`GET /api/v1/metadata`,
//! `POST /api/v1/scan`, `GET /api/v1/scan/{id}/report`), so that a Harbor installation
//! registers Wharf as its scanner the way it registers Trivy's adapter.
//!
//! The adapter is a client of Harbor's registry like any other: it pulls the artifact with
//! the credentials Harbor puts in the scan request, scans it with wharf-scanner against an
//! offline vulnerability DB (`wharf db update` keeps it current) and keeps the result until
//! Harbor polls for it. It knows nothing of `wharf-registry`: it works against whichever
//! registry the request names.
//!
//! - `request.rs`: the scan request, checked (registry URL, credentials, artifact);
//! - `jobs.rs`: accepted scans, run with bounded concurrency and kept for a bounded time;
//! - `api.rs`: the three operations, their media types and error bodies.

mod api;
mod jobs;
mod request;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use api::router;
pub use jobs::Jobs;
pub use request::ScanRequest;

/// How the adapter runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The vulnerability DB every scan reads (opened per scan, so `wharf db update` can
    /// replace it while the adapter runs).
    pub db: PathBuf,
    /// When set, callers must present it as `Authorization: Bearer KEY` or
    /// `X-ScannerAdapter-API-Key: KEY` (the two ways Harbor sends a scanner's credential).
    pub api_key: Option<String>,
    /// Extra PEM CA certificates to trust for the registries named in requests.
    pub ca_certs_pem: Vec<Vec<u8>>,
    /// Scans that run at once; the others wait their turn.
    pub concurrency: usize,
    /// How long a finished scan's result is kept for Harbor to fetch.
    pub keep_results: Duration,
    /// Scan requests held at once (queued, running and kept); more are refused.
    pub max_requests: usize,
    /// The scanner's layer cache: Harbor's images share a handful of base layers, each
    /// pulled and analysed once (`None`: every layer of every scan is pulled).
    pub layer_cache: Option<std::sync::Arc<wharf_scanner::image::cache::LayerCache>>,
}

impl Config {
    pub fn new(db: PathBuf) -> Self {
        Config {
            db,
            api_key: None,
            ca_certs_pem: Vec::new(),
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            keep_results: Duration::from_secs(3600),
            max_requests: 1000,
            layer_cache: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Bind(#[from] wharf_net::BindError),
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves until `shutdown` resolves; `ready` is told the bound address (useful with port 0).
pub async fn serve(
    config: Config,
    addr: SocketAddr,
    tls: Option<(PathBuf, PathBuf)>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let jobs = Arc::new(Jobs::new(config));
    let app = router(jobs);
    let listener = wharf_net::bind(addr, tls).await?;
    let local = axum::serve::Listener::local_addr(&listener)?;
    tracing::info!(addr = %local, tls = listener.is_tls(), "wharf scanner adapter listening");
    ready(local);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
