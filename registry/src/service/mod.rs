//! The registry's rules, between HTTP and the stores: what must exist before
//! what, which digests must match, which repository may see which blob.
//! Everything here speaks [`RegistryError`]s with OCI codes; handlers only
//! translate HTTP to calls and results to responses.

mod blobs;
mod listing;
mod manifests;
mod uploads;

use std::sync::Arc;
use std::time::Duration;

pub use blobs::{BlobBody, ByteRange};
pub use listing::Page;
pub use manifests::PutManifest;
pub use uploads::{MountOutcome, UploadStatus};

use crate::error::{ErrorCode, RegistryError, Result};
use crate::metadata::MetadataStore;
use crate::storage::BlobStore;

pub struct Registry {
    meta: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
    sessions: uploads::Sessions,
    max_uploads: usize,
}

impl Registry {
    pub fn new(meta: Arc<dyn MetadataStore>, blobs: Arc<dyn BlobStore>, max_uploads: usize) -> Self {
        Registry { meta, blobs, sessions: uploads::Sessions::default(), max_uploads }
    }

    /// Remove upload sessions untouched for `expiry`: their bytes and their record.
    pub async fn purge_stale_uploads(&self, expiry: Duration) -> Result<usize> {
        let before = crate::metadata::now() - expiry.as_secs() as i64;
        let stale = self.meta.stale_uploads(before).await?;
        for id in &stale {
            // Bytes first, record second: a crash in between leaves a record
            // with no data, which the next purge removes; never the reverse.
            self.blobs.delete_upload(id).await?;
            self.meta.delete_upload(id).await?;
            self.sessions.forget(id);
        }
        Ok(stale.len())
    }
}

fn not_found(code: ErrorCode, what: impl std::fmt::Display) -> RegistryError {
    RegistryError::new(code, format!("{what} not found"))
}
