//! [`TagRulesStore`] on PostgreSQL: `sqlite_tag_rules.rs`'s twin, in the same order.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use sqlx::Row;

use super::identity::PageReq;
use super::sqlite::{digest_list, paged, parse_digest};
use super::sqlite_tag_rules::{execution_row, quota_row, rule_row, task_row};
use super::tag_rules::{Execution, Quota, StoredRule, TagRulesStore, Task};
use super::{PgMetadata, Result, now};
use crate::digest::Digest;

/// The usage of each project in a JSON list of ids, by the rule in
/// [`TagRulesStore::usage`]: distinct manifest digests (their bytes) plus distinct
/// blob digests their manifests reference (their sizes), per project. Walks
/// `repositories_by_project`, the manifests' (repository, digest) key and
/// `manifest_references`' primary key: one aggregate for a whole page of
/// projects, no per-project or per-artifact query.
const USAGES: &str = "
WITH pm AS (
  SELECT r.project_id AS pid, m.id, m.digest, m.size FROM manifests m
  JOIN repositories r ON r.id = m.repository_id
  WHERE r.project_id IN (SELECT value::BIGINT FROM jsonb_array_elements_text($1::jsonb))
),
manifest_bytes AS (
  SELECT pid, sum(size) AS bytes
  FROM (SELECT pid, max(size) AS size FROM pm GROUP BY pid, digest) x GROUP BY pid
),
blob_bytes AS (
  SELECT x.pid, sum(b.size) AS bytes
  FROM (SELECT DISTINCT pm.pid, mr.digest FROM pm
        JOIN manifest_references mr ON mr.manifest_id = pm.id AND mr.kind = 'blob') x
  JOIN blobs b ON b.digest = x.digest GROUP BY x.pid
)
SELECT j.pid, (coalesce(mb.bytes, 0) + coalesce(bb.bytes, 0))::BIGINT AS used
FROM (SELECT value::BIGINT AS pid FROM jsonb_array_elements_text($1::jsonb)) j
LEFT JOIN manifest_bytes mb ON mb.pid = j.pid
LEFT JOIN blob_bytes bb ON bb.pid = j.pid";

impl PgMetadata {
    async fn usages(&self, project_ids: &[i64]) -> Result<HashMap<i64, u64>> {
        let ids = serde_json::to_string(project_ids).unwrap_or_default();
        let rows = sqlx::query(USAGES).bind(ids).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("pid")?,
                    r.try_get::<i64, _>("used")?.max(0) as u64,
                ))
            })
            .collect()
    }
}

/// A quota's columns (a macro so queries stay `&'static str` for sqlx).
macro_rules! quota_select {
    () => {
        "SELECT p.id, p.name, u.username AS owner_name, coalesce(q.hard, -1) AS hard,
        coalesce(q.created_at, p.created_at) AS created_at, coalesce(q.updated_at, p.created_at) AS updated_at
 FROM projects p LEFT JOIN project_quotas q ON q.project_id = p.id LEFT JOIN users u ON u.id = p.owner_id"
    };
}

#[async_trait]
impl TagRulesStore for PgMetadata {
    async fn immutable_rules(&self, project_id: i64) -> Result<Vec<StoredRule>> {
        let rows = sqlx::query(
            "SELECT id, project_id, body FROM immutable_rules WHERE project_id = $1 ORDER BY id",
        )
        .bind(project_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(rule_row).collect()
    }

    async fn create_immutable_rule(&self, project_id: i64, body: &str) -> Result<i64> {
        let now = now();
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO immutable_rules (project_id, body, created_at, updated_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(project_id)
        .bind(body)
        .bind(now)
        .bind(now)
        .fetch_one(&self.write)
        .await?;
        Ok(id)
    }

    async fn update_immutable_rule(&self, project_id: i64, id: i64, body: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE immutable_rules SET body = $1, updated_at = $2 WHERE id = $3 AND project_id = $4",
        )
        .bind(body)
        .bind(now())
        .bind(id)
        .bind(project_id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_immutable_rule(&self, project_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM immutable_rules WHERE id = $1 AND project_id = $2")
            .bind(id)
            .bind(project_id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_storage_limit(&self, project_id: i64, hard: i64) -> Result<()> {
        let now = now();
        sqlx::query(
            "INSERT INTO project_quotas (project_id, hard, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (project_id) DO UPDATE SET hard = excluded.hard, updated_at = excluded.updated_at",
        )
        .bind(project_id)
        .bind(hard)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn storage_limit(&self, project_id: i64) -> Result<i64> {
        let hard: Option<i64> =
            sqlx::query_scalar("SELECT hard FROM project_quotas WHERE project_id = $1")
                .bind(project_id)
                .fetch_optional(&self.read)
                .await?;
        Ok(hard.unwrap_or(-1))
    }

    async fn quota(&self, project_id: i64) -> Result<Option<Quota>> {
        let row = sqlx::query(concat!(quota_select!(), " WHERE p.id = $1"))
            .bind(project_id)
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut q = quota_row(&row)?;
        q.used = self.usage(project_id).await?;
        Ok(Some(q))
    }

    async fn quotas(&self, project_id: Option<i64>, page: PageReq) -> Result<(Vec<Quota>, i64)> {
        let rows = sqlx::query(paged(
            concat!(
                quota_select!(),
                " WHERE $1 IS NULL OR p.id = $1 ORDER BY p.id"
            ),
            page,
        ))
        .bind(project_id)
        .fetch_all(&self.read)
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM projects WHERE $1 IS NULL OR id = $1")
                .bind(project_id)
                .fetch_one(&self.read)
                .await?;
        let mut out = rows.iter().map(quota_row).collect::<Result<Vec<_>>>()?;
        // One aggregate per project of the page (a page holds at most 100).
        let ids: Vec<i64> = out.iter().map(|q| q.project_id).collect();
        let used = self.usages(&ids).await?;
        for q in &mut out {
            q.used = used.get(&q.project_id).copied().unwrap_or(0);
        }
        Ok((out, total))
    }

    async fn usage(&self, project_id: i64) -> Result<u64> {
        Ok(self
            .usages(&[project_id])
            .await?
            .get(&project_id)
            .copied()
            .unwrap_or(0))
    }

    async fn counted(&self, project_id: i64, digests: &[Digest]) -> Result<HashSet<Digest>> {
        let rows = sqlx::query(
            "SELECT j.value AS digest FROM jsonb_array_elements_text($2::jsonb) AS j(value)
             WHERE EXISTS (SELECT 1 FROM manifest_references mr
                             JOIN manifests m ON m.id = mr.manifest_id
                             JOIN repositories r ON r.id = m.repository_id
                            WHERE mr.digest = j.value AND mr.kind = 'blob' AND r.project_id = $1)
                OR EXISTS (SELECT 1 FROM repositories r JOIN manifests m ON m.repository_id = r.id
                            WHERE r.project_id = $1 AND m.digest = j.value)",
        )
        .bind(project_id)
        .bind(digest_list(digests))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| parse_digest(r.try_get("digest")?))
            .collect()
    }

    async fn index_children(&self, repository: &str) -> Result<HashSet<Digest>> {
        let rows = sqlx::query(
            "SELECT DISTINCT mr.digest FROM manifest_references mr
             JOIN manifests m ON m.id = mr.manifest_id JOIN repositories r ON r.id = m.repository_id
             WHERE r.name = $1 AND mr.kind = 'manifest'",
        )
        .bind(repository)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| parse_digest(r.try_get("digest")?))
            .collect()
    }

    async fn retention_policy(&self, id: i64) -> Result<Option<StoredRule>> {
        let row = sqlx::query("SELECT id, project_id, body FROM retention_policies WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(rule_row).transpose()
    }

    async fn retention_policy_of_project(&self, project_id: i64) -> Result<Option<StoredRule>> {
        let row = sqlx::query(
            "SELECT id, project_id, body FROM retention_policies WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(rule_row).transpose()
    }

    async fn create_retention_policy(
        &self,
        project_id: i64,
        body: &str,
        next_run_at: Option<i64>,
    ) -> Result<Option<i64>> {
        let now = now();
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO retention_policies (project_id, body, next_run_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (project_id) DO NOTHING RETURNING id",
        )
        .bind(project_id)
        .bind(body)
        .bind(next_run_at)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.write)
        .await?;
        Ok(id)
    }

    async fn update_retention_policy(
        &self,
        id: i64,
        body: &str,
        next_run_at: Option<i64>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE retention_policies SET body = $1, next_run_at = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(body)
        .bind(next_run_at)
        .bind(now())
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_retention_policy(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM retention_policies WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn due_retention_policies(&self, now: i64) -> Result<Vec<(StoredRule, i64)>> {
        let rows = sqlx::query(
            "SELECT id, project_id, body, next_run_at FROM retention_policies
             WHERE next_run_at IS NOT NULL AND next_run_at <= $1 ORDER BY next_run_at",
        )
        .bind(now)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((rule_row(r)?, r.try_get("next_run_at")?)))
            .collect()
    }

    async fn advance_retention_schedule(
        &self,
        id: i64,
        from: i64,
        to: Option<i64>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE retention_policies SET next_run_at = $1 WHERE id = $2 AND next_run_at = $3",
        )
        .bind(to)
        .bind(id)
        .bind(from)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_execution(&self, policy_id: i64, trigger: &str, dry_run: bool) -> Result<i64> {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO retention_executions (policy_id, status, trigger, dry_run, start_time)
             VALUES ($1, 'Pending', $2, $3, $4) RETURNING id",
        )
        .bind(policy_id)
        .bind(trigger)
        .bind(dry_run as i64)
        .bind(now())
        .fetch_one(&self.write)
        .await?;
        Ok(id)
    }

    async fn set_execution_job(&self, id: i64, job_id: i64) -> Result<()> {
        sqlx::query("UPDATE retention_executions SET job_id = $1 WHERE id = $2")
            .bind(job_id)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn set_execution_status(&self, id: i64, status: &str, ended: bool) -> Result<()> {
        sqlx::query(
            "UPDATE retention_executions SET status = $1, end_time = CASE WHEN $2 THEN $3 END WHERE id = $4",
        )
        .bind(status)
        .bind(ended)
        .bind(now())
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn clear_tasks(&self, execution_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM retention_tasks WHERE execution_id = $1")
            .bind(execution_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn execution(&self, id: i64) -> Result<Option<Execution>> {
        let row = sqlx::query("SELECT * FROM retention_executions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(execution_row).transpose()
    }

    async fn executions(&self, policy_id: i64, page: PageReq) -> Result<(Vec<Execution>, i64)> {
        let rows = sqlx::query(paged(
            "SELECT * FROM retention_executions WHERE policy_id = $1 ORDER BY id DESC",
            page,
        ))
        .bind(policy_id)
        .fetch_all(&self.read)
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM retention_executions WHERE policy_id = $1")
                .bind(policy_id)
                .fetch_one(&self.read)
                .await?;
        Ok((
            rows.iter().map(execution_row).collect::<Result<_>>()?,
            total,
        ))
    }

    async fn add_task(&self, t: &Task) -> Result<i64> {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO retention_tasks (execution_id, repository, status, start_time, end_time, total, retained, log)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(t.execution_id)
        .bind(&t.repository)
        .bind(&t.status)
        .bind(t.start_time)
        .bind(t.end_time)
        .bind(t.total)
        .bind(t.retained)
        .bind(&t.log)
        .fetch_one(&self.write)
        .await?;
        Ok(id)
    }

    async fn tasks(&self, execution_id: i64, page: PageReq) -> Result<(Vec<Task>, i64)> {
        let rows = sqlx::query(paged(
            "SELECT * FROM retention_tasks WHERE execution_id = $1 ORDER BY id",
            page,
        ))
        .bind(execution_id)
        .fetch_all(&self.read)
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM retention_tasks WHERE execution_id = $1")
                .bind(execution_id)
                .fetch_one(&self.read)
                .await?;
        Ok((rows.iter().map(task_row).collect::<Result<_>>()?, total))
    }

    async fn task(&self, execution_id: i64, id: i64) -> Result<Option<Task>> {
        let row = sqlx::query("SELECT * FROM retention_tasks WHERE execution_id = $1 AND id = $2")
            .bind(execution_id)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(task_row).transpose()
    }
}
