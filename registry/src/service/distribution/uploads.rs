//! Blob upload sessions: monolithic, chunked, resumable across restarts, and
//! cross-repository mounts. Bytes are hashed as they arrive; a blob becomes
//! visible to its repository only after its digest has been checked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use futures_util::{StreamExt, stream};

use super::Distribution;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::names::RepoName;
use crate::storage::{ByteStream, StorageError, valid_upload_id};

/// Where an upload session stands: its id and how many bytes it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadStatus {
    pub id: String,
    pub size: u64,
}

pub enum MountOutcome {
    Mounted(Digest),
    /// The blob could not be mounted; the client uploads it in this new session.
    Started(UploadStatus),
}

/// In-memory hash state of live sessions, so finishing a chunked upload never
/// re-reads it. After a restart, or when another replica appended, the state is
/// resumed from the store.
/// Also which client address opened each session this process started, for the
/// per-client cap (sessions from before a restart, or opened on another replica,
/// count only towards the global one, which the database counts).
#[derive(Default)]
pub(super) struct Sessions {
    hashers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Resumable>>>>>,
    owners: Mutex<HashMap<String, IpAddr>>,
}

/// A session's hash state and how many bytes it covers: when the store holds
/// more (another replica appended in between), the state is stale and is
/// resumed from the store instead.
struct Resumable {
    size: u64,
    hasher: Hasher,
}

impl Sessions {
    fn get(&self, id: &str) -> Arc<tokio::sync::Mutex<Option<Resumable>>> {
        let mut map = self.hashers.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_string()).or_default().clone()
    }

    pub(super) fn forget(&self, id: &str) {
        self.hashers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Record `id` as `client`'s unless that client already holds `max` sessions.
    fn claim(&self, id: &str, client: IpAddr, max: usize) -> bool {
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        if owners.values().filter(|ip| **ip == client).count() >= max {
            return false;
        }
        owners.insert(id.to_string(), client);
        true
    }
}

fn upload_unknown(id: &str) -> RegistryError {
    RegistryError::new(
        ErrorCode::BlobUploadUnknown,
        format!("upload {id} not found"),
    )
}

fn body_error(e: StorageError, id: &str) -> RegistryError {
    match e {
        StorageError::Body(err) => match err
            .get_ref()
            .and_then(|e| e.downcast_ref::<LengthMismatch>())
        {
            Some(m) => RegistryError::new(ErrorCode::SizeInvalid, m.to_string()),
            None => RegistryError::new(
                ErrorCode::BlobUploadInvalid,
                format!("reading the request body: {err}"),
            ),
        },
        StorageError::UploadNotFound(_) | StorageError::InvalidUploadId(_) => upload_unknown(id),
        other => other.into(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("body has {got} bytes where {want} were declared")]
struct LengthMismatch {
    want: u64,
    got: u64,
}

/// Fail the stream (so the store keeps nothing) unless it carries exactly `want` bytes.
fn exact_length(body: ByteStream, want: u64) -> ByteStream {
    let mismatch = move |got| std::io::Error::other(LengthMismatch { want, got });
    Box::pin(stream::unfold(
        Some((body, 0u64)),
        move |state| async move {
            let (mut body, seen) = state?;
            match body.next().await {
                Some(Ok(chunk)) => {
                    let seen = seen + chunk.len() as u64;
                    if seen > want {
                        return Some((Err(mismatch(seen)), None));
                    }
                    Some((Ok(chunk), Some((body, seen))))
                }
                Some(Err(e)) => Some((Err(e), None)),
                None if seen != want => Some((Err(mismatch(seen)), None)),
                None => None,
            }
        },
    ))
}

impl Distribution {
    /// Upload sessions open now (started, neither finished, cancelled nor purged), in
    /// this registry's store: every replica's sessions, as the cap counts them.
    pub async fn open_uploads(&self) -> Result<u64> {
        Ok(self.meta.count_uploads().await?)
    }

    /// A new session, within the global cap and `client`'s own (both 429
    /// `TOOMANYREQUESTS`, as the distribution spec names a client over its limits).
    async fn new_session(&self, repo: &RepoName, client: Option<IpAddr>) -> Result<UploadStatus> {
        for guard in self.guards.live() {
            guard.before_upload(repo).await?;
        }
        if self.meta.count_uploads().await? >= self.max_uploads as u64 {
            return Err(RegistryError::new(
                ErrorCode::TooManyRequests,
                format!(
                    "{} upload sessions are open; try again later",
                    self.max_uploads
                ),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        if let Some(ip) = client
            && self.max_uploads_per_client > 0
            && !self.sessions.claim(&id, ip, self.max_uploads_per_client)
        {
            return Err(RegistryError::new(
                ErrorCode::TooManyRequests,
                format!(
                    "{ip} holds {} open upload sessions, its limit; finish or cancel one first",
                    self.max_uploads_per_client
                ),
            ));
        }
        // Record first, bytes second: a crash in between leaves a record the purge removes.
        if let Err(e) = self.meta.create_upload(&id, repo).await {
            self.sessions.forget(&id);
            return Err(e.into());
        }
        if let Err(e) = self.blobs.create_upload(&id).await {
            let _ = self.meta.delete_upload(&id).await;
            self.sessions.forget(&id);
            return Err(e.into());
        }
        Ok(UploadStatus { id, size: 0 })
    }

    /// `POST /blobs/uploads/`: open a session for `client` (its address, when known).
    pub async fn start_upload(
        &self,
        repo: &RepoName,
        client: Option<IpAddr>,
    ) -> Result<UploadStatus> {
        self.new_session(repo, client).await
    }

    /// `POST /blobs/uploads/?digest=`: the whole blob in one request.
    pub async fn upload_monolithic(
        &self,
        repo: &RepoName,
        digest: &Digest,
        body: ByteStream,
        length: Option<u64>,
        client: Option<IpAddr>,
    ) -> Result<()> {
        let status = self.new_session(repo, client).await?;
        let result = async {
            let body = match length {
                Some(n) => exact_length(body, n),
                None => body,
            };
            let mut hasher = digest.algorithm().hasher();
            self.blobs
                .append_upload(&status.id, body, &mut hasher)
                .await
                .map_err(|e| body_error(e, &status.id))?;
            self.commit(repo, &status.id, digest, hasher.finish()).await
        }
        .await;
        if result.is_err() {
            self.discard(&status.id).await;
        } else {
            self.sessions.forget(&status.id);
        }
        result
    }

    /// `POST ?mount=&from=`: link a blob another repository holds, or start a session.
    pub async fn mount_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        from: Option<&RepoName>,
        client: Option<IpAddr>,
    ) -> Result<MountOutcome> {
        for guard in self.guards.live() {
            guard.before_upload(repo).await?;
        }
        // A blob GC is deleting cannot be linked: the client uploads it instead.
        if let Some(from) = from
            && let Some(size) = self.meta.repo_blob_size(from, digest).await?
            && self.meta.link_blob(repo, digest, size).await?
        {
            return Ok(MountOutcome::Mounted(digest.clone()));
        }
        Ok(MountOutcome::Started(self.new_session(repo, client).await?))
    }

    /// The session, if it exists and belongs to this repository.
    async fn session(&self, repo: &RepoName, id: &str) -> Result<()> {
        if !valid_upload_id(id) {
            return Err(upload_unknown(id));
        }
        match self.meta.upload(id).await? {
            Some(u) if u.repository == repo.as_str() => Ok(()),
            _ => Err(upload_unknown(id)),
        }
    }

    async fn stored_size(&self, id: &str) -> Result<u64> {
        self.blobs
            .upload_size(id)
            .await?
            .ok_or_else(|| upload_unknown(id))
    }

    /// `GET /blobs/uploads/<id>`.
    pub async fn upload_status(&self, repo: &RepoName, id: &str) -> Result<UploadStatus> {
        self.session(repo, id).await?;
        Ok(UploadStatus {
            id: id.to_string(),
            size: self.stored_size(id).await?,
        })
    }

    /// The hash state of the stored bytes: this process's own if it covers
    /// `size` bytes in `algorithm`, else the store's (after a restart, or when
    /// another replica took the previous chunk).
    async fn resume_hash(
        &self,
        id: &str,
        kept: Option<Resumable>,
        size: u64,
        algorithm: Algorithm,
    ) -> Result<Hasher> {
        match kept {
            Some(r) if r.size == size && r.hasher.algorithm() == algorithm => Ok(r.hasher),
            _ => self
                .blobs
                .resume_hash(id, algorithm)
                .await
                .map_err(|e| match e {
                    StorageError::HashUnavailable { .. } => {
                        RegistryError::new(ErrorCode::DigestInvalid, e.to_string())
                    }
                    other => body_error(other, id),
                }),
        }
    }

    /// `PATCH /blobs/uploads/<id>`: append a chunk. `range` is the
    /// `Content-Range` the client sent; it must start where the upload ends.
    pub async fn upload_chunk(
        &self,
        repo: &RepoName,
        id: &str,
        range: Option<(u64, u64)>,
        length: Option<u64>,
        body: ByteStream,
    ) -> Result<UploadStatus> {
        self.session(repo, id).await?;
        let lock = self.sessions.get(id);
        let mut state = lock.lock().await;
        let size = self.stored_size(id).await?;
        let body = match (range, length) {
            (Some((start, end)), _) if start != size || end < start => {
                return Err(RegistryError::ChunkOutOfOrder(format!(
                    "chunk {start}-{end} is out of order: the upload holds {size} bytes, the next chunk must start at {size}"
                )));
            }
            (Some((start, end)), Some(len)) if len != end - start + 1 => {
                return Err(RegistryError::new(
                    ErrorCode::SizeInvalid,
                    format!("Content-Length {len} does not match Content-Range {start}-{end}"),
                ));
            }
            (Some((start, end)), _) => exact_length(body, end - start + 1),
            (None, Some(len)) => exact_length(body, len),
            (None, None) => body,
        };
        let mut hasher = self
            .resume_hash(id, state.take(), size, Algorithm::Sha256)
            .await?;
        let appended = self.blobs.append_upload(id, body, &mut hasher).await;
        // On failure the store kept nothing and left the hasher untouched.
        let now = *appended.as_ref().unwrap_or(&size);
        *state = Some(Resumable { size: now, hasher });
        let size = appended.map_err(|e| body_error(e, id))?;
        self.meta.touch_upload(id).await?;
        Ok(UploadStatus {
            id: id.to_string(),
            size,
        })
    }

    /// `PUT /blobs/uploads/<id>?digest=`: last (optional) chunk, then verify and publish.
    pub async fn finish_upload(
        &self,
        repo: &RepoName,
        id: &str,
        digest: &Digest,
        body: ByteStream,
        length: Option<u64>,
    ) -> Result<()> {
        self.session(repo, id).await?;
        let lock = self.sessions.get(id);
        let mut state = lock.lock().await;
        let size = self.stored_size(id).await?;
        let mut hasher = self
            .resume_hash(id, state.take(), size, digest.algorithm())
            .await?;
        let body = match length {
            Some(n) => exact_length(body, n),
            None => body,
        };
        if let Err(e) = self.blobs.append_upload(id, body, &mut hasher).await {
            *state = Some(Resumable { size, hasher });
            return Err(body_error(e, id));
        }
        let result = self.commit(repo, id, digest, hasher.finish()).await;
        if let Err(e) = &result {
            if matches!(
                e.error_code(),
                Some(ErrorCode::DigestInvalid | ErrorCode::Denied)
            ) {
                // The bytes can never become this blob (or a guard refused them); drop
                // them rather than keep a poisoned session.
                self.discard(id).await;
            }
        } else {
            self.sessions.forget(id);
        }
        result
    }

    /// Verify, reserve, move into place, then link: the repository sees the
    /// blob only once it is whole and correct.
    ///
    /// The reservation is what makes this safe beside online GC: the blob's
    /// row is created (or marked used) BEFORE the file is committed, so a
    /// collection never deletes the file this commit keeps, not even when the
    /// store finds the file already there and just drops the upload. While GC
    /// is deleting the same digest (row marked `deleting`, its file about to
    /// go), the commit waits for the deletion to finish rather than keep a
    /// file that is about to vanish.
    async fn commit(&self, repo: &RepoName, id: &str, want: &Digest, got: Digest) -> Result<()> {
        if &got != want {
            return Err(RegistryError::new(
                ErrorCode::DigestInvalid,
                format!("uploaded content has digest {got}, not {want}"),
            ));
        }
        let size = self.stored_size(id).await?;
        for guard in self.guards.live() {
            guard.before_blob_commit(repo, want, size).await?;
        }
        self.note_write();
        self.reserve(want, size).await?;
        self.blobs.commit_upload(id, want).await?;
        if !self.meta.link_blob(repo, want, size).await? {
            // Only when the commit outlasted GC's whole grace period.
            return Err(RegistryError::new(
                ErrorCode::BlobUploadInvalid,
                format!(
                    "blob {want} was garbage-collected while it was committed; upload it again"
                ),
            ));
        }
        self.meta.delete_upload(id).await?;
        Ok(())
    }

    /// Wait (bounded) until GC has finished deleting `digest`, then reserve it.
    async fn reserve(&self, digest: &Digest, size: u64) -> Result<()> {
        const WAIT: std::time::Duration = std::time::Duration::from_secs(60);
        let start = std::time::Instant::now();
        while !self.meta.reserve_blob(digest, size).await? {
            if start.elapsed() > WAIT {
                return Err(RegistryError::new(
                    ErrorCode::TooManyRequests,
                    format!("blob {digest} is being garbage-collected; try the upload again later"),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn discard(&self, id: &str) {
        self.sessions.forget(id);
        if let Err(e) = self.blobs.delete_upload(id).await {
            tracing::warn!(upload = id, error = %e, "could not remove upload data");
        }
        if let Err(e) = self.meta.delete_upload(id).await {
            tracing::warn!(upload = id, error = %e, "could not remove upload record");
        }
    }

    /// `DELETE /blobs/uploads/<id>`.
    pub async fn cancel_upload(&self, repo: &RepoName, id: &str) -> Result<()> {
        self.session(repo, id).await?;
        let lock = self.sessions.get(id);
        let _held = lock.lock().await;
        self.discard(id).await;
        Ok(())
    }
}
