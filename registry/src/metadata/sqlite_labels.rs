//! [`LabelStore`] on SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row as _;

use super::columns::Columns;
use super::identity::PageReq;
use super::labels::{AddLabel, Label, LabelFilter, LabelSpec, LabelStore};
use super::sqlite::{digest_list, paged, parse_digest};
use super::sqlite_identity::unless_taken;
use super::{Result, SqliteMetadata, now};
use crate::digest::Digest;
use crate::names::RepoName;

pub(super) fn label(r: &impl Columns) -> Result<Label> {
    Ok(Label {
        id: r.col("id")?,
        name: r.col("name")?,
        description: r.col("description")?,
        color: r.col("color")?,
        project_id: r.col("project_id")?,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

/// The listing's WHERE clause (a macro so that the queries stay literals).
macro_rules! filter {
    () => {
        "((?1 IS NULL AND project_id IS NULL) OR project_id = ?1) \
     AND (?2 IS NULL OR name = ?2) AND (?3 IS NULL OR instr(name, ?3) > 0)"
    };
}

#[async_trait]
impl LabelStore for SqliteMetadata {
    async fn create_label(&self, project_id: Option<i64>, spec: &LabelSpec) -> Result<Option<i64>> {
        let now = now();
        let done = sqlx::query(
            "INSERT INTO labels (name, description, color, project_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&spec.name)
        .bind(&spec.description)
        .bind(&spec.color)
        .bind(project_id)
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await;
        Ok(unless_taken(done)?.map(|d| d.last_insert_rowid()))
    }

    async fn label(&self, id: i64) -> Result<Option<Label>> {
        let row = sqlx::query("SELECT * FROM labels WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(label).transpose()
    }

    async fn list_labels(&self, filter: &LabelFilter, page: PageReq) -> Result<(Vec<Label>, i64)> {
        let rows = sqlx::query(paged(
            concat!("SELECT * FROM labels WHERE ", filter!(), " ORDER BY id"),
            page,
        ))
        .bind(filter.project_id)
        .bind(filter.name.as_deref())
        .bind(filter.name_contains.as_deref())
        .fetch_all(&self.read)
        .await?;
        let total: i64 =
            sqlx::query_scalar(concat!("SELECT count(*) FROM labels WHERE ", filter!()))
                .bind(filter.project_id)
                .bind(filter.name.as_deref())
                .bind(filter.name_contains.as_deref())
                .fetch_one(&self.read)
                .await?;
        Ok((rows.iter().map(label).collect::<Result<_>>()?, total))
    }

    async fn update_label(&self, id: i64, spec: &LabelSpec) -> Result<Option<bool>> {
        let done = sqlx::query(
            "UPDATE labels SET name = ?, description = ?, color = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&spec.name)
        .bind(&spec.description)
        .bind(&spec.color)
        .bind(now())
        .bind(id)
        .execute(&self.write)
        .await;
        Ok(unless_taken(done)?.map(|d| d.rows_affected() > 0))
    }

    async fn delete_label(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM labels WHERE id = ?")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_artifact_label(
        &self,
        repo: &RepoName,
        digest: &Digest,
        label_id: i64,
    ) -> Result<AddLabel> {
        let mut tx = self.write.begin().await?;
        let manifest: Option<i64> = sqlx::query_scalar(
            "SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id \
             WHERE r.name = ? AND m.digest = ?",
        )
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let label: Option<i64> = sqlx::query_scalar("SELECT id FROM labels WHERE id = ?")
            .bind(label_id)
            .fetch_optional(&mut *tx)
            .await?;
        let (Some(manifest), Some(_)) = (manifest, label) else {
            return Ok(AddLabel::NotFound);
        };
        let done = sqlx::query(
            "INSERT INTO artifact_labels (manifest_id, label_id, created_at) VALUES (?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(manifest)
        .bind(label_id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if done.rows_affected() > 0 {
            AddLabel::Added
        } else {
            AddLabel::AlreadyAdded
        })
    }

    async fn remove_artifact_label(
        &self,
        repo: &RepoName,
        digest: &Digest,
        label_id: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM artifact_labels WHERE label_id = ? AND manifest_id = \
             (SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id \
              WHERE r.name = ? AND m.digest = ?)",
        )
        .bind(label_id)
        .bind(repo.as_str())
        .bind(digest.to_string())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn artifact_labels(
        &self,
        repo: &RepoName,
        digests: &[Digest],
    ) -> Result<HashMap<Digest, Vec<Label>>> {
        let rows = sqlx::query(
            "SELECT m.digest AS digest, l.* FROM artifact_labels al \
             JOIN manifests m ON m.id = al.manifest_id \
             JOIN repositories r ON r.id = m.repository_id \
             JOIN labels l ON l.id = al.label_id \
             WHERE r.name = ? AND m.digest IN (SELECT value FROM json_each(?)) \
             ORDER BY l.id",
        )
        .bind(repo.as_str())
        .bind(digest_list(digests))
        .fetch_all(&self.read)
        .await?;
        let mut out: HashMap<Digest, Vec<Label>> = HashMap::new();
        for r in &rows {
            out.entry(parse_digest(r.try_get("digest")?)?)
                .or_default()
                .push(label(r)?);
        }
        Ok(out)
    }

    async fn labelled_artifacts(&self, repo: &RepoName, label_ids: &[i64]) -> Result<Vec<Digest>> {
        let ids = serde_json::to_string(label_ids).unwrap_or_default();
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT m.digest FROM artifact_labels al \
             JOIN manifests m ON m.id = al.manifest_id \
             JOIN repositories r ON r.id = m.repository_id \
             WHERE r.name = ? AND al.label_id IN (SELECT value FROM json_each(?)) \
             ORDER BY m.digest",
        )
        .bind(repo.as_str())
        .bind(ids)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|d| parse_digest(d)).collect()
    }
}
