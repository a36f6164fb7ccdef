//! [`ProxyStore`] on PostgreSQL: `sqlite_proxy.rs`'s twin, in the same order.

use async_trait::async_trait;

use super::proxy::ProxyStore;
use super::{PgMetadata, Result};

#[async_trait]
impl ProxyStore for PgMetadata {
    async fn set_proxy_registry(&self, project_id: i64, registry_id: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO proxy_projects (project_id, registry_id) VALUES ($1, $2) \
             ON CONFLICT(project_id) DO UPDATE SET registry_id = excluded.registry_id",
        )
        .bind(project_id)
        .bind(registry_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn proxy_registry(&self, project_id: i64) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT registry_id FROM proxy_projects WHERE project_id = $1")
                .bind(project_id)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn proxy_projects(&self) -> Result<Vec<(i64, i64)>> {
        Ok(
            sqlx::query_as(
                "SELECT project_id, registry_id FROM proxy_projects ORDER BY project_id",
            )
            .fetch_all(&self.read)
            .await?,
        )
    }

    async fn projects_caching(&self, registry_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT p.name FROM proxy_projects x JOIN projects p ON p.id = x.project_id \
             WHERE x.registry_id = $1 ORDER BY p.name",
        )
        .bind(registry_id)
        .fetch_all(&self.read)
        .await?)
    }
}
