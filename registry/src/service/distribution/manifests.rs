//! Accepting, serving and deleting manifests. A manifest is accepted only if
//! every blob and child manifest it references is already in the repository,
//! so a pulled manifest can always be followed to the end.

use bytes::Bytes;
use serde_json::json;

use super::Distribution;
use super::guard::{ManifestWrite, Removal};
use crate::digest::{Algorithm, Digest};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::manifest::{self, ManifestError};
use crate::metadata::{MetadataError, NewManifest, StoredManifest};
use crate::names::{Reference, RepoName};
use crate::service::events::Event;
use crate::service::not_found;

/// What a successful manifest PUT reports back.
#[derive(Debug, Clone)]
pub struct PutManifest {
    pub digest: Digest,
    pub subject: Option<Digest>,
}

fn invalid(e: ManifestError) -> RegistryError {
    RegistryError::new(ErrorCode::ManifestInvalid, format!("manifest invalid: {e}"))
}

/// A manifest body checked (size, syntax, digest) and taken apart into what
/// the store keeps of it. `put_manifest` goes through it, and so do bulk
/// imports that write many manifests in one transaction
/// (`MetadataStore::put_batch`), so both store the same rows.
#[derive(Debug, Clone)]
pub struct PreparedManifest {
    pub digest: Digest,
    pub parsed: manifest::Manifest,
    pub body: Bytes,
    subject: Option<Digest>,
    /// The annotations as the store keeps them (JSON text).
    annotations: Option<String>,
}

impl PreparedManifest {
    /// The rows a push of it to `repo` (under `tag`, if any) writes.
    pub fn row<'a>(&'a self, repo: &'a RepoName, tag: Option<&'a str>) -> NewManifest<'a> {
        NewManifest {
            repo,
            digest: &self.digest,
            media_type: &self.parsed.media_type,
            artifact_type: self.parsed.artifact_type.as_deref(),
            subject: self.subject.as_ref(),
            annotations: self.annotations.clone(),
            content: &self.body,
            blobs: self.parsed.blobs.iter().map(|d| d.digest.clone()).collect(),
            children: self
                .parsed
                .children
                .iter()
                .map(|d| d.digest.clone())
                .collect(),
            tag,
        }
    }
}

/// Check a manifest body as a PUT to `reference` sends it: within the size
/// limit, a manifest of a supported type (matching `content_type`), and of the
/// digest the reference names, if it names one.
pub fn prepare_manifest(
    reference: &Reference,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<PreparedManifest> {
    if body.len() > manifest::MAX_MANIFEST_SIZE {
        return Err(RegistryError::TooLarge {
            code: ErrorCode::ManifestInvalid,
            message: "manifest exceeds the 4 MiB limit".into(),
        });
    }
    let parsed = manifest::parse(&body, content_type).map_err(invalid)?;
    let algorithm = match reference {
        Reference::Digest(d) => d.algorithm(),
        Reference::Tag(_) => Algorithm::Sha256,
    };
    let mut hasher = algorithm.hasher();
    hasher.update(&body);
    let digest = hasher.finish();
    if let Reference::Digest(want) = reference
        && want != &digest
    {
        return Err(RegistryError::new(
            ErrorCode::DigestInvalid,
            format!("manifest body has digest {digest}, not {want}"),
        ));
    }
    let subject = parsed.subject.as_ref().map(|s| s.digest.clone());
    let annotations = parsed
        .annotations
        .as_ref()
        .map(|a| serde_json::Value::Object(a.clone()).to_string());
    Ok(PreparedManifest {
        digest,
        parsed,
        body,
        subject,
        annotations,
    })
}

impl Distribution {
    pub async fn put_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<PutManifest> {
        let prepared = prepare_manifest(reference, content_type, body)?;
        let PreparedManifest {
            digest,
            parsed,
            body,
            ..
        } = &prepared;
        let wanted: Vec<Digest> = parsed.blobs.iter().map(|d| d.digest.clone()).collect();
        let found = self.meta.repo_blob_sizes(repo, &wanted).await?;
        for desc in &parsed.blobs {
            match found.get(&desc.digest) {
                None => {
                    return Err(RegistryError::new(
                        ErrorCode::ManifestBlobUnknown,
                        format!(
                            "blob {} is not in {repo}; push it before the manifest",
                            desc.digest
                        ),
                    )
                    .with_detail(json!({ "digest": desc.digest })));
                }
                Some(&size) if size != desc.size => {
                    return Err(RegistryError::new(
                        ErrorCode::ManifestInvalid,
                        format!(
                            "descriptor for {} says {} bytes, the blob has {size}",
                            desc.digest, desc.size
                        ),
                    )
                    .with_detail(json!({ "digest": desc.digest, "size": size })));
                }
                Some(_) => {}
            }
        }
        let children: Vec<Digest> = parsed.children.iter().map(|d| d.digest.clone()).collect();
        if !children.is_empty() {
            let present = self.meta.existing_manifests(repo, &children).await?;
            if let Some(missing) = children.iter().find(|d| !present.contains(d)) {
                return Err(RegistryError::new(
                    ErrorCode::ManifestBlobUnknown,
                    format!("manifest {missing} is not in {repo}; push it before the index"),
                )
                .with_detail(json!({ "digest": missing })));
            }
        }

        self.ask_before_manifest_put(repo, reference, digest, body.len() as u64, parsed, &found)
            .await?;

        self.note_write();
        let tag = match reference {
            Reference::Tag(t) => Some(t.as_str()),
            Reference::Digest(_) => None,
        };
        let stored = self.meta.put_manifest(prepared.row(repo, tag)).await;
        match stored {
            Ok(()) => {}
            // Garbage collection took it after the check above: the client uploads it again.
            Err(MetadataError::MissingReference(missing)) => {
                return Err(RegistryError::new(
                    ErrorCode::ManifestBlobUnknown,
                    format!("{missing} is not in {repo}; push it before the manifest"),
                )
                .with_detail(json!({ "digest": missing })));
            }
            Err(e) => return Err(e.into()),
        }
        self.events
            .publish(&Event::ArtifactPushed {
                repository: repo.clone(),
                digest: digest.clone(),
                media_type: parsed.media_type.clone(),
                artifact_type: parsed.artifact_type.clone(),
                has_subject: prepared.subject.is_some(),
                tag: tag.map(str::to_string),
            })
            .await;
        Ok(PutManifest {
            digest: digest.clone(),
            subject: prepared.subject.clone(),
        })
    }

    /// The guards' say on a manifest PUT: the manifest itself, then the tag it
    /// moves (a tag that stays on the same digest is no move).
    async fn ask_before_manifest_put(
        &self,
        repo: &RepoName,
        reference: &Reference,
        digest: &Digest,
        size: u64,
        parsed: &manifest::Manifest,
        sizes: &std::collections::HashMap<Digest, u64>,
    ) -> Result<()> {
        let guards = self.guards.live();
        if guards.is_empty() {
            return Ok(());
        }
        let blobs: Vec<(Digest, u64)> = parsed
            .blobs
            .iter()
            .map(|d| {
                (
                    d.digest.clone(),
                    sizes.get(&d.digest).copied().unwrap_or(d.size),
                )
            })
            .collect();
        let write = ManifestWrite {
            digest,
            size,
            blobs: &blobs,
        };
        for guard in &guards {
            guard.before_manifest_put(repo, &write).await?;
        }
        if let Reference::Tag(tag) = reference
            && let Some(current) = self.meta.manifest_by_tag(repo, tag, false).await?
            && &current.digest != digest
        {
            for guard in &guards {
                guard
                    .before_tag_move(repo, tag.as_str(), &current.digest, digest)
                    .await?;
            }
        }
        Ok(())
    }

    /// The guards' say on removing a tag or a whole artifact (with its tags).
    pub(super) async fn ask_before_delete(&self, repo: &RepoName, what: Removal<'_>) -> Result<()> {
        for guard in self.guards.live() {
            guard.before_delete(repo, what).await?;
        }
        Ok(())
    }

    /// The guards' say on deleting an artifact with every tag it carries.
    pub(super) async fn ask_before_artifact_delete(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<()> {
        if self.guards.live().is_empty() {
            return Ok(());
        }
        let tags: Vec<String> = self
            .meta
            .artifact(repo, digest)
            .await?
            .map(|a| a.tags.into_iter().map(|(t, _)| t).collect())
            .unwrap_or_default();
        self.ask_before_delete(
            repo,
            Removal::Artifact {
                digest,
                tags: &tags,
            },
        )
        .await
    }

    /// The guards' say on deleting one tag (if it exists).
    pub(super) async fn ask_before_tag_delete(&self, repo: &RepoName, tag: &str) -> Result<()> {
        if let Some(current) = self.meta.manifest_by_tag(repo, tag, false).await? {
            self.ask_before_delete(
                repo,
                Removal::Tag {
                    tag,
                    digest: &current.digest,
                },
            )
            .await?;
        }
        Ok(())
    }

    /// A manifest by tag or digest; `content` false for HEAD.
    pub async fn get_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
        content: bool,
    ) -> Result<StoredManifest> {
        let found = match reference {
            Reference::Tag(t) => self.meta.manifest_by_tag(repo, t, content).await?,
            Reference::Digest(d) => self.meta.manifest_by_digest(repo, d, content).await?,
        };
        if let Some(p) = self.pull_through.get()
            && let Some(fetched) = p.manifest(repo, reference, found.as_ref()).await?
        {
            return Ok(fetched);
        }
        found.ok_or_else(|| {
            not_found(
                ErrorCode::ManifestUnknown,
                format!("manifest {repo}:{reference}"),
            )
        })
    }

    /// By digest: the manifest and all its tags. By tag: only the tag.
    pub async fn delete_manifest(&self, repo: &RepoName, reference: &Reference) -> Result<()> {
        let deleted = match reference {
            Reference::Digest(d) => {
                self.ask_before_artifact_delete(repo, d).await?;
                self.meta.delete_manifest(repo, d).await?
            }
            Reference::Tag(t) => {
                self.ask_before_tag_delete(repo, t.as_str()).await?;
                self.meta.delete_tag(repo, t).await?
            }
        };
        if deleted {
            self.events.publish(&deleted_event(repo, reference)).await;
            Ok(())
        } else {
            Err(not_found(
                ErrorCode::ManifestUnknown,
                format!("manifest {repo}:{reference}"),
            ))
        }
    }
}

/// What a delete by digest (the artifact) or by tag (only the tag) tells subscribers.
pub(super) fn deleted_event(repo: &RepoName, reference: &Reference) -> Event {
    match reference {
        Reference::Digest(d) => Event::ArtifactDeleted {
            repository: repo.clone(),
            digest: d.clone(),
        },
        Reference::Tag(t) => Event::TagDeleted {
            repository: repo.clone(),
            tag: t.as_str().to_string(),
        },
    }
}
