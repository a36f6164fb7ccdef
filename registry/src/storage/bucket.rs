//! Blobs in a bucket: S3-compatible object storage (`--storage
//! s3://BUCKET/PREFIX`) or Azure Blob Storage (`--storage
//! azure://CONTAINER/PREFIX`), both through the `object_store` crate's traits
//! (objects, multipart uploads, pre-signed URLs), so one store serves both.
//! Layout under the prefix:
//!
//! ```text
//! blobs/<alg>/<first two hex>/<hex>   committed blobs, immutable
//! uploads/<uuid>/state                an upload's state (JSON, below): the commit point
//! uploads/<uuid>/tail-<n>             its bytes after the last full part
//! uploads/<uuid>/data                 the key of its multipart upload
//! quarantine/<alg>/<hex>.<time>       corrupt blobs scrub moved aside
//! ```
//!
//! The blob keys are the filesystem store's paths, so a data directory and a
//! bucket hold the same tree: `aws s3 sync wharf-data/blobs s3://bucket/prefix/blobs`
//! moves a registry's blobs from one to the other.
//!
//! An upload lives in the bucket, not in a process: any replica continues it.
//! Its bytes go to one multipart upload (on Azure, blocks staged on the
//! `data` blob), in parts of at least [`PART_SIZE`] (S3 wants 5 MiB but for the
//! last part). What a PATCH leaves
//! over, less than a part, is kept as a small object (the tail) and read back
//! by the next PATCH, which prepends it to its bytes: memory per upload stays
//! within two parts however the client cuts its chunks. The state object lists
//! the multipart upload's id, the parts (S3's ETag, or Azure's block id, and size of each), the tail
//! and the hash state of every byte so far ([`Hasher::state`]): S3 cannot read
//! back the parts of an unfinished multipart upload, so a replica that did not
//! see the earlier PATCHes resumes the hash from there (as Distribution keeps
//! its `hashstates`). Each PATCH writes the state object last; until then
//! nothing it did is visible (new parts beyond the listed ones are ignored by
//! the completion, a new tail has a new name), so a failed PATCH leaves the
//! upload as it was.
//!
//! The commit completes the multipart upload at `uploads/<uuid>/data` and then
//! copies that object, inside the bucket, to the blob's key (a multipart
//! upload's key is named when it starts, before the digest is known); an upload smaller
//! than a part never started one and its tail is copied directly. S3's
//! `CopyObject` stops at 5 GiB: larger blobs are streamed from the completed
//! object into a new multipart upload at the blob's key (bounded memory, the
//! bytes pass through this process once). On Azure every copy is streamed that
//! way: Azure's `Copy Blob` may answer before the copy is done (`x-ms-copy-status:
//! pending`), and `object_store` does not report that status, so a blob copied
//! with it could be committed before its bytes are all there.
//!
//! Blob GETs can be answered with a redirect to a pre-signed URL
//! (`--storage-redirect`, as Distribution's `redirect` option; on Azure a SAS
//! URL, signed with the account key or a user delegation key): the client then
//! downloads from the bucket itself.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::signer::{Method, Signer};
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, PutPayloadMut, WriteMultipart,
};
use serde::{Deserialize, Serialize};

use super::{BlobStore, ByteStream, Result, StorageError, valid_upload_id};
use crate::digest::{Algorithm, Digest, Hasher};

/// The size of an upload's first 1,000 parts; it doubles every 1,000 parts
/// (S3 allows 10,000 per upload): 8 GiB in 8 MiB parts, then 16 MiB parts, and
/// so on, so that a blob of terabytes still fits while an upload usually holds
/// at most two parts of 8 MiB in memory (one being sent, one filling).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
const PARTS_PER_SIZE: usize = 1_000;
const MAX_PARTS: usize = 10_000;
/// S3's limit for one `CopyObject`; larger blobs are copied as a stream.
const COPY_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
/// Part size of that streamed copy.
const STREAM_COPY_PART: usize = 16 * 1024 * 1024;

fn part_size(index: usize) -> usize {
    PART_SIZE << (index / PARTS_PER_SIZE).min(9)
}

/// Where the blobs are and how to reach the endpoint. Credentials are not
/// here: they come from the standard `AWS_*` variables (or the instance's
/// role) for S3 and the `AZURE_STORAGE_*` ones for Azure, read by
/// `object_store` and never logged.
#[derive(Debug, Clone, Default)]
pub struct BucketOptions {
    /// `s3://BUCKET/PREFIX` or `azure://CONTAINER/PREFIX` (`az://` too; the
    /// prefix may be empty).
    pub url: String,
    /// S3 only. The API's URL, for S3-compatible servers (MinIO, Ceph, R2…);
    /// default: `AWS_ENDPOINT_URL`, else AWS for the region. (Azure's is
    /// `AZURE_STORAGE_ENDPOINT`, else `https://ACCOUNT.blob.core.windows.net`.)
    pub endpoint: Option<String>,
    /// S3 only. Default: `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// S3 only. Path-style requests (`ENDPOINT/BUCKET/KEY`, what most S3-compatible
    /// servers want) or virtual-hosted style (`BUCKET.ENDPOINT/KEY`); default
    /// `object_store`'s: path style unless `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`.
    pub path_style: Option<bool>,
    /// S3 only. Allow a plain `http://` endpoint (Azure: `AZURE_ALLOW_HTTP`).
    pub allow_http: bool,
    /// Answer blob GETs with a redirect to a URL pre-signed for this long.
    pub redirect: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum BucketConfigError {
    #[error("--storage {0:?}: expected s3://BUCKET[/PREFIX] or azure://CONTAINER[/PREFIX]")]
    Url(String),
    #[error("--storage {url:?}: {option} applies to s3:// storage only")]
    S3Only { url: String, option: &'static str },
    #[error("object storage: {0}")]
    Client(#[from] object_store::Error),
}

/// What the store needs of a bucket's client: objects, multipart uploads
/// resumable by id (any replica continues an upload), and pre-signed URLs.
/// `object_store`'s S3 and Azure clients both are one.
trait Bucket: ObjectStore + MultipartStore + PaginatedListStore + Signer {}
impl<T: ObjectStore + MultipartStore + PaginatedListStore + Signer> Bucket for T {}

pub struct BucketBlobStore {
    client: Arc<dyn Bucket>,
    bucket: String,
    prefix: Path,
    redirect: Option<Duration>,
    /// Objects up to this size are copied inside the bucket; larger ones, and
    /// all of them when `None` (Azure), as a stream through this process.
    copy_limit: Option<u64>,
    /// Signing a redirect failed once already (logged then; blobs are streamed).
    sign_failed: std::sync::atomic::AtomicBool,
}

/// Only where the blobs are: the client's configuration holds the credentials.
impl fmt::Debug for BucketBlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketBlobStore")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix.as_ref())
            .finish_non_exhaustive()
    }
}

/// The state of one upload, kept at `uploads/<id>/state`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UploadState {
    /// The S3 multipart upload at `uploads/<id>/data`, started with the first full part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multipart: Option<String>,
    #[serde(default)]
    parts: Vec<Part>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tail: Option<Tail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hash: Option<HashState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Part {
    etag: String,
    size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tail {
    /// Object name under `uploads/<id>/`: a new one for every PATCH, so the
    /// state in force never names an object a failed PATCH overwrote.
    name: String,
    size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HashState {
    algorithm: String,
    /// [`Hasher::state`], hex.
    state: String,
}

impl UploadState {
    fn size(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum::<u64>() + self.tail.as_ref().map_or(0, |t| t.size)
    }
}

fn storage_error(e: object_store::Error) -> StorageError {
    StorageError::Io(io::Error::other(e))
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

fn algorithm_name(a: Algorithm) -> &'static str {
    a.as_str()
}

fn s3_client(
    bucket: &str,
    options: &BucketOptions,
) -> std::result::Result<object_store::aws::AmazonS3, BucketConfigError> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &options.region {
        builder = builder.with_region(region);
    }
    if let Some(path_style) = options.path_style {
        builder = builder.with_virtual_hosted_style_request(!path_style);
    }
    if options.allow_http {
        builder = builder.with_allow_http(true);
    }
    Ok(builder.build()?)
}

impl BucketBlobStore {
    /// A client for the bucket of `options.url`. Nothing is sent yet: a wrong
    /// endpoint or bucket shows at the first request (`/readyz` makes one).
    pub fn open(options: &BucketOptions) -> std::result::Result<Self, BucketConfigError> {
        let bad_url = || BucketConfigError::Url(options.url.clone());
        let (scheme, rest) = options.url.split_once("://").ok_or_else(bad_url)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad_url());
        }
        // The TLS provider of every rustls client in the process (reqwest is built without one).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (client, copy_limit): (Arc<dyn Bucket>, Option<u64>) = match scheme {
            "s3" => (Arc::new(s3_client(bucket, options)?), Some(COPY_LIMIT)),
            "azure" | "az" => {
                let s3_only = |option| BucketConfigError::S3Only {
                    url: options.url.clone(),
                    option,
                };
                // Azure's own settings are its standard variables (below): an
                // S3 option given here would be silently ignored, so it is refused.
                if options.endpoint.is_some() {
                    return Err(s3_only("--s3-endpoint"));
                }
                if options.region.is_some() {
                    return Err(s3_only("--s3-region"));
                }
                if options.path_style.is_some() {
                    return Err(s3_only("--s3-path-style"));
                }
                if options.allow_http {
                    return Err(s3_only("--s3-allow-http"));
                }
                // AZURE_STORAGE_ACCOUNT_NAME, AZURE_STORAGE_ACCOUNT_KEY (or a SAS,
                // a service principal, a managed identity), AZURE_STORAGE_ENDPOINT,
                // AZURE_ALLOW_HTTP…
                let builder = MicrosoftAzureBuilder::from_env().with_container_name(bucket);
                // Every copy streamed: see the module's documentation.
                (Arc::new(builder.build()?), None)
            }
            _ => return Err(bad_url()),
        };
        let prefix = Path::parse(prefix.trim_matches('/')).map_err(|_| bad_url())?;
        Ok(BucketBlobStore {
            client,
            bucket: bucket.to_string(),
            prefix,
            redirect: options.redirect,
            copy_limit,
            sign_failed: Default::default(),
        })
    }

    /// Copy blobs larger than this as a stream rather than with `CopyObject`
    /// (S3's limit, 5 GiB, is the default; lower for servers with a lower one).
    pub fn with_copy_limit(mut self, bytes: u64) -> Self {
        self.copy_limit = Some(bytes);
        self
    }

    fn key(&self, parts: &[&str]) -> Path {
        let mut path = self.prefix.clone();
        for part in parts {
            path = path.join(*part);
        }
        path
    }

    fn blob_key(&self, digest: &Digest) -> Path {
        let hex = digest.hex();
        self.key(&["blobs", digest.algorithm().as_str(), &hex[..2], hex])
    }

    fn upload_key(&self, id: &str, name: &str) -> Result<Path> {
        if !valid_upload_id(id) {
            return Err(StorageError::InvalidUploadId(id.to_string()));
        }
        Ok(self.key(&["uploads", id, name]))
    }

    async fn load_state(&self, id: &str) -> Result<Option<UploadState>> {
        let key = self.upload_key(id, "state")?;
        let bytes = match self.client.get(&key).await {
            Ok(r) => r.bytes().await.map_err(storage_error)?,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(storage_error(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StorageError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))
    }

    /// The bytes of an upload's tail (less than one part; at most one part in memory).
    async fn read_tail(&self, id: &str, tail: &Tail) -> Result<bytes::Bytes> {
        let key = self.upload_key(id, &tail.name)?;
        self.client
            .get(&key)
            .await
            .map_err(storage_error)?
            .bytes()
            .await
            .map_err(storage_error)
    }

    async fn save_state(&self, id: &str, state: &UploadState) -> Result<()> {
        let key = self.upload_key(id, "state")?;
        let json = serde_json::to_vec(state).map_err(io::Error::other)?;
        self.client
            .put(&key, PutPayload::from(json))
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn exists(&self, key: &Path) -> Result<Option<u64>> {
        match self.client.head(key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(storage_error(e)),
        }
    }

    /// Copy `from` (of `size` bytes) to `to` inside the bucket, or as a stream past
    /// the copy limit (always, on Azure).
    async fn copy_object(&self, from: &Path, to: &Path, size: u64) -> Result<()> {
        if size == 0 {
            // Nothing to copy (and no part to stream).
            return self
                .client
                .put(to, PutPayload::default())
                .await
                .map(|_| ())
                .map_err(storage_error);
        }
        if self.copy_limit.is_some_and(|limit| size <= limit) {
            return self.client.copy(from, to).await.map_err(storage_error);
        }
        let upload = self.client.put_multipart(to).await.map_err(storage_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, STREAM_COPY_PART);
        let streamed = async {
            let mut data = self.client.get(from).await?.into_stream();
            while let Some(chunk) = data.next().await {
                writer.wait_for_capacity(1).await?;
                writer.put(chunk?);
            }
            Ok::<_, object_store::Error>(())
        }
        .await;
        match streamed {
            Ok(()) => writer.finish().await.map(|_| ()).map_err(storage_error),
            Err(e) => {
                let _ = writer.abort().await;
                Err(storage_error(e))
            }
        }
    }
}

/// One PATCH's parts on their way: at most one is being sent while the next fills.
struct PartWriter<'a> {
    store: &'a BucketBlobStore,
    data_key: Path,
    multipart: Option<String>,
    /// Whether this PATCH started the multipart upload (aborted if it fails).
    started: bool,
    in_flight: Option<(u64, tokio::task::JoinHandle<object_store::Result<PartId>>)>,
}

impl PartWriter<'_> {
    /// Wait for the part being sent, and record it.
    async fn settle(&mut self, parts: &mut Vec<Part>) -> Result<()> {
        if let Some((size, handle)) = self.in_flight.take() {
            let id = handle
                .await
                .map_err(io::Error::other)?
                .map_err(storage_error)?;
            parts.push(Part {
                etag: id.content_id,
                size,
            });
        }
        Ok(())
    }

    /// Send `payload` as the next part once the previous one is through.
    async fn send(&mut self, parts: &mut Vec<Part>, payload: PutPayload) -> Result<()> {
        self.settle(parts).await?;
        let index = parts.len();
        if index >= MAX_PARTS {
            return Err(StorageError::Io(io::Error::other(
                "the upload exceeds S3's 10,000 parts",
            )));
        }
        let multipart = match &self.multipart {
            Some(id) => id.clone(),
            None => {
                let id = self
                    .store
                    .client
                    .create_multipart(&self.data_key)
                    .await
                    .map_err(storage_error)?;
                self.started = true;
                self.multipart = Some(id.clone());
                id
            }
        };
        let client = self.store.client.clone();
        let key = self.data_key.clone();
        let size = payload.content_length() as u64;
        let handle =
            tokio::spawn(async move { client.put_part(&key, &multipart, index, payload).await });
        self.in_flight = Some((size, handle));
        Ok(())
    }

    /// After a failure: stop the part in flight; drop the multipart upload if this PATCH began it.
    async fn abandon(&mut self) {
        if let Some((_, handle)) = self.in_flight.take() {
            handle.abort();
        }
        if self.started
            && let Some(id) = &self.multipart
        {
            let _ = self.store.client.abort_multipart(&self.data_key, id).await;
        }
    }
}

#[async_trait]
impl BlobStore for BucketBlobStore {
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        self.exists(&self.blob_key(digest)).await
    }

    /// One key listed under the prefix. Not a HEAD: in a bucket or container
    /// that does not exist, a HEAD answers 404 as for any absent key, and the
    /// registry would call itself ready; a listing fails.
    async fn ready(&self) -> Result<()> {
        let prefix = match self.prefix.as_ref() {
            "" => String::new(),
            p => format!("{p}/"),
        };
        let options = PaginatedListOptions {
            max_keys: Some(1),
            ..Default::default()
        };
        self.client
            .list_paginated(Some(&prefix), options)
            .await
            .map(|_| ())
            .map_err(storage_error)
    }

    async fn read(&self, digest: &Digest, range: Option<(u64, u64)>) -> Result<ByteStream> {
        let key = self.blob_key(digest);
        let mut options = GetOptions::default();
        if let Some((start, end)) = range {
            let size = self
                .exists(&key)
                .await?
                .ok_or_else(|| StorageError::BlobNotFound(digest.clone()))?;
            if start > end || end >= size {
                return Err(StorageError::Range { start, end, size });
            }
            options = options.with_range(Some(GetRange::Bounded(start..end + 1)));
        }
        match self.client.get_opts(&key, options).await {
            Ok(result) => Ok(Box::pin(result.into_stream().map_err(io::Error::other))),
            Err(e) if is_not_found(&e) => Err(StorageError::BlobNotFound(digest.clone())),
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn delete(&self, digest: &Digest) -> Result<bool> {
        let key = self.blob_key(digest);
        if self.exists(&key).await?.is_none() {
            return Ok(false);
        }
        match self.client.delete(&key).await {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn quarantine(&self, digest: &Digest) -> Result<()> {
        let key = self.blob_key(digest);
        let Some(size) = self.exists(&key).await? else {
            return Ok(());
        };
        let stamp = super::super::metadata::now();
        let to = self.key(&[
            "quarantine",
            digest.algorithm().as_str(),
            &format!("{}.{stamp}", digest.hex()),
        ]);
        self.copy_object(&key, &to, size).await?;
        match self.client.delete(&key).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn create_upload(&self, id: &str) -> Result<()> {
        self.save_state(id, &UploadState::default()).await
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>> {
        Ok(self.load_state(id).await?.map(|s| s.size()))
    }

    async fn append_upload(
        &self,
        id: &str,
        mut data: ByteStream,
        hasher: &mut Hasher,
    ) -> Result<u64> {
        let old = self
            .load_state(id)
            .await?
            .ok_or_else(|| StorageError::UploadNotFound(id.to_string()))?;
        let mut scratch = hasher.clone();
        let mut new = old.clone();
        let mut buffer = PutPayloadMut::new();
        if let Some(tail) = &old.tail {
            buffer.push(self.read_tail(id, tail).await?);
        }
        let mut parts = PartWriter {
            store: self,
            data_key: self.upload_key(id, "data")?,
            multipart: old.multipart.clone(),
            started: false,
            in_flight: None,
        };
        let mut new_tail = None;
        let outcome = async {
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(StorageError::Body)?;
                scratch.update(&chunk);
                buffer.push(chunk);
                // The index of the part this buffer would become.
                let index = new.parts.len() + usize::from(parts.in_flight.is_some());
                if buffer.content_length() >= part_size(index) {
                    let full = std::mem::take(&mut buffer).freeze();
                    parts.send(&mut new.parts, full).await?;
                }
            }
            parts.settle(&mut new.parts).await?;
            new.multipart = parts.multipart.clone();
            new.tail = None;
            if buffer.content_length() > 0 {
                let size = buffer.content_length() as u64;
                let name = format!("tail-{}", uuid::Uuid::new_v4().simple());
                let key = self.upload_key(id, &name)?;
                new_tail = Some(key.clone());
                self.client
                    .put(&key, std::mem::take(&mut buffer).freeze())
                    .await
                    .map_err(storage_error)?;
                new.tail = Some(Tail { name, size });
            }
            new.hash = Some(HashState {
                algorithm: algorithm_name(scratch.algorithm()).to_string(),
                state: hex::encode(scratch.state()),
            });
            // The commit point: the upload is what this state says.
            self.save_state(id, &new).await
        }
        .await;
        match outcome {
            Ok(()) => {
                if let Some(tail) = &old.tail {
                    let _ = self.client.delete(&self.upload_key(id, &tail.name)?).await;
                }
                *hasher = scratch;
                Ok(new.size())
            }
            Err(e) => {
                parts.abandon().await;
                if let Some(key) = new_tail {
                    let _ = self.client.delete(&key).await;
                }
                Err(e)
            }
        }
    }

    async fn resume_hash(&self, id: &str, algorithm: Algorithm) -> Result<Hasher> {
        let state = self
            .load_state(id)
            .await?
            .ok_or_else(|| StorageError::UploadNotFound(id.to_string()))?;
        if state.size() == 0 {
            return Ok(algorithm.hasher());
        }
        let kept = state.hash.as_ref().map(|h| h.algorithm.as_str());
        let resumed = state
            .hash
            .as_ref()
            .filter(|h| h.algorithm == algorithm.as_str())
            .and_then(|h| hex::decode(&h.state).ok())
            .and_then(|bytes| Hasher::resume(algorithm, &bytes));
        resumed.ok_or_else(|| StorageError::HashUnavailable {
            id: id.to_string(),
            kept: match kept {
                Some("sha512") => "sha512",
                Some("sha256") => "sha256",
                _ => "nothing",
            },
            wanted: algorithm_name(algorithm),
        })
    }

    async fn commit_upload(&self, id: &str, digest: &Digest) -> Result<()> {
        let state = self
            .load_state(id)
            .await?
            .ok_or_else(|| StorageError::UploadNotFound(id.to_string()))?;
        let to = self.blob_key(digest);
        if self.exists(&to).await?.is_some() {
            // Same content already stored: keep the existing, immutable copy.
            return self.delete_upload(id).await;
        }
        let size = state.size();
        match &state.multipart {
            None => match &state.tail {
                Some(tail) => {
                    let from = self.upload_key(id, &tail.name)?;
                    self.copy_object(&from, &to, tail.size).await?;
                }
                None => {
                    self.client
                        .put(&to, PutPayload::default())
                        .await
                        .map_err(storage_error)?;
                }
            },
            Some(multipart) => {
                let data = self.upload_key(id, "data")?;
                let mut ids: Vec<PartId> = state
                    .parts
                    .iter()
                    .map(|p| PartId {
                        content_id: p.etag.clone(),
                    })
                    .collect();
                let completed = async {
                    if let Some(tail) = &state.tail {
                        // The last part may be smaller than 5 MiB.
                        let bytes = self.read_tail(id, tail).await?;
                        let part = self
                            .client
                            .put_part(&data, multipart, state.parts.len(), bytes.into())
                            .await
                            .map_err(storage_error)?;
                        ids.push(part);
                    }
                    self.client
                        .complete_multipart(&data, multipart, ids)
                        .await
                        .map_err(storage_error)
                }
                .await;
                if let Err(e) = completed {
                    // A commit cut short after completing (crash, lost answer) is
                    // finished now: the completed object is all there.
                    if self.exists(&data).await? != Some(size) {
                        return Err(e);
                    }
                }
                self.copy_object(&data, &to, size).await?;
            }
        }
        self.delete_upload(id).await
    }

    async fn delete_upload(&self, id: &str) -> Result<()> {
        if let Some(state) = self.load_state(id).await?
            && let Some(multipart) = &state.multipart
        {
            // Already completed (a commit) or aborted: nothing left to drop.
            let _ = self
                .client
                .abort_multipart(&self.upload_key(id, "data")?, multipart)
                .await;
        }
        let dir = self.key(&["uploads", id]);
        let keys: Vec<Path> = self
            .client
            .list(Some(&dir))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(storage_error)?;
        // The state last: while it exists, the upload can still be found and deleted.
        let state = self.upload_key(id, "state")?;
        for key in keys.iter().filter(|k| **k != state) {
            match self.client.delete(key).await {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(storage_error(e)),
            }
        }
        match self.client.delete(&state).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn list_uploads(&self) -> Result<Vec<String>> {
        let dir = self.key(&["uploads"]);
        let listing = self
            .client
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(storage_error)?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .filter(|name| valid_upload_id(name))
            .map(str::to_string)
            .collect())
    }

    fn redirects(&self) -> bool {
        self.redirect.is_some()
    }

    async fn blob_url(&self, digest: &Digest) -> Result<Option<String>> {
        let Some(ttl) = self.redirect else {
            return Ok(None);
        };
        match self
            .client
            .signed_url(Method::GET, &self.blob_key(digest), ttl)
            .await
        {
            Ok(url) => Ok(Some(url.to_string())),
            // A credential that cannot sign (an Azure SAS) or a failed fetch of a
            // signing key: the client still gets its blob, streamed. Said once, not
            // once per download.
            Err(e) => {
                if !self
                    .sign_failed
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::warn!(error = %e, "--storage-redirect: cannot pre-sign blob URLs; streaming blobs instead");
                }
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls_name_a_bucket() {
        for bad in [
            "s3://",
            "s3:///prefix",
            "gs://bucket",
            "bucket/prefix",
            "azure://",
            "az:///p",
        ] {
            let options = BucketOptions {
                url: bad.to_string(),
                ..Default::default()
            };
            assert!(
                matches!(
                    BucketBlobStore::open(&options),
                    Err(BucketConfigError::Url(_))
                ),
                "{bad}"
            );
        }
        let store = BucketBlobStore::open(&BucketOptions {
            url: "s3://bucket/some/prefix/".into(),
            region: Some("eu-west-1".into()),
            ..Default::default()
        })
        .unwrap();
        let digest = Digest::sha256_of(b"x");
        assert_eq!(
            store.blob_key(&digest).as_ref(),
            format!(
                "some/prefix/blobs/sha256/{}/{}",
                &digest.hex()[..2],
                digest.hex()
            )
        );
    }

    #[test]
    fn azure_urls_name_a_container_and_refuse_s3_options() {
        let options = |url: &str| BucketOptions {
            url: url.into(),
            ..Default::default()
        };
        // SAFETY: this test binary's only reader of these variables.
        unsafe {
            std::env::set_var("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1");
            std::env::set_var("AZURE_STORAGE_ACCOUNT_KEY", "a2V5");
            std::env::set_var(
                "AZURE_STORAGE_ENDPOINT",
                "http://127.0.0.1:1/devstoreaccount1",
            );
            std::env::set_var("AZURE_ALLOW_HTTP", "true");
        }
        for url in ["azure://blobs/a/b/", "az://blobs/a/b"] {
            let store = BucketBlobStore::open(&options(url)).unwrap();
            assert_eq!(store.bucket, "blobs");
            assert_eq!(store.copy_limit, None, "Azure copies are streamed");
            let digest = Digest::sha256_of(b"x");
            assert!(
                store
                    .blob_key(&digest)
                    .as_ref()
                    .starts_with("a/b/blobs/sha256/")
            );
        }
        let region = BucketOptions {
            region: Some("eu-west-1".into()),
            ..options("azure://blobs")
        };
        let err = BucketBlobStore::open(&region).unwrap_err().to_string();
        assert!(
            err.contains("--s3-region applies to s3:// storage only"),
            "{err}"
        );
        let style = BucketOptions {
            path_style: Some(true),
            ..options("azure://blobs")
        };
        assert!(matches!(
            BucketBlobStore::open(&style),
            Err(BucketConfigError::S3Only {
                option: "--s3-path-style",
                ..
            })
        ));
        let endpoint = BucketOptions {
            endpoint: Some("http://minio:9000".into()),
            ..options("azure://blobs")
        };
        assert!(matches!(
            BucketBlobStore::open(&endpoint),
            Err(BucketConfigError::S3Only {
                option: "--s3-endpoint",
                ..
            })
        ));
    }

    #[test]
    fn parts_grow_so_that_ten_thousand_hold_terabytes() {
        assert_eq!(part_size(0), 8 << 20);
        assert_eq!(part_size(999), 8 << 20);
        assert_eq!(part_size(1000), 16 << 20);
        let total: u64 = (0..MAX_PARTS).map(|i| part_size(i) as u64).sum();
        assert!(total > 5 << 40, "{total}");
    }
}
