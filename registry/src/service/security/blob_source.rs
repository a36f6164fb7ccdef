//! The registry's stores as the scanner's blob source, and an image's inventory
//! read through it: what scanning and SBOM generation both start from.

use std::io::Read;
use std::str::FromStr;
use std::sync::Arc;

use futures_util::TryStreamExt;
use tokio::runtime::Handle;
use tokio_util::io::{StreamReader, SyncIoBridge};
use wharf_scanner::image::blobs::BlobSource;
use wharf_scanner::image::cache::LayerCache;

use crate::digest::Digest;
use crate::metadata::MetadataStore;
use crate::names::RepoName;
use crate::storage::BlobStore;

/// The registry's stores as the scanner's blob source: manifests from the
/// metadata store, config and layers from the blob store. Runs on the blocking
/// pool: async reads are driven from there with the runtime's handle.
pub(crate) struct StoreBlobs {
    meta: Arc<dyn MetadataStore>,
    store: Arc<dyn BlobStore>,
    pub(crate) repo: RepoName,
    handle: Handle,
    /// The scanner's layer cache (`None`: every layer is read).
    cache: Option<Arc<LayerCache>>,
}

impl BlobSource for StoreBlobs {
    fn open(&self, digest: &str) -> wharf_scanner::Result<Box<dyn Read + '_>> {
        let bad = |e: String| wharf_scanner::Error::Image(format!("{digest}: {e}"));
        let d = Digest::from_str(digest).map_err(|e| bad(e.to_string()))?;
        let manifest = self
            .handle
            .block_on(self.meta.manifest_by_digest(&self.repo, &d, true))
            .map_err(|e| bad(e.to_string()))?;
        if let Some(content) = manifest.and_then(|m| m.content) {
            return Ok(Box::new(std::io::Cursor::new(content)));
        }
        let stream = self
            .handle
            .block_on(self.store.read(&d, None))
            .map_err(|e| bad(e.to_string()))?;
        let reader = StreamReader::new(stream.map_err(std::io::Error::other));
        Ok(Box::new(SyncIoBridge::new_with_handle(
            reader,
            self.handle.clone(),
        )))
    }
}

impl StoreBlobs {
    /// Must be made on the runtime (it keeps its handle), then moved to the blocking pool.
    pub(crate) fn new(
        meta: Arc<dyn MetadataStore>,
        store: Arc<dyn BlobStore>,
        repo: RepoName,
        cache: Option<Arc<LayerCache>>,
    ) -> Self {
        StoreBlobs {
            meta,
            store,
            repo,
            handle: Handle::current(),
            cache,
        }
    }
}

/// Inventories an image from the stores (blocking). Warnings go to the log.
pub(crate) fn inventory_blocking(
    source: &StoreBlobs,
    digest: &Digest,
) -> Result<wharf_scanner::report::ScanReport, String> {
    let mut warnings = wharf_scanner::Warnings::default();
    let opts = wharf_scanner::image::LoadOptions {
        cache: source.cache.clone(),
        ..Default::default()
    };
    let img = wharf_scanner::image::blobs::load(source, &digest.to_string(), &opts, &mut warnings)
        .map_err(|e| e.to_string())?;
    let inventory = wharf_scanner::analyzers::analyze(&img.fs, &mut warnings);
    for w in &warnings.messages {
        tracing::warn!(%digest, warning = %w, "reading image");
    }
    Ok(wharf_scanner::report::ScanReport {
        artifact: format!("{}@{digest}", source.repo),
        manifest_digest: img.manifest_digest,
        layers: img.fs.layers.iter().map(|l| l.digest.clone()).collect(),
        inventory,
        findings: Vec::new(),
        secrets: Vec::new(),
        warnings,
    })
}
