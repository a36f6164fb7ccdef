//! What the registry keeps for proxy cache projects: which project fronts which
//! registry endpoint. The cached content itself is ordinary content of the project.

use async_trait::async_trait;

use super::Result;

#[async_trait]
pub trait ProxyStore: Send + Sync + 'static {
    /// Makes `project_id` a cache of endpoint `registry_id`.
    async fn set_proxy_registry(&self, project_id: i64, registry_id: i64) -> Result<()>;
    /// The endpoint a project caches, if it is a proxy cache.
    async fn proxy_registry(&self, project_id: i64) -> Result<Option<i64>>;
    /// Every proxy cache project with its endpoint: (project id, registry id), by project.
    async fn proxy_projects(&self) -> Result<Vec<(i64, i64)>>;
    /// The names of the projects caching endpoint `registry_id`, by name.
    async fn projects_caching(&self, registry_id: i64) -> Result<Vec<String>>;
    /// Records that the upstream confirmed `repository:tag` (of project `project_id`)
    /// at `at` (seconds since the epoch); a later time replaces an earlier one.
    async fn set_tag_checked(
        &self,
        project_id: i64,
        repository: &str,
        tag: &str,
        at: i64,
    ) -> Result<()>;
    /// When the upstream last confirmed `repository:tag`, if ever.
    async fn tag_checked_at(&self, repository: &str, tag: &str) -> Result<Option<i64>>;
    /// Keeps an index fetched for `repository` by `reference` (a tag or its digest)
    /// while not all of its platforms are cached; a later fetch replaces it.
    async fn put_cached_index(
        &self,
        project_id: i64,
        repository: &str,
        index: &CachedIndex,
    ) -> Result<()>;
    /// The index kept for `repository` under `reference`, asked by tag or by digest.
    async fn cached_index(&self, repository: &str, reference: &str) -> Result<Option<CachedIndex>>;
    /// Forgets the indexes kept for `repository` with this digest (it is now stored whole).
    async fn drop_cached_index(&self, repository: &str, digest: &str) -> Result<()>;
}

/// An index a proxy cache fetched but could not store as a manifest yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedIndex {
    /// The tag, or the digest, it was fetched by.
    pub reference: String,
    pub digest: String,
    pub media_type: String,
    /// The bytes the upstream served (an index is JSON: UTF-8).
    pub body: String,
    pub fetched_at: i64,
}
