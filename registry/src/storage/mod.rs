//! Blob bytes. One trait, [`BlobStore`], that every backend implements
//! (filesystem now; S3-compatible object storage later), and one conformance
//! suite (`conformance`, public with the `conformance` feature) that every
//! backend must pass, whichever crate it lives in.
//!
//! The store knows nothing of repositories: blobs are content-addressed and
//! shared; which repository may see which blob is metadata.

#[cfg(feature = "conformance")]
pub mod conformance;
mod fs;

use std::io;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use crate::digest::{Digest, Hasher};

pub use fs::FsBlobStore;

pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("blob {0} not found")]
    BlobNotFound(Digest),
    #[error("upload {0} not found")]
    UploadNotFound(String),
    #[error("invalid upload id {0:?}")]
    InvalidUploadId(String),
    #[error("range {start}-{end} outside blob of {size} bytes")]
    Range { start: u64, end: u64, size: u64 },
    /// The client's stream failed (disconnect, body limit); nothing was kept.
    #[error("reading request body: {0}")]
    Body(io::Error),
    #[error(transparent)]
    Io(#[from] io::Error),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Size of a committed blob, or `None`.
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>>;

    /// Stream a committed blob, whole or the inclusive byte range `[start, end]`.
    async fn read(&self, digest: &Digest, range: Option<(u64, u64)>) -> Result<ByteStream>;

    /// Remove a committed blob (garbage collection's job, after metadata
    /// marked it `deleting`). Absent blobs are not an error: false.
    async fn delete(&self, digest: &Digest) -> Result<bool>;

    /// Move a corrupt blob aside (scrub): never served again, kept for
    /// inspection. Absent blobs are not an error.
    async fn quarantine(&self, digest: &Digest) -> Result<()>;

    /// Start an empty upload session.
    async fn create_upload(&self, id: &str) -> Result<()>;

    /// Bytes received so far by an upload, or `None` if there is no such upload.
    async fn upload_size(&self, id: &str) -> Result<Option<u64>>;

    /// Append `data` to an upload, feeding every byte to `hasher`, and return
    /// the new size. All or nothing: if the stream or a write fails, the
    /// upload is cut back to its previous size and `hasher` is left untouched.
    async fn append_upload(&self, id: &str, data: ByteStream, hasher: &mut Hasher) -> Result<u64>;

    /// Stream an upload's bytes so far (to rebuild hash state after a restart).
    async fn read_upload(&self, id: &str) -> Result<ByteStream>;

    /// Make the upload the blob `digest`, atomically: readers see the whole
    /// blob or none. The caller has verified the digest. If the blob already
    /// exists the upload is simply dropped.
    async fn commit_upload(&self, id: &str, digest: &Digest) -> Result<()>;

    /// Drop an upload session and its data. Unknown ids are not an error.
    async fn delete_upload(&self, id: &str) -> Result<()>;

    /// Ids of all upload sessions the store holds (for purging abandoned ones).
    async fn list_uploads(&self) -> Result<Vec<String>>;
}

/// Upload ids name files: only the canonical UUID form is accepted.
pub fn valid_upload_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}
