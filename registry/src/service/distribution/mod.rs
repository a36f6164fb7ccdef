//! Distribution: the OCI content of the registry. Uploads, manifests, blobs,
//! listings, referrers, pull statistics, and the management API's view of
//! repositories, artifacts and tags. Holds the metadata store and the blob store;
//! tells subscribers what was pushed through [`Events`].

mod artifacts;
mod blobs;
pub mod guard;
pub mod history;
mod listing;
mod manifests;
pub mod pull_through;
mod pulls;
mod uploads;

use std::sync::Arc;
use std::time::Duration;

pub use blobs::{BlobBody, ByteRange};
pub use guard::{Guards, ManifestWrite, Removal, WriteGuard};
pub use listing::Page;
pub use manifests::{PreparedManifest, PutManifest, prepare_manifest};
pub use pull_through::{PullThrough, PullThroughSlot};
pub use uploads::{MountOutcome, UploadStatus};

use super::access::Access;
use super::events::Events;
use crate::error::Result;
use crate::metadata::MetadataStore;
use crate::storage::BlobStore;

pub struct Distribution {
    meta: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
    sessions: uploads::Sessions,
    max_uploads: usize,
    /// Sessions one client address may hold open; 0: no per-client cap.
    max_uploads_per_client: usize,
    pulls: pulls::PullCounter,
    events: Events,
    /// Who answers "may this write happen?" (immutability, quotas).
    guards: Guards,
    /// Who fetches what a proxy cache project does not hold yet.
    pull_through: PullThroughSlot,
    recent_uses: blobs::RecentUses,
    /// When this process last committed a blob or stored a manifest (ms since
    /// the epoch): background work (GC) yields to pushes in progress.
    last_write: std::sync::atomic::AtomicI64,
    /// For the management API's checks and audit entries (the `/v2` API is
    /// authorized before it gets here).
    access: Arc<Access>,
}

impl Distribution {
    /// Whether the stores answer (`/readyz`): one metadata read and the blob
    /// store's own check.
    pub async fn ready(&self) -> Result<()> {
        self.meta.list_repositories(None, 1).await?;
        self.blobs.ready().await?;
        Ok(())
    }

    pub fn new(
        meta: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        max_uploads: usize,
        access: Arc<Access>,
    ) -> Self {
        Distribution {
            meta,
            blobs,
            sessions: uploads::Sessions::default(),
            max_uploads,
            max_uploads_per_client: 0,
            pulls: Default::default(),
            events: Events::default(),
            guards: Guards::default(),
            pull_through: PullThroughSlot::default(),
            recent_uses: Default::default(),
            last_write: Default::default(),
            access,
        }
    }

    /// Cap the upload sessions one client address may hold open (0: no cap).
    pub fn with_max_uploads_per_client(mut self, max: usize) -> Self {
        self.max_uploads_per_client = max;
        self
    }

    /// Whether this process stored pushed content within `window`.
    pub fn pushed_within(&self, window: Duration) -> bool {
        let last = self.last_write.load(std::sync::atomic::Ordering::Relaxed);
        now_ms() - last < window.as_millis() as i64
    }

    fn note_write(&self) {
        self.last_write
            .store(now_ms(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Who hears about pushes.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Who is asked before content changes.
    pub fn guards(&self) -> &Guards {
        &self.guards
    }

    /// Where reads that local content does not answer go (the proxy cache).
    pub fn pull_through(&self) -> &PullThroughSlot {
        &self.pull_through
    }

    /// The stores, for services that read content (scanning, signatures).
    pub fn meta(&self) -> &Arc<dyn MetadataStore> {
        &self.meta
    }

    pub fn blob_store(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Distribution;
    use crate::error::ErrorCode;
    use crate::names::RepoName;
    use crate::service::access::Access;
    use crate::storage::BlobStore;

    #[tokio::test]
    async fn abandoned_uploads_are_purged_with_their_bytes() {
        let (_dir, meta, blobs) = crate::service::test_stores().await;
        let access = Arc::new(Access::new(meta.clone(), None));
        let reg = Distribution::new(meta, blobs.clone(), 10, access);
        let repo = RepoName::parse("library/purge").unwrap();
        let up = reg.start_upload(&repo, None).await.unwrap();
        assert_eq!(
            reg.purge_stale_uploads(Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(blobs.upload_size(&up.id).await.unwrap(), Some(0));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(reg.purge_stale_uploads(Duration::ZERO).await.unwrap(), 1);
        assert_eq!(blobs.upload_size(&up.id).await.unwrap(), None);
        let err = reg.upload_status(&repo, &up.id).await.unwrap_err();
        assert_eq!(err.error_code(), Some(ErrorCode::BlobUploadUnknown));
    }

    fn body(bytes: &'static [u8]) -> crate::storage::ByteStream {
        Box::pin(futures_util::stream::once(async move {
            Ok(bytes::Bytes::from_static(bytes))
        }))
    }

    /// Two `Distribution`s on one store behave as two replicas: a PATCH on the
    /// other one moves the upload past the hash state the first one keeps, and
    /// the first one's next PATCH and PUT must not hash on from that stale state.
    #[tokio::test]
    async fn a_session_served_by_two_replicas_hashes_every_byte_once() {
        let (_dir, meta, blobs) = crate::service::test_stores().await;
        let replica = || {
            let access = Arc::new(Access::new(meta.clone(), None));
            Distribution::new(meta.clone(), blobs.clone(), 10, access)
        };
        let (a, b) = (replica(), replica());
        let repo = RepoName::parse("library/spread").unwrap();
        let up = a.start_upload(&repo, None).await.unwrap();
        let s = a
            .upload_chunk(&repo, &up.id, Some((0, 3)), Some(4), body(b"abcd"))
            .await
            .unwrap();
        assert_eq!(s.size, 4);
        let s = b
            .upload_chunk(&repo, &up.id, Some((4, 7)), Some(4), body(b"efgh"))
            .await
            .unwrap();
        assert_eq!(s.size, 8);
        let s = a
            .upload_chunk(&repo, &up.id, Some((8, 9)), Some(2), body(b"ij"))
            .await
            .unwrap();
        assert_eq!(s.size, 10);
        // `printf abcdefghijkl | sha256sum`
        let want: crate::digest::Digest =
            "sha256:d682ed4ca4d989c134ec94f1551e1ec580dd6d5a6ecde9f3d35e6e4a717fbde4"
                .parse()
                .unwrap();
        b.finish_upload(&repo, &up.id, &want, body(b"kl"), Some(2))
            .await
            .unwrap();
        assert_eq!(a.blob_size(&repo, &want).await.unwrap(), 12);
    }
}
