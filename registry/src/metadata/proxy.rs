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
}
