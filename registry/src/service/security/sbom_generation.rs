//! SBOMs generated inside the registry (Harbor's `auto_sbom_generation`, and
//! `POST …/scan` with `scan_type: sbom`): the image is inventoried from the
//! stores, rendered as SPDX 2.3 JSON by `wharf_sbom`, and attached as an OCI
//! referrer in the same repository, so it travels with the image.

use bytes::Bytes;
use serde_json::json;

use super::Security;
use super::blob_source::{StoreBlobs, inventory_blocking};
use super::scanning::Job;
use crate::digest::Digest;
use crate::error::Result;
use crate::manifest::OCI_MANIFEST;
use crate::names::{Reference, RepoName};

const EMPTY: &[u8] = b"{}";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Marks the SBOMs Wharf made, so a regenerated one replaces nothing a user attached.
pub const GENERATOR_ANNOTATION: &str = "dev.wharf.sbom.generator";

impl Security {
    /// Queue SBOM generation for an artifact.
    pub(crate) fn queue_sbom(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        let scanning = self.scanning_state()?;
        if !scanning.offer(Job::Sbom(repo.clone(), digest.clone())) {
            tracing::warn!(%repo, subject = %digest, "the scan queue is full: no SBOM generated for this push (`wharf sbom --attach` makes one)");
        }
        Ok(())
    }

    pub(crate) async fn run_sbom(&self, repo: &RepoName, digest: &Digest) {
        match self.generate_sbom(repo, digest).await {
            Ok(Some(d)) => tracing::info!(%repo, subject = %digest, sbom = %d, "SBOM attached"),
            Ok(None) => tracing::debug!(%repo, subject = %digest, "SBOM already attached"),
            Err(e) => {
                tracing::warn!(%repo, subject = %digest, error = %e, "SBOM generation failed")
            }
        }
    }

    /// Generates and attaches the SBOM; `None` when this exact one is already attached.
    async fn generate_sbom(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<Digest>, String> {
        let subject = self
            .meta
            .manifest_by_digest(repo, digest, false)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("artifact no longer exists")?;
        // Created at the push time of the image: the same image gives the same bytes,
        // so a second request attaches nothing new.
        let pushed_at = self
            .meta
            .artifact(repo, digest)
            .await
            .map_err(|e| e.to_string())?
            .map(|a| a.pushed_at);
        let cache = self
            .scanning
            .as_ref()
            .and_then(|s| s.config.layer_cache.clone());
        let source = StoreBlobs::new(self.meta.clone(), self.blobs.clone(), repo.clone(), cache);
        let d = digest.clone();
        let report = tokio::task::spawn_blocking(move || inventory_blocking(&source, &d))
            .await
            .map_err(|e| e.to_string())??;
        let opts = wharf_sbom::Options { created: pushed_at };
        let doc = wharf_sbom::generate(&report, wharf_sbom::Format::SpdxJson, &opts)
            .map_err(|e| e.to_string())?;

        let empty = self
            .store_bytes(repo, Bytes::from_static(EMPTY))
            .await
            .map_err(|e| e.to_string())?;
        let layer = self
            .store_bytes(repo, Bytes::from(doc.clone()))
            .await
            .map_err(|e| e.to_string())?;
        let media = wharf_sbom::Format::SpdxJson.media_type();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": media,
            "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty.to_string(), "size": EMPTY.len(), "data": "e30="},
            "layers": [{"mediaType": media, "digest": layer.to_string(), "size": doc.len(),
                "annotations": {"org.opencontainers.image.title": "sbom.spdx.json"}}],
            "subject": {"mediaType": subject.media_type, "digest": digest.to_string(), "size": subject.size},
            "annotations": {GENERATOR_ANNOTATION: format!("wharf {}", env!("CARGO_PKG_VERSION"))},
        });
        let body = Bytes::from(serde_json::to_vec(&manifest).map_err(|e| e.to_string())?);
        let sbom_digest = Digest::sha256_of(&body);
        if self
            .meta
            .manifest_by_digest(repo, &sbom_digest, false)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Ok(None);
        }
        self.distribution
            .put_manifest(
                repo,
                &Reference::Digest(sbom_digest.clone()),
                Some(OCI_MANIFEST),
                body,
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some(sbom_digest))
    }

    /// Stores `data` as a blob of `repo` (through the same checked path as a push).
    async fn store_bytes(&self, repo: &RepoName, data: Bytes) -> Result<Digest> {
        let digest = Digest::sha256_of(&data);
        if self.meta.repo_blob_size(repo, &digest).await?.is_some() {
            return Ok(digest);
        }
        let len = data.len() as u64;
        let body: crate::storage::ByteStream = Box::pin(futures_util::stream::once(async move {
            Ok::<_, std::io::Error>(data)
        }));
        self.distribution
            .upload_monolithic(repo, &digest, body, Some(len), None)
            .await?;
        Ok(digest)
    }
}
