//! [`ReplicationStore`] on PostgreSQL: `sqlite_replication.rs`'s twin, in the same order.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::identity::PageReq;
use super::replication::{
    ReplicationStore, StoredExecution, StoredPolicy, StoredRegistry, StoredTask,
};
use super::sqlite::paged;
use super::sqlite_replication::{
    EXECUTION_COLUMNS, POLICY_COLUMNS, REGISTRY_COLUMNS, TASK_COLUMNS, bind_registry,
    execution_row, policy_row, registry_row, task_row,
};
use super::{PgMetadata, Result, now};

/// The unique columns rows are found by.
enum Key<'a> {
    Id(i64),
    Name(&'a str),
}

/// The lookups every table of this store shares.
impl PgMetadata {
    async fn all<T>(&self, select: &str, row: fn(&PgRow) -> Result<T>) -> Result<Vec<T>> {
        let sql = format!("{select} ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(row).collect()
    }

    async fn find<T>(
        &self,
        select: &str,
        key: Key<'_>,
        row: fn(&PgRow) -> Result<T>,
    ) -> Result<Option<T>> {
        let column = match key {
            Key::Id(_) => "id",
            Key::Name(_) => "name",
        };
        let query = sqlx::query(sqlx::AssertSqlSafe(format!("{select} WHERE {column} = $1")));
        let query = match key {
            Key::Id(id) => query.bind(id),
            Key::Name(name) => query.bind(name),
        };
        let found = query.fetch_optional(&self.read).await?;
        found.as_ref().map(row).transpose()
    }

    async fn delete_row(&self, sql: &'static str, id: i64) -> Result<bool> {
        let done = sqlx::query(sql).bind(id).execute(&self.write).await?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl ReplicationStore for PgMetadata {
    async fn registries(&self) -> Result<Vec<StoredRegistry>> {
        self.all(REGISTRY_COLUMNS, registry_row).await
    }

    async fn registry(&self, id: i64) -> Result<Option<StoredRegistry>> {
        self.find(REGISTRY_COLUMNS, Key::Id(id), registry_row).await
    }

    async fn registry_by_name(&self, name: &str) -> Result<Option<StoredRegistry>> {
        self.find(REGISTRY_COLUMNS, Key::Name(name), registry_row)
            .await
    }

    async fn create_registry(&self, r: &StoredRegistry) -> Result<i64> {
        let now = now();
        let row = bind_registry(
            sqlx::query(
                "INSERT INTO registries (name, url, type, description, auth_type, access_key, secret, \
                 ca_file, insecure, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            ),
            r,
        )
        .bind(now)
        .bind(now)
        .fetch_one(&self.write)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn update_registry(&self, r: &StoredRegistry) -> Result<bool> {
        let done = bind_registry(
            sqlx::query(
                "UPDATE registries SET name = $1, url = $2, type = $3, description = $4, auth_type = $5, \
                 access_key = $6, secret = $7, ca_file = $8, insecure = $9, updated_at = $10 WHERE id = $11",
            ),
            r,
        )
        .bind(now())
        .bind(r.id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_registry(&self, id: i64) -> Result<bool> {
        self.delete_row("DELETE FROM registries WHERE id = $1", id)
            .await
    }

    async fn policies(&self) -> Result<Vec<StoredPolicy>> {
        self.all(POLICY_COLUMNS, policy_row).await
    }

    async fn policy(&self, id: i64) -> Result<Option<StoredPolicy>> {
        self.find(POLICY_COLUMNS, Key::Id(id), policy_row).await
    }

    async fn policy_by_name(&self, name: &str) -> Result<Option<StoredPolicy>> {
        self.find(POLICY_COLUMNS, Key::Name(name), policy_row).await
    }

    async fn create_policy(&self, name: &str, body: &str) -> Result<i64> {
        let now = now();
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO replication_policies (name, body, created_at, updated_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(body)
        .bind(now)
        .bind(now)
        .fetch_one(&self.write)
        .await?;
        Ok(id)
    }

    async fn update_policy(&self, id: i64, name: &str, body: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE replication_policies SET name = $1, body = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(name)
        .bind(body)
        .bind(now())
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_policy(&self, id: i64) -> Result<bool> {
        self.delete_row("DELETE FROM replication_policies WHERE id = $1", id)
            .await
    }

    async fn create_execution(
        &self,
        policy_id: i64,
        trigger: &str,
        scope: Option<&str>,
    ) -> Result<i64> {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO replication_executions (policy_id, status, trigger, scope, start_time) \
             VALUES ($1, 'InProgress', $2, $3, $4) RETURNING id",
        )
        .bind(policy_id)
        .bind(trigger)
        .bind(scope)
        .bind(now())
        .fetch_one(&self.write)
        .await?;
        Ok(id)
    }

    async fn set_execution_job(&self, id: i64, job_id: i64) -> Result<()> {
        sqlx::query("UPDATE replication_executions SET job_id = $1 WHERE id = $2")
            .bind(job_id)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn set_execution_status(
        &self,
        id: i64,
        status: &str,
        status_text: &str,
        ended: bool,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE replication_executions SET status = $1, status_text = $2, \
             end_time = CASE WHEN $3 THEN $4 ELSE NULL END WHERE id = $5",
        )
        .bind(status)
        .bind(status_text)
        .bind(ended)
        .bind(now())
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn execution(&self, id: i64) -> Result<Option<StoredExecution>> {
        let sql = format!("{EXECUTION_COLUMNS} WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(execution_row).transpose()
    }

    async fn executions(
        &self,
        policy_id: Option<i64>,
        page: PageReq,
    ) -> Result<(Vec<StoredExecution>, i64)> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM replication_executions WHERE $1 IS NULL OR policy_id = $2",
        )
        .bind(policy_id)
        .bind(policy_id)
        .fetch_one(&self.read)
        .await?;
        let sql =
            format!("{EXECUTION_COLUMNS} WHERE $1 IS NULL OR policy_id = $2 ORDER BY id DESC");
        let rows = sqlx::query(paged(&sql, page))
            .bind(policy_id)
            .bind(policy_id)
            .fetch_all(&self.read)
            .await?;
        Ok((
            rows.iter().map(execution_row).collect::<Result<_>>()?,
            total,
        ))
    }

    async fn unfinished_executions(&self) -> Result<Vec<StoredExecution>> {
        let sql = format!("{EXECUTION_COLUMNS} WHERE end_time IS NULL ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(execution_row).collect()
    }

    async fn add_tasks_once(
        &self,
        execution_id: i64,
        tasks: &[StoredTask],
    ) -> Result<Vec<StoredTask>> {
        let mut tx = self.write.begin().await?;
        // Check-then-insert is only "once" while no other process does the same
        // between the two: the execution's row lock makes a second caller (a
        // replica resuming the same execution) wait, then see the tasks.
        sqlx::query("SELECT id FROM replication_executions WHERE id = $1 FOR NO KEY UPDATE")
            .bind(execution_id)
            .execute(&mut *tx)
            .await?;
        let existing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM replication_tasks WHERE execution_id = $1")
                .bind(execution_id)
                .fetch_one(&mut *tx)
                .await?;
        if existing == 0 {
            for t in tasks {
                sqlx::query(
                    "INSERT INTO replication_tasks (execution_id, resource_type, src_resource, \
                     dst_resource, operation, status) VALUES ($1, $2, $3, $4, $5, 'Pending')",
                )
                .bind(execution_id)
                .bind(&t.resource_type)
                .bind(&t.src_resource)
                .bind(&t.dst_resource)
                .bind(&t.operation)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.tasks_on(execution_id, &self.write).await
    }

    async fn tasks(&self, execution_id: i64) -> Result<Vec<StoredTask>> {
        self.tasks_on(execution_id, &self.read).await
    }

    async fn task(&self, execution_id: i64, id: i64) -> Result<Option<StoredTask>> {
        let sql = format!("{TASK_COLUMNS} WHERE execution_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(execution_id)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(task_row).transpose()
    }

    async fn update_task(&self, t: &StoredTask) -> Result<()> {
        sqlx::query(
            "UPDATE replication_tasks SET status = $1, bytes = $2, attempts = $3, message = $4, \
             log = $5, start_time = $6, end_time = $7 WHERE id = $8",
        )
        .bind(&t.status)
        .bind(t.bytes)
        .bind(t.attempts)
        .bind(&t.message)
        .bind(&t.log)
        .bind(t.start_time)
        .bind(t.end_time)
        .bind(t.id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn replication_schedule(&self, policy_id: i64) -> Result<Option<(String, Option<i64>)>> {
        let row =
            sqlx::query("SELECT cron, next_run_at FROM replication_schedules WHERE policy_id = $1")
                .bind(policy_id)
                .fetch_optional(&self.read)
                .await?;
        row.map(|r| Ok((r.try_get("cron")?, r.try_get("next_run_at")?)))
            .transpose()
    }

    async fn put_replication_schedule(
        &self,
        policy_id: i64,
        cron: &str,
        next_run_at: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO replication_schedules (policy_id, cron, next_run_at) VALUES ($1, $2, $3) \
             ON CONFLICT (policy_id) DO UPDATE SET cron = excluded.cron, next_run_at = excluded.next_run_at",
        )
        .bind(policy_id)
        .bind(cron)
        .bind(next_run_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn advance_replication_schedule(
        &self,
        policy_id: i64,
        from: i64,
        to: Option<i64>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE replication_schedules SET next_run_at = $1 WHERE policy_id = $2 AND next_run_at = $3",
        )
        .bind(to)
        .bind(policy_id)
        .bind(from)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

impl PgMetadata {
    async fn tasks_on(&self, execution_id: i64, pool: &sqlx::PgPool) -> Result<Vec<StoredTask>> {
        let sql = format!("{TASK_COLUMNS} WHERE execution_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(execution_id)
            .fetch_all(pool)
            .await?;
        rows.iter().map(task_row).collect()
    }
}
