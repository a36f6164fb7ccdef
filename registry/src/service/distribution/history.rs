//! An image's build history: the `history` entries of its config (created,
//! created_by, comment, empty_layer), each non-empty one matched, in order, to the
//! layer it made — as `docker history` pairs them.

use futures_util::StreamExt;
use serde::Deserialize;

use super::Distribution;
use crate::auth::Principal;
use crate::auth::rbac::Action;
use crate::digest::Digest;
use crate::error::{RegistryError, Result};

/// Docker's image config (schema 2), which wharf-oci does not name.
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Configs larger than this are not read for a page (real ones are kilobytes).
const MAX_CONFIG: u64 = 8 << 20;

/// One step of an image's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryStep {
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub comment: Option<String>,
    pub empty_layer: bool,
    /// The layer this step made (digest, size); `None` for empty steps, or when
    /// the config lists more layer-making steps than the manifest has layers.
    pub layer: Option<(String, u64)>,
}

#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    history: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    created: Option<String>,
    created_by: Option<String>,
    comment: Option<String>,
    #[serde(default)]
    empty_layer: bool,
}

impl Distribution {
    /// The history of an image manifest's config, each step with its layer; empty
    /// for indexes and artifacts whose config is not an image config.
    pub async fn layer_history(
        &self,
        who: &Principal,
        project: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<Vec<HistoryStep>> {
        let p = self
            .access
            .project_for(who, project, Action::ReadArtifacts)
            .await?;
        let repo = Self::repo_in(&p.name, repository)?;
        let Some(content) = self
            .meta
            .manifest_by_digest(&repo, digest, true)
            .await?
            .and_then(|m| m.content)
        else {
            return Err(RegistryError::not_found(format!(
                "artifact {repo}@{digest} not found"
            )));
        };
        let Ok(manifest) = serde_json::from_slice::<wharf_oci::manifest::Manifest>(&content) else {
            return Ok(Vec::new()); // an index: its children have the histories
        };
        let config_type = manifest.config.media_type.as_str();
        if config_type != wharf_oci::media_types::IMAGE_CONFIG && config_type != DOCKER_CONFIG {
            return Ok(Vec::new());
        }
        if manifest.config.size > MAX_CONFIG {
            return Err(RegistryError::bad_request(format!(
                "the image config is larger than {MAX_CONFIG} bytes"
            )));
        }
        let config_digest: Digest = manifest
            .config
            .digest
            .parse()
            .map_err(|e| RegistryError::Internal(format!("config digest: {e}")))?;
        let mut stream = self.blobs.read(&config_digest, None).await?;
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk.map_err(|e| RegistryError::Internal(e.to_string()))?);
            if buf.len() as u64 > MAX_CONFIG {
                return Err(RegistryError::bad_request("the image config is too large"));
            }
        }
        let config: Config = serde_json::from_slice(&buf)
            .map_err(|e| RegistryError::Internal(format!("image config {config_digest}: {e}")))?;
        let mut layers = manifest.layers.iter();
        Ok(config
            .history
            .into_iter()
            .map(|e| HistoryStep {
                layer: (!e.empty_layer)
                    .then(|| layers.next().map(|l| (l.digest.clone(), l.size)))
                    .flatten(),
                created: e.created,
                created_by: e.created_by,
                comment: e.comment,
                empty_layer: e.empty_layer,
            })
            .collect())
    }
}
