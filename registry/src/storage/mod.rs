//! Blob bytes. One trait, [`BlobStore`], that every backend implements
//! (the filesystem, [`FsBlobStore`]; a bucket of S3-compatible or Azure object storage,
//! [`BucketBlobStore`]), and one conformance
//! suite (`conformance`, public with the `conformance` feature) that every
//! backend must pass, whichever crate it lives in.
//!
//! The store knows nothing of repositories: blobs are content-addressed and
//! shared; which repository may see which blob is metadata.

mod bucket;
#[cfg(feature = "conformance")]
pub mod conformance;
mod fs;

use std::io;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use crate::digest::{Algorithm, Digest, Hasher};

pub use bucket::{BucketBlobStore, BucketConfigError, BucketOptions};
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
    /// The store keeps the hash state of an upload's bytes in one algorithm
    /// only (S3: it cannot read back parts of an unfinished multipart upload).
    #[error(
        "upload {id} was hashed as {kept}; its bytes cannot be verified as {wanted} (upload the blob in one request to use {wanted})"
    )]
    HashUnavailable {
        id: String,
        kept: &'static str,
        wanted: &'static str,
    },
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

    /// The hash state of an upload's bytes so far, in `algorithm`: what another
    /// process (after a restart, or another replica) continues the upload with.
    /// The filesystem reads the bytes back; S3 keeps the state beside the upload.
    async fn resume_hash(&self, id: &str, algorithm: Algorithm) -> Result<Hasher>;

    /// Make the upload the blob `digest`, atomically: readers see the whole
    /// blob or none. The caller has verified the digest. If the blob already
    /// exists the upload is simply dropped.
    async fn commit_upload(&self, id: &str, digest: &Digest) -> Result<()>;

    /// Drop an upload session and its data. Unknown ids are not an error.
    async fn delete_upload(&self, id: &str) -> Result<()>;

    /// Ids of all upload sessions the store holds (for purging abandoned ones).
    async fn list_uploads(&self) -> Result<Vec<String>>;

    /// Whether the store answers (`/readyz`). By default a stat of a blob,
    /// which reaches the storage whether or not the blob is there.
    async fn ready(&self) -> Result<()> {
        self.stat(&Digest::sha256_of(b"")).await.map(|_| ())
    }

    /// Whether blob GETs are answered with a redirect to [`BlobStore::blob_url`]
    /// (`--storage-redirect`), so the service looks the URL up only then.
    fn redirects(&self) -> bool {
        false
    }

    /// A time-limited URL the client can fetch the committed blob from directly
    /// (a pre-signed S3 GET), or `None` when the bytes go through the registry.
    async fn blob_url(&self, _digest: &Digest) -> Result<Option<String>> {
        Ok(None)
    }
}

/// Upload ids name files: only the canonical UUID form is accepted.
pub fn valid_upload_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}
