//! [`ReplicationStore`] on SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::columns::Columns;
use super::identity::PageReq;
use super::replication::{
    ReplicationStore, StoredExecution, StoredPolicy, StoredRegistry, StoredTask,
};
use super::sqlite::paged;
use super::{Result, SqliteMetadata, now};

pub(super) const REGISTRY_COLUMNS: &str = "SELECT id, name, url, type, description, auth_type, access_key, \
     secret, ca_file, insecure, created_at, updated_at FROM registries";

pub(super) fn registry_row(r: &impl Columns) -> Result<StoredRegistry> {
    Ok(StoredRegistry {
        id: r.col("id")?,
        name: r.col("name")?,
        url: r.col("url")?,
        kind: r.col("type")?,
        description: r.col("description")?,
        auth_type: r.col("auth_type")?,
        access_key: r.col("access_key")?,
        sealed_secret: r.col("secret")?,
        ca_file: r.col("ca_file")?,
        insecure: r.col::<i64>("insecure")? != 0,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

pub(super) const POLICY_COLUMNS: &str =
    "SELECT id, name, body, created_at, updated_at FROM replication_policies";

pub(super) fn policy_row(r: &impl Columns) -> Result<StoredPolicy> {
    Ok(StoredPolicy {
        id: r.col("id")?,
        name: r.col("name")?,
        body: r.col("body")?,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

pub(super) const EXECUTION_COLUMNS: &str = "SELECT id, policy_id, status, status_text, trigger, scope, \
     job_id, start_time, end_time FROM replication_executions";

pub(super) fn execution_row(r: &impl Columns) -> Result<StoredExecution> {
    Ok(StoredExecution {
        id: r.col("id")?,
        policy_id: r.col("policy_id")?,
        status: r.col("status")?,
        status_text: r.col("status_text")?,
        trigger: r.col("trigger")?,
        scope: r.col("scope")?,
        job_id: r.col("job_id")?,
        start_time: r.col("start_time")?,
        end_time: r.col("end_time")?,
    })
}

pub(super) const TASK_COLUMNS: &str = "SELECT id, execution_id, resource_type, src_resource, dst_resource, \
     operation, status, bytes, attempts, message, log, start_time, end_time FROM replication_tasks";

pub(super) fn task_row(r: &impl Columns) -> Result<StoredTask> {
    Ok(StoredTask {
        id: r.col("id")?,
        execution_id: r.col("execution_id")?,
        resource_type: r.col("resource_type")?,
        src_resource: r.col("src_resource")?,
        dst_resource: r.col("dst_resource")?,
        operation: r.col("operation")?,
        status: r.col("status")?,
        bytes: r.col("bytes")?,
        attempts: r.col("attempts")?,
        message: r.col("message")?,
        log: r.col("log")?,
        start_time: r.col("start_time")?,
        end_time: r.col("end_time")?,
    })
}

/// The columns of an endpoint that creating and updating both write, in this
/// order; on either backend (`sqlx::query` of SQLite or of PostgreSQL).
pub(super) fn bind_registry<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, DB::Arguments>,
    r: &'q StoredRegistry,
) -> sqlx::query::Query<'q, DB, DB::Arguments>
where
    &'q String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q Option<Vec<u8>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(&r.name)
        .bind(&r.url)
        .bind(&r.kind)
        .bind(&r.description)
        .bind(&r.auth_type)
        .bind(&r.access_key)
        .bind(&r.sealed_secret)
        .bind(&r.ca_file)
        .bind(r.insecure as i64)
}

/// The unique columns rows are found by.
enum Key<'a> {
    Id(i64),
    Name(&'a str),
}

/// The lookups every table of this store shares.
impl SqliteMetadata {
    async fn all<T>(&self, select: &str, row: fn(&SqliteRow) -> Result<T>) -> Result<Vec<T>> {
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
        row: fn(&SqliteRow) -> Result<T>,
    ) -> Result<Option<T>> {
        let column = match key {
            Key::Id(_) => "id",
            Key::Name(_) => "name",
        };
        let query = sqlx::query(sqlx::AssertSqlSafe(format!("{select} WHERE {column} = ?")));
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
impl ReplicationStore for SqliteMetadata {
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
        let id = bind_registry(
            sqlx::query(
                "INSERT INTO registries (name, url, type, description, auth_type, access_key, secret, \
                 ca_file, insecure, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ),
            r,
        )
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    async fn update_registry(&self, r: &StoredRegistry) -> Result<bool> {
        let done = bind_registry(
            sqlx::query(
                "UPDATE registries SET name = ?, url = ?, type = ?, description = ?, auth_type = ?, \
                 access_key = ?, secret = ?, ca_file = ?, insecure = ?, updated_at = ? WHERE id = ?",
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
        self.delete_row("DELETE FROM registries WHERE id = ?", id)
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
        let id = sqlx::query(
            "INSERT INTO replication_policies (name, body, created_at, updated_at) VALUES (?, ?, ?, ?)",
        )
        .bind(name)
        .bind(body)
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    async fn update_policy(&self, id: i64, name: &str, body: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE replication_policies SET name = ?, body = ?, updated_at = ? WHERE id = ?",
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
        self.delete_row("DELETE FROM replication_policies WHERE id = ?", id)
            .await
    }

    async fn create_execution(
        &self,
        policy_id: i64,
        trigger: &str,
        scope: Option<&str>,
    ) -> Result<i64> {
        let id = sqlx::query(
            "INSERT INTO replication_executions (policy_id, status, trigger, scope, start_time) \
             VALUES (?, 'InProgress', ?, ?, ?)",
        )
        .bind(policy_id)
        .bind(trigger)
        .bind(scope)
        .bind(now())
        .execute(&self.write)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    async fn set_execution_job(&self, id: i64, job_id: i64) -> Result<()> {
        sqlx::query("UPDATE replication_executions SET job_id = ? WHERE id = ?")
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
            "UPDATE replication_executions SET status = ?, status_text = ?, \
             end_time = CASE WHEN ? THEN ? ELSE NULL END WHERE id = ?",
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
        let sql = format!("{EXECUTION_COLUMNS} WHERE id = ?");
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
            "SELECT COUNT(*) FROM replication_executions WHERE ? IS NULL OR policy_id = ?",
        )
        .bind(policy_id)
        .bind(policy_id)
        .fetch_one(&self.read)
        .await?;
        let sql = format!("{EXECUTION_COLUMNS} WHERE ? IS NULL OR policy_id = ? ORDER BY id DESC");
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
        let existing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM replication_tasks WHERE execution_id = ?")
                .bind(execution_id)
                .fetch_one(&mut *tx)
                .await?;
        if existing == 0 {
            for t in tasks {
                sqlx::query(
                    "INSERT INTO replication_tasks (execution_id, resource_type, src_resource, \
                     dst_resource, operation, status) VALUES (?, ?, ?, ?, ?, 'Pending')",
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
        let sql = format!("{TASK_COLUMNS} WHERE execution_id = ? AND id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(execution_id)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(task_row).transpose()
    }

    async fn update_task(&self, t: &StoredTask) -> Result<()> {
        sqlx::query(
            "UPDATE replication_tasks SET status = ?, bytes = ?, attempts = ?, message = ?, \
             log = ?, start_time = ?, end_time = ? WHERE id = ?",
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
            sqlx::query("SELECT cron, next_run_at FROM replication_schedules WHERE policy_id = ?")
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
            "INSERT INTO replication_schedules (policy_id, cron, next_run_at) VALUES (?, ?, ?) \
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
            "UPDATE replication_schedules SET next_run_at = ? WHERE policy_id = ? AND next_run_at = ?",
        )
        .bind(to)
        .bind(policy_id)
        .bind(from)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

impl SqliteMetadata {
    async fn tasks_on(
        &self,
        execution_id: i64,
        pool: &sqlx::SqlitePool,
    ) -> Result<Vec<StoredTask>> {
        let sql = format!("{TASK_COLUMNS} WHERE execution_id = ? ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(execution_id)
            .fetch_all(pool)
            .await?;
        rows.iter().map(task_row).collect()
    }
}
