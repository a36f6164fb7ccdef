//! [`ReplicationStore`] on SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::identity::PageReq;
use super::replication::{
    ReplicationStore, StoredExecution, StoredPolicy, StoredRegistry, StoredTask,
};
use super::sqlite::paged;
use super::{Result, SqliteMetadata, now};

const REGISTRY_COLUMNS: &str = "SELECT id, name, url, type, description, auth_type, access_key, \
     secret, ca_file, insecure, created_at, updated_at FROM registries";

fn registry_row(r: &SqliteRow) -> Result<StoredRegistry> {
    Ok(StoredRegistry {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        kind: r.try_get("type")?,
        description: r.try_get("description")?,
        auth_type: r.try_get("auth_type")?,
        access_key: r.try_get("access_key")?,
        sealed_secret: r.try_get("secret")?,
        ca_file: r.try_get("ca_file")?,
        insecure: r.try_get::<i64, _>("insecure")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const POLICY_COLUMNS: &str =
    "SELECT id, name, body, created_at, updated_at FROM replication_policies";

fn policy_row(r: &SqliteRow) -> Result<StoredPolicy> {
    Ok(StoredPolicy {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const EXECUTION_COLUMNS: &str = "SELECT id, policy_id, status, status_text, trigger, scope, \
     job_id, start_time, end_time FROM replication_executions";

fn execution_row(r: &SqliteRow) -> Result<StoredExecution> {
    Ok(StoredExecution {
        id: r.try_get("id")?,
        policy_id: r.try_get("policy_id")?,
        status: r.try_get("status")?,
        status_text: r.try_get("status_text")?,
        trigger: r.try_get("trigger")?,
        scope: r.try_get("scope")?,
        job_id: r.try_get("job_id")?,
        start_time: r.try_get("start_time")?,
        end_time: r.try_get("end_time")?,
    })
}

const TASK_COLUMNS: &str = "SELECT id, execution_id, resource_type, src_resource, dst_resource, \
     operation, status, bytes, attempts, message, log, start_time, end_time FROM replication_tasks";

fn task_row(r: &SqliteRow) -> Result<StoredTask> {
    Ok(StoredTask {
        id: r.try_get("id")?,
        execution_id: r.try_get("execution_id")?,
        resource_type: r.try_get("resource_type")?,
        src_resource: r.try_get("src_resource")?,
        dst_resource: r.try_get("dst_resource")?,
        operation: r.try_get("operation")?,
        status: r.try_get("status")?,
        bytes: r.try_get("bytes")?,
        attempts: r.try_get("attempts")?,
        message: r.try_get("message")?,
        log: r.try_get("log")?,
        start_time: r.try_get("start_time")?,
        end_time: r.try_get("end_time")?,
    })
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// The columns of an endpoint that creating and updating both write, in this order.
fn bind_registry<'q>(q: SqliteQuery<'q>, r: &'q StoredRegistry) -> SqliteQuery<'q> {
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
