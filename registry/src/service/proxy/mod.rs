//! Proxy cache projects (Harbor: a project created with `registry_id`). Pulls of
//! `<project>/<upstream repository>` that the project does not hold are fetched from
//! the registry endpoint the project fronts, streamed to the client while they are
//! stored, and served from the project afterwards; pushes are refused.
//!
//! - this file: which projects are caches (and of what), the guard refusing pushes;
//! - [`fetch`]: the pull-through Distribution asks on reads (manifests, blobs, tag
//!   freshness, stale serving when the upstream is down).
//!
//! Cached content is written through Distribution's ordinary write path (digests
//! verified, quotas asked, `ArtifactPushed` published so `auto_scan` scans it), inside
//! [`fill`], which is how the guard tells the cache's own writes from a client's push.

mod fetch;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::metadata::ProxyStore;
use crate::names::RepoName;
use crate::service::access::Access;
use crate::service::distribution::{Distribution, ManifestWrite, WriteGuard};
use crate::service::metrics::Metrics;
use crate::service::replication::{Endpoint, Registries, RegistryType};

tokio::task_local! {
    /// Set while the cache itself stores what it fetched.
    static FILLING: ();
}

/// Runs `f` as the cache's own write: the push guard lets it through.
async fn fill<F: std::future::Future>(f: F) -> F::Output {
    FILLING.scope((), f).await
}

fn filling() -> bool {
    FILLING.try_with(|_| ()).is_ok()
}

/// An endpoint with its client (and the tokens the client holds), shared by pulls.
type UpstreamClient = Arc<(Endpoint, wharf_oci::Client)>;

/// How the cache treats its upstreams.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// How long a cached tag is served without asking the upstream whether it moved.
    /// Harbor asks on every pull; a short window instead spares the upstream (and its
    /// rate limit) the HEAD of every pull of a hot tag, for a staleness bounded by it.
    /// Zero: ask on every pull, as Harbor does.
    pub tag_ttl: Duration,
    /// How long one upstream request (a HEAD, a manifest, a blob's first byte) may
    /// take before the upstream counts as down and cached content is served.
    pub upstream_timeout: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            tag_ttl: Duration::from_secs(300),
            upstream_timeout: Duration::from_secs(15),
        }
    }
}

/// How long "is project X a cache, of which endpoint" is remembered: the pull path
/// asks on every request.
const PROJECT_CACHE: Duration = Duration::from_secs(2);
/// How long an upstream client (and the tokens it holds) is reused.
const CLIENT_CACHE: Duration = Duration::from_secs(60);

/// The proxy cache service.
pub struct ProxyCache {
    /// Itself, for the background work a pull starts.
    me: Weak<ProxyCache>,
    store: Arc<dyn ProxyStore>,
    access: Arc<Access>,
    registries: Arc<Registries>,
    distribution: Arc<Distribution>,
    options: ProxyOptions,
    metrics: Arc<Metrics>,
    /// Project name → (when looked up, the endpoint it caches).
    projects: Mutex<HashMap<String, (Instant, Option<i64>)>>,
    /// Endpoint id → (when made, endpoint, client).
    clients: Mutex<HashMap<i64, (Instant, UpstreamClient)>>,
    /// (repository, tag) → when the upstream last confirmed the cached digest.
    confirmed: Mutex<HashMap<(String, String), Instant>>,
    /// Blobs being stored now: a concurrent pull of one streams it without storing.
    storing: Arc<Mutex<HashSet<Digest>>>,
    /// Manifests whose content is being completed in the background.
    completing: Arc<Mutex<HashSet<(String, Digest)>>>,
}

impl ProxyCache {
    pub fn new(
        store: Arc<dyn ProxyStore>,
        access: Arc<Access>,
        registries: Arc<Registries>,
        distribution: Arc<Distribution>,
        options: ProxyOptions,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| ProxyCache {
            me: me.clone(),
            store,
            access,
            registries,
            distribution,
            options,
            metrics,
            projects: Default::default(),
            clients: Default::default(),
            confirmed: Default::default(),
            storing: Default::default(),
            completing: Default::default(),
        })
    }

    /// Makes a new project a cache of endpoint `registry_id` (Harbor's `registry_id`
    /// on project creation). Only system administrators may, as in Harbor: the
    /// project pulls with the endpoint's credentials.
    pub async fn check_registry(&self, who: &Principal, registry_id: i64) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageRegistries)
            .map_err(|_| {
                RegistryError::forbidden("only system administrators create proxy cache projects")
            })?;
        self.registries.endpoint(registry_id).await.map_err(|_| {
            RegistryError::bad_request(format!("registry {registry_id} does not exist"))
        })?;
        Ok(())
    }

    /// Records that `project_id` caches `registry_id` (checked by [`Self::check_registry`]).
    pub async fn set_registry(&self, project_id: i64, registry_id: i64) -> Result<()> {
        self.store
            .set_proxy_registry(project_id, registry_id)
            .await?;
        self.projects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }

    /// Every proxy cache project: project id → endpoint id (for the API's `registry_id`).
    pub async fn registry_ids(&self) -> Result<HashMap<i64, i64>> {
        Ok(self.store.proxy_projects().await?.into_iter().collect())
    }

    /// The endpoint the project of `repo` caches, if it is a cache.
    async fn registry_of(&self, repo: &RepoName) -> Result<Option<i64>> {
        let project = project_of(repo);
        if let Some((at, id)) = self
            .projects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(project)
            && at.elapsed() < PROJECT_CACHE
        {
            return Ok(*id);
        }
        let id = match self.access.project(project).await {
            Ok(p) => self.store.proxy_registry(p.id).await?,
            Err(RegistryError::Api { .. }) => None,
            Err(e) => return Err(e),
        };
        let mut map = self.projects.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(project.to_string(), (Instant::now(), id));
        Ok(id)
    }

    /// The upstream of `repo`, if its project is a cache: endpoint, client and the
    /// repository's name there.
    async fn upstream(&self, repo: &RepoName) -> Result<Option<fetch::Upstream>> {
        let Some(registry_id) = self.registry_of(repo).await? else {
            return Ok(None);
        };
        let Some(path) = repo.as_str().split_once('/').map(|(_, rest)| rest) else {
            return Ok(None);
        };
        let cached = self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&registry_id)
            .filter(|(at, _)| at.elapsed() < CLIENT_CACHE)
            .map(|(_, c)| c.clone());
        let client = match cached {
            Some(c) => c,
            None => {
                let endpoint = self.registries.endpoint(registry_id).await.map_err(|e| {
                    RegistryError::new(
                        crate::error::ErrorCode::Unavailable,
                        format!("the upstream registry of proxy cache {repo} is not usable: {e}"),
                    )
                })?;
                let client = endpoint.client();
                let c = Arc::new((endpoint, client));
                self.clients
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(registry_id, (Instant::now(), c.clone()));
                c
            }
        };
        let repository = upstream_repository(&client.0, path);
        Ok(Some(fetch::Upstream { client, repository }))
    }

    fn count(&self, outcome: &str) {
        Metrics::outcome(&self.metrics.proxy_cache, outcome);
    }

    async fn refuse_writes(&self, repo: &RepoName) -> Result<()> {
        if filling() || self.registry_of(repo).await?.is_none() {
            return Ok(());
        }
        Err(RegistryError::WriteDenied(format!(
            "can not push artifact to a proxy project: {} is a proxy cache; push to the registry it caches",
            project_of(repo)
        )))
    }
}

/// The project part of a repository name.
fn project_of(repo: &RepoName) -> &str {
    repo.as_str().split('/').next().unwrap_or_default()
}

/// The repository's name at the upstream. Docker Hub keeps official images under
/// `library/`, which clients add when the name has one segment; so does the cache
/// (as Harbor does for Docker Hub endpoints), and no other registry gets it.
fn upstream_repository(endpoint: &Endpoint, path: &str) -> String {
    let docker_hub = matches!(
        endpoint.host.as_str(),
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) && endpoint.kind != RegistryType::Harbor;
    if docker_hub && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    }
}

/// Pushes into a proxy cache project are refused (OCI `DENIED`, 403); the cache's
/// own writes (inside [`fill`]) pass.
#[async_trait::async_trait]
impl WriteGuard for ProxyCache {
    async fn before_upload(&self, repo: &RepoName) -> Result<()> {
        self.refuse_writes(repo).await
    }
    async fn before_blob_commit(&self, repo: &RepoName, _d: &Digest, _size: u64) -> Result<()> {
        self.refuse_writes(repo).await
    }
    async fn before_manifest_put(&self, repo: &RepoName, _m: &ManifestWrite<'_>) -> Result<()> {
        self.refuse_writes(repo).await
    }
    async fn before_tag_add(&self, repo: &RepoName, _tag: &str, _d: &Digest) -> Result<()> {
        self.refuse_writes(repo).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(host: &str, kind: RegistryType) -> Endpoint {
        Endpoint {
            id: 1,
            name: "up".into(),
            kind,
            url: format!("https://{host}"),
            host: host.into(),
            options: Default::default(),
        }
    }

    /// Only Docker Hub gets `library/` in front of one-segment names.
    #[test]
    fn docker_hub_official_images_get_library() {
        let hub = endpoint("registry-1.docker.io", RegistryType::DockerRegistry);
        assert_eq!(upstream_repository(&hub, "alpine"), "library/alpine");
        assert_eq!(upstream_repository(&hub, "bitnami/redis"), "bitnami/redis");
        let other = endpoint("127.0.0.1:5000", RegistryType::DockerRegistry);
        assert_eq!(upstream_repository(&other, "alpine"), "alpine");
    }
}
