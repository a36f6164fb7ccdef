//! [`ProxyStore`] on PostgreSQL: `sqlite_proxy.rs`'s twin, in the same order.

use async_trait::async_trait;

use super::proxy::{CachedIndex, ProxyStore};
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

    async fn set_tag_checked(
        &self,
        project_id: i64,
        repository: &str,
        tag: &str,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO proxy_tag_checks (project_id, repository, tag, checked_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (repository, tag) DO UPDATE SET checked_at = greatest(proxy_tag_checks.checked_at, excluded.checked_at)",
        )
        .bind(project_id)
        .bind(repository)
        .bind(tag)
        .bind(at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn tag_checked_at(&self, repository: &str, tag: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT checked_at FROM proxy_tag_checks WHERE repository = $1 AND tag = $2",
        )
        .bind(repository)
        .bind(tag)
        .fetch_optional(&self.read)
        .await?)
    }

    async fn put_cached_index(
        &self,
        project_id: i64,
        repository: &str,
        index: &CachedIndex,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO proxy_cached_indexes (project_id, repository, reference, digest, media_type, body, fetched_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT(repository, reference) DO UPDATE SET digest = excluded.digest, \
             media_type = excluded.media_type, body = excluded.body, fetched_at = excluded.fetched_at",
        )
        .bind(project_id)
        .bind(repository)
        .bind(&index.reference)
        .bind(&index.digest)
        .bind(&index.media_type)
        .bind(&index.body)
        .bind(index.fetched_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn cached_index(&self, repository: &str, reference: &str) -> Result<Option<CachedIndex>> {
        let row: Option<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT reference, digest, media_type, body, fetched_at FROM proxy_cached_indexes \
             WHERE repository = $1 AND (reference = $2 OR digest = $2) \
             ORDER BY fetched_at DESC LIMIT 1",
        )
        .bind(repository)
        .bind(reference)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(
            |(reference, digest, media_type, body, fetched_at)| CachedIndex {
                reference,
                digest,
                media_type,
                body,
                fetched_at,
            },
        ))
    }

    async fn drop_cached_index(&self, repository: &str, digest: &str) -> Result<()> {
        sqlx::query("DELETE FROM proxy_cached_indexes WHERE repository = $1 AND digest = $2")
            .bind(repository)
            .bind(digest)
            .execute(&self.write)
            .await?;
        Ok(())
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
