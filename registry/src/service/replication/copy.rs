//! The copy engine: one artifact from a source registry to a destination, with
//! everything that belongs to it.
//!
//! What travels: the manifest or index with every platform (children first, then
//! the index), their blobs, and the artifact's accessories: cosign's
//! `sha256-<hex>.sig`/`.att`/`.sbom` tags and every OCI 1.1 referrer (signatures,
//! SBOMs, attestations, and their own referrers). A destination without the
//! referrers API (Distribution 2.8) gets each referrer added to the referrers tag
//! schema index, so `wharf verify` and `wharf sbom` find them there.
//!
//! What does not travel twice: a blob the destination has (a HEAD) is not sent; one
//! this run already placed in another repository of the destination is mounted
//! from there; a manifest the destination has by digest is not put again; a tag
//! already at the same digest is left as it is; with `override` off, a tag that
//! names something else is left alone too.
//!
//! Both ends are a [`Side`]: [`RemoteSide`] is wharf-oci's one registry client,
//! [`LocalSide`] is this registry's [`Distribution`] service. The local side is
//! not reached through the client over HTTP because that would need the server to
//! hold credentials for itself (with `--auth`), would take its own pull gate and
//! rate of requests into every copy, and would stream every byte through a socket
//! twice; through the service, writes still pass the same write guards (quotas,
//! immutable tags) and publish the same push events as a client's.
//!
//! Blobs are streamed from source to destination (a chunked upload to a remote,
//! a streamed commit locally), never held whole; `speed` throttles them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use wharf_oci::Descriptor;

use super::registries::Endpoint;
use crate::error::{ErrorCode, RegistryError};
use crate::names::{Reference, RepoName};
use crate::service::distribution::{BlobBody, Distribution, MountOutcome};
use crate::service::identity::Identity;
use crate::service::lifecycle::Quotas;
use crate::storage::ByteStream;

/// Most tags or repositories one listing returns (bounds a run's memory).
pub const MAX_LISTING: usize = 100_000;
/// cosign's tag suffixes for things attached to an image.
const COSIGN_SUFFIXES: [&str; 3] = [".sig", ".att", ".sbom"];
/// How deep referrers of referrers are followed.
const MAX_REFERRER_DEPTH: usize = 3;

/// Why a copy step failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{side}: {source}")]
    Remote {
        side: String,
        #[source]
        source: wharf_oci::Error,
    },
    #[error("this registry: {0}")]
    Local(#[from] RegistryError),
    #[error("{0}")]
    Content(String),
}

pub type CopyResult<T> = std::result::Result<T, CopyError>;

/// A manifest as fetched.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Bytes,
    pub media_type: String,
    pub digest: String,
}

/// One end of a copy: what the engine asks of a registry.
#[async_trait::async_trait]
pub trait Side: Send + Sync {
    /// How task logs and `dst_resource` name a repository here.
    fn display(&self, repository: &str) -> String;
    /// A manifest by tag or digest; `None` when it does not exist.
    async fn manifest(&self, repo: &str, reference: &str) -> CopyResult<Option<Fetched>>;
    /// The digest a tag names; `None` when it does not exist.
    async fn manifest_digest(&self, repo: &str, reference: &str) -> CopyResult<Option<String>>;
    async fn blob(&self, repo: &str, digest: &str) -> CopyResult<ByteStream>;
    /// A blob's bytes from `offset` on: what a resumed upload still needs. By default
    /// the whole blob is read and its first `offset` bytes dropped.
    async fn blob_from(&self, repo: &str, digest: &str, offset: u64) -> CopyResult<ByteStream> {
        Ok(skip_bytes(self.blob(repo, digest).await?, offset))
    }
    async fn has_blob(&self, repo: &str, digest: &str) -> CopyResult<bool>;
    /// Bytes of `digest` that an earlier, cut upload of this run left in an upload
    /// session here, which [`put_blob`](Self::put_blob) continues; 0: start afresh.
    async fn upload_offset(&self, _repo: &str, _digest: &str) -> CopyResult<u64> {
        Ok(0)
    }
    /// Links a blob `from` holds into `repo`; false when that was not possible.
    async fn mount(&self, repo: &str, from: &str, digest: &str) -> CopyResult<bool>;
    /// Stores a blob of `size` bytes; `stream` holds its bytes from `offset` on, the
    /// offset [`upload_offset`](Self::upload_offset) answered (0: the whole blob).
    async fn put_blob(
        &self,
        repo: &str,
        digest: &str,
        size: u64,
        offset: u64,
        stream: ByteStream,
    ) -> CopyResult<()>;
    async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: Bytes,
    ) -> CopyResult<()>;
    /// Deletes a tag, or a manifest by digest; false when it was not there.
    async fn delete(&self, repo: &str, reference: &str) -> CopyResult<bool>;
    /// Deletes a tag only (the manifest stays): `None` when this registry cannot delete
    /// tags (Distribution 2.8), else whether it was there.
    async fn delete_tag(&self, repo: &str, tag: &str) -> CopyResult<Option<bool>> {
        self.delete(repo, tag).await.map(Some)
    }
    /// Every tag of a repository (empty when it does not exist).
    async fn tags(&self, repo: &str) -> CopyResult<Vec<String>>;
    /// Every repository.
    async fn repositories(&self) -> CopyResult<Vec<String>>;
    /// The referrers of `digest`.
    async fn referrers(&self, repo: &str, digest: &str) -> CopyResult<Vec<Descriptor>>;
    /// Makes a stored referrer discoverable (the tag schema where there is no API).
    async fn index_referrer(&self, repo: &str, subject: &str, desc: &Descriptor) -> CopyResult<()>;
    /// Readies the destination for pushes to `repo`: its project is created when it is
    /// missing, as Harbor's replication does (a Harbor or Wharf endpoint through the
    /// management API; this registry private, with the default storage limit). What
    /// was done, for the task's log.
    async fn prepare(&self, _repo: &str) -> CopyResult<Option<String>> {
        Ok(None)
    }
}

/// Whether the registry said "no such thing".
fn local_not_found(e: &RegistryError) -> bool {
    match e {
        RegistryError::Oci { code, .. } => matches!(
            code,
            ErrorCode::ManifestUnknown | ErrorCode::BlobUnknown | ErrorCode::NameUnknown
        ),
        RegistryError::Api { kind, .. } => *kind == crate::error::ApiErrorKind::NotFound,
        _ => false,
    }
}

fn repo_name(repo: &str) -> CopyResult<RepoName> {
    RepoName::parse(repo).map_err(|e| CopyError::Content(format!("repository name {repo:?}: {e}")))
}

fn reference(r: &str) -> CopyResult<Reference> {
    Reference::parse(r).map_err(|e| CopyError::Content(format!("reference {r:?}: {e}")))
}

fn digest(d: &str) -> CopyResult<crate::digest::Digest> {
    d.parse()
        .map_err(|e| CopyError::Content(format!("digest {d:?}: {e}")))
}

/// This registry, through its distribution service.
pub struct LocalSide {
    pub distribution: Arc<Distribution>,
    /// Creates a pull's missing destination projects.
    pub projects: Arc<LocalProjects>,
    /// Projects known to exist (found or created by this run).
    known: Mutex<HashSet<String>>,
}

impl LocalSide {
    pub fn new(distribution: Arc<Distribution>, projects: Arc<LocalProjects>) -> Self {
        LocalSide {
            distribution,
            projects,
            known: Mutex::new(HashSet::new()),
        }
    }
}

/// What a pull needs to create a project here: the identity service (the project,
/// private, nobody a member) and quotas (the default storage limit of new projects).
pub struct LocalProjects {
    pub identity: Arc<Identity>,
    pub quotas: Arc<Quotas>,
}

impl LocalProjects {
    /// Creates `project` unless it exists; `Some(id)` when this call created it.
    async fn ensure(&self, project: &str) -> Result<Option<i64>, RegistryError> {
        let Some(id) = self.identity.ensure_project(project).await? else {
            return Ok(None);
        };
        self.quotas
            .init_project(&crate::auth::Principal::Anonymous, id, None)
            .await?;
        tracing::info!(project, "replication created the missing project (private)");
        Ok(Some(id))
    }
}

#[async_trait::async_trait]
impl Side for LocalSide {
    fn display(&self, repository: &str) -> String {
        repository.to_string()
    }

    async fn manifest(&self, repo: &str, r: &str) -> CopyResult<Option<Fetched>> {
        match self
            .distribution
            .get_manifest(&repo_name(repo)?, &reference(r)?, true)
            .await
        {
            Ok(m) => Ok(Some(Fetched {
                body: m.content.unwrap_or_default(),
                media_type: m.media_type,
                digest: m.digest.to_string(),
            })),
            Err(e) if local_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn manifest_digest(&self, repo: &str, r: &str) -> CopyResult<Option<String>> {
        match self
            .distribution
            .get_manifest(&repo_name(repo)?, &reference(r)?, false)
            .await
        {
            Ok(m) => Ok(Some(m.digest.to_string())),
            Err(e) if local_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn blob(&self, repo: &str, d: &str) -> CopyResult<ByteStream> {
        match self
            .distribution
            .read_blob(&repo_name(repo)?, &digest(d)?, None)
            .await?
        {
            BlobBody::Whole { stream, .. } | BlobBody::Partial { stream, .. } => Ok(stream),
            BlobBody::Unsatisfiable { .. } => Err(CopyError::Content(format!(
                "blob {d} of {repo} could not be read"
            ))),
        }
    }

    async fn blob_from(&self, repo: &str, d: &str, offset: u64) -> CopyResult<ByteStream> {
        if offset == 0 {
            return self.blob(repo, d).await;
        }
        let range = crate::service::distribution::ByteRange::From(offset, None);
        match self
            .distribution
            .read_blob(&repo_name(repo)?, &digest(d)?, Some(range))
            .await?
        {
            BlobBody::Whole { stream, .. } => Ok(skip_bytes(stream, offset)),
            BlobBody::Partial { stream, .. } => Ok(stream),
            BlobBody::Unsatisfiable { .. } => Err(CopyError::Content(format!(
                "blob {d} of {repo} has no byte {offset}"
            ))),
        }
    }

    async fn has_blob(&self, repo: &str, d: &str) -> CopyResult<bool> {
        match self
            .distribution
            .blob_size(&repo_name(repo)?, &digest(d)?)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if local_not_found(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn mount(&self, repo: &str, from: &str, d: &str) -> CopyResult<bool> {
        let repo = repo_name(repo)?;
        let outcome = self
            .distribution
            .mount_blob(&repo, &digest(d)?, Some(&repo_name(from)?), None)
            .await?;
        match outcome {
            MountOutcome::Mounted(_) => Ok(true),
            MountOutcome::Started(session) => {
                let _ = self.distribution.cancel_upload(&repo, &session.id).await;
                Ok(false)
            }
        }
    }

    async fn put_blob(
        &self,
        repo: &str,
        d: &str,
        size: u64,
        offset: u64,
        stream: ByteStream,
    ) -> CopyResult<()> {
        if offset != 0 {
            return Err(CopyError::Content(format!(
                "blob {d}: this registry resumes no upload (asked to start at byte {offset})"
            )));
        }
        self.distribution
            .upload_monolithic(&repo_name(repo)?, &digest(d)?, stream, Some(size), None)
            .await?;
        Ok(())
    }

    async fn put_manifest(
        &self,
        repo: &str,
        r: &str,
        media_type: &str,
        body: Bytes,
    ) -> CopyResult<()> {
        self.distribution
            .put_manifest(&repo_name(repo)?, &reference(r)?, Some(media_type), body)
            .await?;
        Ok(())
    }

    async fn delete(&self, repo: &str, r: &str) -> CopyResult<bool> {
        match self
            .distribution
            .delete_manifest(&repo_name(repo)?, &reference(r)?)
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if local_not_found(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn tags(&self, repo: &str) -> CopyResult<Vec<String>> {
        let repo = repo_name(repo)?;
        let mut out: Vec<String> = Vec::new();
        loop {
            let page = match self
                .distribution
                .list_tags(&repo, Some(1000), out.last().map(String::as_str))
                .await
            {
                Ok(p) => p,
                Err(e) if local_not_found(&e) => return Ok(out),
                Err(e) => return Err(e.into()),
            };
            out.extend(page.items);
            if !page.more || out.len() >= MAX_LISTING {
                return Ok(out);
            }
        }
    }

    async fn repositories(&self) -> CopyResult<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        loop {
            let page = self
                .distribution
                .catalog(Some(1000), out.last().map(String::as_str))
                .await?;
            out.extend(page.items);
            if !page.more || out.len() >= MAX_LISTING {
                return Ok(out);
            }
        }
    }

    async fn referrers(&self, repo: &str, d: &str) -> CopyResult<Vec<Descriptor>> {
        let found = self
            .distribution
            .referrers(&repo_name(repo)?, &digest(d)?, None)
            .await?;
        Ok(found
            .into_iter()
            .map(|r| {
                let mut desc = Descriptor::new(r.media_type, r.size, r.digest.to_string());
                desc.artifact_type = r.artifact_type;
                desc.annotations = r.annotations.and_then(|a| serde_json::from_value(a).ok());
                desc
            })
            .collect())
    }

    /// This registry indexes a manifest's `subject` when it is put.
    async fn index_referrer(&self, _: &str, _: &str, _: &Descriptor) -> CopyResult<()> {
        Ok(())
    }

    async fn prepare(&self, repo: &str) -> CopyResult<Option<String>> {
        let project = crate::auth::project_of(repo);
        if self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(project)
        {
            return Ok(None);
        }
        let created = self.projects.ensure(project).await?;
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(project.to_string());
        Ok(created.map(|_| format!("project {project} did not exist here: created it (private)")))
    }
}

/// A remote registry endpoint, through wharf-oci's client.
pub struct RemoteSide {
    pub endpoint: Endpoint,
    pub client: wharf_oci::Client,
    /// Projects known to exist there (created or found by this run).
    projects: Mutex<HashSet<String>>,
    /// Upload sessions of this run not yet closed, by (repository, digest): where a
    /// retried task resumes a blob that a failure cut short.
    uploads: Mutex<HashMap<(String, String), wharf_oci::UploadSession>>,
    /// Upload sessions that a declined mount opened, holding nothing yet, by
    /// (repository, digest): the upload of that blob goes into it instead of opening
    /// another, so a registry that chooses not to mount is left no stray session.
    declined: Mutex<HashMap<(String, String), wharf_oci::UploadSession>>,
}

impl RemoteSide {
    pub fn new(endpoint: Endpoint) -> Self {
        RemoteSide {
            client: endpoint.client(),
            endpoint,
            projects: Mutex::new(HashSet::new()),
            uploads: Mutex::new(HashMap::new()),
            declined: Mutex::new(HashMap::new()),
        }
    }

    fn uploads(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), wharf_oci::UploadSession>> {
        self.uploads.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reference(&self, repo: &str, r: &str) -> CopyResult<wharf_oci::Reference> {
        let sep = if r.contains(':') { '@' } else { ':' };
        let text = format!("{}/{repo}{sep}{r}", self.endpoint.host);
        wharf_oci::Client::parse_reference(&text).map_err(|e| self.err(e))
    }

    /// `POST /api/v2.0/projects` on a Harbor-type endpoint: created, or there already.
    async fn create_project(&self, project: &str) -> CopyResult<()> {
        let fail = |why: String| {
            CopyError::Content(format!(
                "creating project {project} at {}: {why}",
                self.endpoint.url
            ))
        };
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
        for pem in &self.endpoint.options.ca_certs_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| fail(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().map_err(|e| fail(e.to_string()))?;
        let mut request = client
            .post(format!("{}/api/v2.0/projects", self.endpoint.url))
            .json(&serde_json::json!({"project_name": project, "metadata": {"public": "false"}}));
        if let (Some(u), Some(p)) = (
            &self.endpoint.options.username,
            &self.endpoint.options.password,
        ) {
            request = request.basic_auth(u, Some(p));
        }
        let response = request.send().await.map_err(|e| CopyError::Remote {
            side: self.endpoint.url.clone(),
            source: wharf_oci::Error::Io {
                what: "creating a project".into(),
                source: std::io::Error::other(e),
            },
        })?;
        match response.status().as_u16() {
            200..=299 | 409 => Ok(()),
            status => Err(fail(format!("the registry answered {status}"))),
        }
    }

    fn err(&self, source: wharf_oci::Error) -> CopyError {
        CopyError::Remote {
            side: self.endpoint.url.clone(),
            source,
        }
    }
}

#[async_trait::async_trait]
impl Side for RemoteSide {
    fn display(&self, repository: &str) -> String {
        self.endpoint.repository(repository)
    }

    async fn manifest(&self, repo: &str, r: &str) -> CopyResult<Option<Fetched>> {
        let found = self
            .client
            .get_manifest_opt(&self.reference(repo, r)?)
            .await
            .map_err(|e| self.err(e))?;
        Ok(found.map(|(body, desc)| Fetched {
            body: Bytes::from(body),
            media_type: desc.media_type,
            digest: desc.digest,
        }))
    }

    async fn manifest_digest(&self, repo: &str, r: &str) -> CopyResult<Option<String>> {
        self.client
            .manifest_digest(&self.reference(repo, r)?)
            .await
            .map_err(|e| self.err(e))
    }

    async fn blob(&self, repo: &str, d: &str) -> CopyResult<ByteStream> {
        self.client
            .blob_stream(&self.reference(repo, "latest")?, d)
            .await
            .map_err(|e| self.err(e))
    }

    async fn has_blob(&self, repo: &str, d: &str) -> CopyResult<bool> {
        self.client
            .has_blob(&self.reference(repo, "latest")?, d)
            .await
            .map_err(|e| self.err(e))
    }

    async fn mount(&self, repo: &str, from: &str, d: &str) -> CopyResult<bool> {
        let outcome = self
            .client
            .mount_blob(
                &self.reference(repo, "latest")?,
                &self.reference(from, "latest")?,
                d,
            )
            .await;
        match outcome {
            // The blob is uploaded instead; a fault that stops that too is reported there.
            Err(e) => {
                tracing::debug!(error = %e, "mount request failed; uploading instead");
                Ok(false)
            }
            Ok(wharf_oci::Mount::Mounted) => Ok(true),
            Ok(wharf_oci::Mount::Declined(session)) => {
                self.declined
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert((repo.to_string(), d.to_string()), session);
                Ok(false)
            }
        }
    }

    async fn upload_offset(&self, repo: &str, d: &str) -> CopyResult<u64> {
        let key = (repo.to_string(), d.to_string());
        let Some(session) = self.uploads().get(&key).cloned() else {
            return Ok(0);
        };
        let status = self
            .client
            .upload_status(&self.reference(repo, "latest")?, &session.location)
            .await
            .map_err(|e| self.err(e))?;
        match status {
            Some(now) if now.offset > 0 => {
                let offset = now.offset;
                self.uploads().insert(key, now);
                Ok(offset)
            }
            // Gone, or empty: a new session starts from byte 0.
            _ => {
                self.uploads().remove(&key);
                Ok(0)
            }
        }
    }

    /// A chunked upload whose session is remembered after every chunk, so that a
    /// retry resumes it ([`upload_offset`](Side::upload_offset)).
    async fn put_blob(
        &self,
        repo: &str,
        d: &str,
        size: u64,
        offset: u64,
        stream: ByteStream,
    ) -> CopyResult<()> {
        let r = self.reference(repo, "latest")?;
        let key = (repo.to_string(), d.to_string());
        let known = self.uploads().get(&key).cloned();
        let mut session = match known {
            Some(s) if s.offset == offset && offset > 0 => s,
            _ if offset > 0 => {
                return Err(self.err(wharf_oci::Error::Io {
                    what: format!("resuming blob {d}"),
                    source: std::io::Error::other(format!(
                        "no upload session holds its first {offset} bytes"
                    )),
                }));
            }
            _ => {
                let declined = self
                    .declined
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
                let s = match declined {
                    Some(s) => s,
                    None => self.client.open_upload(&r).await.map_err(|e| self.err(e))?,
                };
                self.uploads().insert(key.clone(), s.clone());
                s
            }
        };
        let progress = |s: &wharf_oci::UploadSession| {
            self.uploads().insert(key.clone(), s.clone());
        };
        self.client
            .upload_from(&r, &mut session, stream, size, d, &progress)
            .await
            .map_err(|e| self.err(e))?;
        self.uploads().remove(&key);
        Ok(())
    }

    async fn put_manifest(
        &self,
        repo: &str,
        r: &str,
        media_type: &str,
        body: Bytes,
    ) -> CopyResult<()> {
        self.client
            .put_manifest(&self.reference(repo, r)?, body.to_vec(), media_type)
            .await
            .map(drop)
            .map_err(|e| self.err(e))
    }

    async fn delete(&self, repo: &str, r: &str) -> CopyResult<bool> {
        match self.client.delete_manifest(&self.reference(repo, r)?).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn delete_tag(&self, repo: &str, tag: &str) -> CopyResult<Option<bool>> {
        match self
            .client
            .delete_manifest(&self.reference(repo, tag)?)
            .await
        {
            Ok(()) => Ok(Some(true)),
            Err(e) if e.is_not_found() => Ok(Some(false)),
            Err(e) if e.is_unsupported() => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn tags(&self, repo: &str) -> CopyResult<Vec<String>> {
        match self
            .client
            .all_tags(&self.reference(repo, "latest")?, MAX_LISTING)
            .await
        {
            Ok(t) => Ok(t),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn repositories(&self) -> CopyResult<Vec<String>> {
        self.client
            .catalog(&self.endpoint.host, MAX_LISTING)
            .await
            .map_err(|e| self.err(e))
    }

    async fn referrers(&self, repo: &str, d: &str) -> CopyResult<Vec<Descriptor>> {
        match self.client.referrers(&self.reference(repo, d)?, None).await {
            Ok(r) => Ok(r),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn prepare(&self, repo: &str) -> CopyResult<Option<String>> {
        if self.endpoint.kind != super::registries::RegistryType::Harbor {
            return Ok(None);
        }
        let project = repo.split('/').next().unwrap_or(repo);
        let known = self
            .projects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(project);
        if !known {
            self.create_project(project).await?;
            self.projects
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(project.to_string());
        }
        Ok(None)
    }

    async fn index_referrer(&self, repo: &str, subject: &str, desc: &Descriptor) -> CopyResult<()> {
        self.client
            .index_referrer(&self.reference(repo, subject)?, desc)
            .await
            .map(drop)
            .map_err(|e| self.err(e))
    }
}

/// Whether a tag is one of the accessory tags (cosign's, the referrers tag schema's):
/// they travel with their artifact, never as artifacts of their own.
pub fn is_accessory_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    let hex = rest.split('.').next().unwrap_or_default();
    hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && (rest.len() == 64 || COSIGN_SUFFIXES.iter().any(|s| &rest[64..] == *s))
}

/// The subject digest of a cosign `.sig`/`.att`/`.sbom` tag.
pub fn cosign_subject(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("sha256-")?;
    let (hex, suffix) = rest.split_at_checked(64)?;
    (COSIGN_SUFFIXES.contains(&suffix) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{hex}"))
}

/// How one tag's copy ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Copied,
    /// Nothing sent: why.
    Skipped(String),
}

/// Where this run placed blobs at the destination, for mounts: digest → the
/// repository that holds it, behind a lock per digest that a task holds while it
/// uploads that blob. Tasks run side by side; one that needs a blob another is
/// sending waits for that upload and mounts the blob instead of sending it again.
pub type Placed = Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<String>>>>>;

/// One task's copy: the two sides, the settings, and what it did.
pub struct Copier<'a> {
    pub src: &'a dyn Side,
    pub dst: &'a dyn Side,
    /// Bytes per second; `None`: unlimited.
    pub rate: Option<u64>,
    pub override_tags: bool,
    pub placed: &'a Placed,
    sent: Arc<AtomicU64>,
    log: Mutex<Vec<String>>,
}

impl<'a> Copier<'a> {
    pub fn new(
        src: &'a dyn Side,
        dst: &'a dyn Side,
        rate: Option<u64>,
        override_tags: bool,
        placed: &'a Placed,
    ) -> Self {
        Copier {
            src,
            dst,
            rate,
            override_tags,
            placed,
            sent: Arc::new(AtomicU64::new(0)),
            log: Mutex::new(Vec::new()),
        }
    }

    /// Bytes sent to the destination so far.
    pub fn bytes(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The log lines so far.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn note(&self, line: String) {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }

    /// Copies `src_repo:tag` to `dst_repo:tag` with its accessories.
    pub async fn copy_tag(&self, src_repo: &str, dst_repo: &str, tag: &str) -> CopyResult<Outcome> {
        let Some(top) = self.src.manifest(src_repo, tag).await? else {
            return Err(CopyError::Content(format!(
                "{} no longer exists at the source",
                self.src.display(&format!("{src_repo}:{tag}"))
            )));
        };
        if let Some(done) = self.dst.prepare(dst_repo).await? {
            self.note(done);
        }
        let existing = self.dst.manifest_digest(dst_repo, tag).await?;
        let outcome = match existing {
            Some(d) if d == top.digest => {
                self.note(format!("{dst_repo}:{tag} is already {d}: not sent"));
                Outcome::Skipped(format!("the destination tag is already {d}"))
            }
            Some(d) if !self.override_tags => {
                self.note(format!(
                    "{dst_repo}:{tag} names {d}, not {}: left alone (override is off)",
                    top.digest
                ));
                return Ok(Outcome::Skipped(format!(
                    "the destination tag names {d} and override is off"
                )));
            }
            _ => {
                self.copy_manifest(src_repo, dst_repo, top.clone(), tag)
                    .await?;
                Outcome::Copied
            }
        };
        let mut seen = HashSet::new();
        self.copy_accessories(src_repo, dst_repo, &top.digest, 0, &mut seen)
            .await?;
        Ok(outcome)
    }

    /// Replicates a delete of `dst_repo:reference` (a tag or a digest). A destination
    /// that cannot delete tags (Distribution 2.8) gets what Harbor does there: the
    /// manifest the tag names is deleted by digest, but only when no other tag there
    /// still names it (deleting it would take those tags too); the log says which.
    pub async fn delete(&self, dst_repo: &str, reference: &str) -> CopyResult<Outcome> {
        let absent = || Outcome::Skipped("not at the destination".into());
        if reference.contains(':') {
            return Ok(match self.dst.delete(dst_repo, reference).await? {
                true => {
                    self.note(format!("{dst_repo}@{reference}: deleted"));
                    Outcome::Copied
                }
                false => absent(),
            });
        }
        match self.dst.delete_tag(dst_repo, reference).await? {
            Some(true) => {
                self.note(format!("{dst_repo}:{reference}: tag deleted"));
                return Ok(Outcome::Copied);
            }
            Some(false) => return Ok(absent()),
            None => {}
        }
        let Some(digest) = self.dst.manifest_digest(dst_repo, reference).await? else {
            return Ok(absent());
        };
        let mut others = Vec::new();
        for tag in self.dst.tags(dst_repo).await? {
            if tag == reference || is_accessory_tag(&tag) {
                continue;
            }
            if self.dst.manifest_digest(dst_repo, &tag).await?.as_deref() == Some(&digest) {
                others.push(tag);
            }
        }
        if !others.is_empty() {
            self.note(format!(
                "{dst_repo}:{reference}: the destination cannot delete a tag alone, and {digest} is still named by {}: left it",
                others.join(", ")
            ));
            return Ok(Outcome::Skipped(format!(
                "the destination cannot delete tags and {digest} is still tagged {}",
                others.join(", ")
            )));
        }
        let deleted = self.dst.delete(dst_repo, &digest).await?;
        self.note(format!(
            "{dst_repo}:{reference}: the destination cannot delete a tag alone; no other tag names {digest}, so its manifest was deleted by digest"
        ));
        Ok(if deleted { Outcome::Copied } else { absent() })
    }

    /// Copies the manifest `m` (and what it references) and puts it under `reference`.
    async fn copy_manifest(
        &self,
        src_repo: &str,
        dst_repo: &str,
        m: Fetched,
        reference: &str,
    ) -> CopyResult<()> {
        let doc: Value = serde_json::from_slice(&m.body)
            .map_err(|e| CopyError::Content(format!("manifest {}: {e}", m.digest)))?;
        let descriptors = |key: &str| -> Vec<(String, u64)> {
            doc.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|d| {
                            Some((
                                d.get("digest")?.as_str()?.to_string(),
                                d.get("size")?.as_u64()?,
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        for (child, _) in descriptors("manifests") {
            if self.dst.manifest_digest(dst_repo, &child).await?.as_deref() == Some(&child) {
                continue;
            }
            let Some(fetched) = self.src.manifest(src_repo, &child).await? else {
                return Err(CopyError::Content(format!(
                    "index {} lists {child}, which the source does not have",
                    m.digest
                )));
            };
            Box::pin(self.copy_manifest(src_repo, dst_repo, fetched, &child)).await?;
        }
        let mut blobs = descriptors("layers");
        blobs.extend(descriptors("blobs"));
        if let Some(config) = doc.get("config")
            && let (Some(d), Some(size)) = (
                config.get("digest").and_then(Value::as_str),
                config.get("size").and_then(Value::as_u64),
            )
        {
            blobs.insert(0, (d.to_string(), size));
        }
        for (blob, size) in blobs {
            self.copy_blob(src_repo, dst_repo, &blob, size).await?;
        }
        self.dst
            .put_manifest(dst_repo, reference, &m.media_type, m.body.clone())
            .await?;
        self.sent.fetch_add(m.body.len() as u64, Ordering::Relaxed);
        self.note(format!(
            "{dst_repo}:{reference} <- {} ({})",
            m.digest, m.media_type
        ));
        Ok(())
    }

    async fn copy_blob(
        &self,
        src_repo: &str,
        dst_repo: &str,
        d: &str,
        size: u64,
    ) -> CopyResult<()> {
        if self.dst.has_blob(dst_repo, d).await? {
            return Ok(());
        }
        let slot = self
            .placed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(d.to_string())
            .or_default()
            .clone();
        let mut placed = slot.lock().await;
        if let Some(from) = placed.as_deref() {
            if from == dst_repo {
                return Ok(());
            }
            if self.dst.mount(dst_repo, from, d).await? {
                self.note(format!("{d}: mounted from {from}"));
                return Ok(());
            }
        }
        // A cut upload of this blob (an earlier attempt) continues where it stopped.
        let offset = self.dst.upload_offset(dst_repo, d).await?.min(size);
        let stream = self.src.blob_from(src_repo, d, offset).await?;
        let stream = metered(stream, self.rate, self.sent.clone());
        self.dst.put_blob(dst_repo, d, size, offset, stream).await?;
        *placed = Some(dst_repo.to_string());
        if offset > 0 {
            self.note(format!(
                "{d}: resumed at byte {offset} of {size}; sent {} bytes",
                size - offset
            ));
        } else {
            self.note(format!("{d}: sent ({size} bytes)"));
        }
        Ok(())
    }

    /// cosign's tags of `subject` and its referrers, recursively.
    async fn copy_accessories(
        &self,
        src_repo: &str,
        dst_repo: &str,
        subject: &str,
        depth: usize,
        seen: &mut HashSet<String>,
    ) -> CopyResult<()> {
        if depth > MAX_REFERRER_DEPTH || !seen.insert(subject.to_string()) {
            return Ok(());
        }
        for suffix in COSIGN_SUFFIXES {
            let tag = wharf_oci::referrers::tag_with_suffix(subject, suffix)
                .map_err(|e| CopyError::Content(e.to_string()))?;
            let Some(src_digest) = self.src.manifest_digest(src_repo, &tag).await? else {
                continue;
            };
            if self.dst.manifest_digest(dst_repo, &tag).await? == Some(src_digest.clone()) {
                continue;
            }
            if let Some(m) = self.src.manifest(src_repo, &tag).await? {
                self.copy_manifest(src_repo, dst_repo, m, &tag).await?;
            }
        }
        for desc in self.src.referrers(src_repo, subject).await? {
            let present = self
                .dst
                .manifest_digest(dst_repo, &desc.digest)
                .await?
                .as_deref()
                == Some(&desc.digest);
            if !present {
                let Some(m) = self.src.manifest(src_repo, &desc.digest).await? else {
                    continue;
                };
                self.copy_manifest(src_repo, dst_repo, m, &desc.digest)
                    .await?;
            }
            self.dst.index_referrer(dst_repo, subject, &desc).await?;
            Box::pin(self.copy_accessories(src_repo, dst_repo, &desc.digest, depth + 1, seen))
                .await?;
        }
        Ok(())
    }
}

/// `stream` without its first `n` bytes.
fn skip_bytes(stream: ByteStream, n: u64) -> ByteStream {
    if n == 0 {
        return stream;
    }
    Box::pin(futures_util::stream::unfold(
        (stream, n),
        |(mut stream, mut left)| async move {
            loop {
                let mut chunk = match stream.next().await? {
                    Ok(c) => c,
                    Err(e) => return Some((Err(e), (stream, left))),
                };
                if left == 0 {
                    return Some((Ok(chunk), (stream, 0)));
                }
                if (chunk.len() as u64) <= left {
                    left -= chunk.len() as u64;
                    continue;
                }
                let rest = chunk.split_off(left as usize);
                return Some((Ok(rest), (stream, 0)));
            }
        },
    ))
}

/// Counts the bytes of `stream` into `sent` and, with a rate, holds each chunk back
/// until the bytes so far fit the rate.
fn metered(stream: ByteStream, rate: Option<u64>, sent: Arc<AtomicU64>) -> ByteStream {
    let start = Instant::now();
    Box::pin(futures_util::stream::unfold(
        (stream, 0u64),
        move |(mut stream, so_far)| {
            let sent = sent.clone();
            async move {
                let item = stream.next().await?;
                let n = item.as_ref().map(|b| b.len() as u64).unwrap_or(0);
                let so_far = so_far + n;
                if let Some(rate) = rate.filter(|r| *r > 0) {
                    let due = Duration::from_secs_f64(so_far as f64 / rate as f64);
                    let elapsed = start.elapsed();
                    if due > elapsed {
                        tokio::time::sleep(due - elapsed).await;
                    }
                }
                sent.fetch_add(n, Ordering::Relaxed);
                Some((item, (stream, so_far)))
            }
        },
    ))
}

/// Harbor's destination repository name: with no `dest_namespace` the source name;
/// otherwise the namespace, then the source name without its first `replace_count`
/// components (-1: only its last component), as Harbor's `replaceNamespace` does. An
/// error when the name has fewer components than are to be replaced.
pub fn destination_repository(
    repository: &str,
    dest_namespace: &str,
    replace_count: i64,
) -> Result<String, String> {
    if dest_namespace.is_empty() {
        return Ok(repository.to_string());
    }
    let parts: Vec<&str> = repository.split('/').collect();
    match replace_count {
        n if n < 0 => Ok(format!("{dest_namespace}/{}", parts[parts.len() - 1])),
        0 => Ok(format!("{dest_namespace}/{repository}")),
        n if n as usize > parts.len() - 1 => Err(format!(
            "the source repository {repository:?} has only {} path components before its last, fewer than dest_namespace_replace_count {n}",
            parts.len() - 1
        )),
        n => Ok(format!(
            "{dest_namespace}/{}",
            parts[n as usize..].join("/")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Harbor's flattening levels (its UI: "Flatten 1 level", "Flatten All Levels").
    #[test]
    fn destination_names_follow_harbor() {
        let d = destination_repository;
        assert_eq!(d("a/b/c", "", 1).unwrap(), "a/b/c");
        assert_eq!(d("a/b/c", "ns", 0).unwrap(), "ns/a/b/c");
        assert_eq!(d("a/b/c", "ns", 1).unwrap(), "ns/b/c");
        assert_eq!(d("a/b/c", "ns", 2).unwrap(), "ns/c");
        assert_eq!(d("a/b/c", "ns", -1).unwrap(), "ns/c");
        assert!(d("a/b/c", "ns", 3).unwrap_err().contains("only 2"));
    }

    #[test]
    fn accessory_tags_are_told_apart() {
        let hex = "ab".repeat(32);
        assert!(is_accessory_tag(&format!("sha256-{hex}")));
        assert!(is_accessory_tag(&format!("sha256-{hex}.sig")));
        assert!(is_accessory_tag(&format!("sha256-{hex}.att")));
        assert!(is_accessory_tag(&format!("sha256-{hex}.sbom")));
        assert!(!is_accessory_tag(&format!("sha256-{hex}.other")));
        assert!(!is_accessory_tag("sha256-abc"));
        assert!(!is_accessory_tag("v1"));
        assert_eq!(
            cosign_subject(&format!("sha256-{hex}.sig")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(cosign_subject(&format!("sha256-{hex}")), None);
        assert_eq!(cosign_subject("v1.sig"), None);
    }

    /// A 4 KiB/s limit holds 12 KiB back for at least 2 s after the first chunk.
    #[tokio::test(start_paused = true)]
    async fn speed_throttles_the_stream() {
        let chunks: Vec<std::io::Result<Bytes>> =
            (0..3).map(|_| Ok(Bytes::from(vec![0u8; 4096]))).collect();
        let sent = Arc::new(AtomicU64::new(0));
        let start = tokio::time::Instant::now();
        let s = metered(
            Box::pin(futures_util::stream::iter(chunks)),
            Some(4096),
            sent.clone(),
        );
        let n: usize = s
            .map(|c| c.unwrap().len())
            .collect::<Vec<_>>()
            .await
            .iter()
            .sum();
        assert_eq!(n, 12288);
        assert_eq!(sent.load(Ordering::Relaxed), 12288);
        assert!(
            start.elapsed() >= Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
}
