//! The registry's rules, between HTTP and the stores: what must exist before
//! what, which digests must match, which repository may see which blob.
//! Everything here speaks [`RegistryError`]s with OCI codes; handlers only
//! translate HTTP to calls and results to responses.

mod access;
mod artifacts;
mod blobs;
mod identity;
mod keyless_trust;
mod listing;
mod manifests;
mod project_settings;
mod pull_gate;
mod pulls;
mod sbom_generation;
mod scanning;
mod signatures;
mod uploads;

use std::sync::Arc;
use std::time::Duration;

pub use access::{AuthState, IssuedToken, time_rfc3339};
pub use blobs::{BlobBody, ByteRange};
pub use identity::{RobotSpec, RobotUpdate};
pub use keyless_trust::{KeylessRoot, TRUSTED_IDENTITIES};
pub use listing::Page;
pub use manifests::PutManifest;
pub use project_settings::{ProjectExtras, Settings, TRUSTED_KEYS};
pub use pull_gate::PullCaller;
pub use scanning::{DbSource, REPORT_MIME, ScanConfig, overview_json, severity_rank};
pub use uploads::{MountOutcome, UploadStatus};

use crate::error::{ErrorCode, RegistryError, Result};
use crate::metadata::{IdentityStore, MetadataStore, SecurityStore};
use crate::storage::BlobStore;

pub struct Registry {
    meta: Arc<dyn MetadataStore>,
    identity: Arc<dyn IdentityStore>,
    security: Arc<dyn SecurityStore>,
    blobs: Arc<dyn BlobStore>,
    sessions: uploads::Sessions,
    max_uploads: usize,
    /// `None`: authentication off, every request may do anything.
    auth: Option<AuthState>,
    /// `None`: no vulnerability database configured.
    scanning: Option<scanning::Scanning>,
    settings_cache: project_settings::SettingsCache,
    policy_cache: pull_gate::PolicyCache,
    pulls: pulls::PullCounter,
    /// Sigstore trusted root for keyless signatures (`--trusted-root`); `None`: keyless
    /// signatures are shown but never trusted.
    keyless_root: Option<KeylessRoot>,
}

impl Registry {
    pub fn new(
        meta: Arc<dyn MetadataStore>,
        identity: Arc<dyn IdentityStore>,
        security: Arc<dyn SecurityStore>,
        blobs: Arc<dyn BlobStore>,
        max_uploads: usize,
    ) -> Self {
        Registry {
            meta,
            identity,
            security,
            blobs,
            sessions: uploads::Sessions::default(),
            max_uploads,
            auth: None,
            scanning: None,
            settings_cache: Default::default(),
            policy_cache: Default::default(),
            pulls: Default::default(),
            keyless_root: None,
        }
    }

    /// Trust keyless signatures through this Sigstore root (with each project's identities).
    pub fn with_trusted_root(mut self, root: KeylessRoot) -> Self {
        self.keyless_root = Some(root);
        self
    }

    /// Turn on authentication and authorization for every request.
    pub fn with_auth(mut self, auth: AuthState) -> Self {
        self.auth = Some(auth);
        self
    }

    pub fn identity(&self) -> &Arc<dyn IdentityStore> {
        &self.identity
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Registry;
    use crate::error::ErrorCode;
    use crate::metadata::SqliteMetadata;
    use crate::names::RepoName;
    use crate::storage::{BlobStore, FsBlobStore};

    #[tokio::test]
    async fn abandoned_uploads_are_purged_with_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Arc::new(
            SqliteMetadata::open(&dir.path().join("wharf.db"))
                .await
                .unwrap(),
        );
        let blobs = Arc::new(FsBlobStore::open(dir.path(), false).await.unwrap());
        let reg = Registry::new(meta.clone(), meta.clone(), meta, blobs.clone(), 10);
        let repo = RepoName::parse("library/purge").unwrap();
        let up = reg.start_upload(&repo).await.unwrap();
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
}
