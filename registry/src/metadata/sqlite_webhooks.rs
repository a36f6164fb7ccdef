//! [`WebhookStore`] on SQLite.

use async_trait::async_trait;

use super::columns::Columns;
use super::sqlite::bounded;
use super::webhooks::{Delivery, NewDelivery, StoredWebhook, WebhookStore};
use super::{Result, SqliteMetadata, now};

pub(super) fn webhook_row(r: &impl Columns) -> Result<StoredWebhook> {
    Ok(StoredWebhook {
        id: r.col("id")?,
        project_id: r.col("project_id")?,
        name: r.col("name")?,
        body: r.col("body")?,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

pub(super) fn delivery_row(r: &impl Columns) -> Result<Delivery> {
    Ok(Delivery {
        id: r.col("id")?,
        policy_id: r.col("policy_id")?,
        event_type: r.col("event_type")?,
        target: r.col("target")?,
        payload: r.col("payload")?,
        status: r.col("status")?,
        attempts: r.col("attempts")?,
        next_attempt_at: r.col("next_attempt_at")?,
        last_status_code: r.col("last_status_code")?,
        log: r.col("log")?,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

/// A UNIQUE violation: the name is taken.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[async_trait]
impl WebhookStore for SqliteMetadata {
    async fn webhooks(&self, project_id: i64) -> Result<Vec<StoredWebhook>> {
        let rows = sqlx::query("SELECT * FROM webhook_policies WHERE project_id = ? ORDER BY id")
            .bind(project_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(webhook_row).collect()
    }

    async fn webhook(&self, project_id: i64, id: i64) -> Result<Option<StoredWebhook>> {
        let row = sqlx::query("SELECT * FROM webhook_policies WHERE project_id = ? AND id = ?")
            .bind(project_id)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(webhook_row).transpose()
    }

    async fn webhook_by_id(&self, id: i64) -> Result<Option<StoredWebhook>> {
        let row = sqlx::query("SELECT * FROM webhook_policies WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(webhook_row).transpose()
    }

    async fn create_webhook(&self, project_id: i64, name: &str, body: &str) -> Result<Option<i64>> {
        let now = now();
        let done = sqlx::query(
            "INSERT INTO webhook_policies (project_id, name, body, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(project_id)
        .bind(name)
        .bind(body)
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await;
        match done {
            Ok(d) => Ok(Some(d.last_insert_rowid())),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn update_webhook(
        &self,
        project_id: i64,
        id: i64,
        name: &str,
        body: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE webhook_policies SET name = ?, body = ?, updated_at = ?
             WHERE id = ? AND project_id = ?",
        )
        .bind(name)
        .bind(body)
        .bind(now())
        .bind(id)
        .bind(project_id)
        .execute(&self.write)
        .await;
        match done {
            Ok(d) => Ok(d.rows_affected() > 0),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_webhook(&self, project_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhook_policies WHERE id = ? AND project_id = ?")
            .bind(id)
            .bind(project_id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn queue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<Vec<i64>> {
        let now = now();
        let mut tx = self.write.begin().await?;
        let mut ids = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let id = sqlx::query(
                "INSERT INTO webhook_deliveries
                 (policy_id, event_type, target, payload, status, next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'Pending', ?5, ?5, ?5)",
            )
            .bind(d.policy_id)
            .bind(&d.event_type)
            .bind(&d.target)
            .bind(&d.payload)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn claim_deliveries(&self, now: i64, limit: u32) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'Running', attempts = attempts + 1, updated_at = ?1
             WHERE id IN (SELECT id FROM webhook_deliveries
                          WHERE status = 'Pending' AND next_attempt_at <= ?1
                          ORDER BY next_attempt_at, id LIMIT ?2)
             RETURNING *",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.write)
        .await?;
        rows.iter().map(delivery_row).collect()
    }

    async fn finish_attempt(
        &self,
        id: i64,
        status: &str,
        status_code: Option<i64>,
        next_attempt_at: i64,
        log_line: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = ?, last_status_code = ?, next_attempt_at = ?,
             log = log || ? || char(10), updated_at = ? WHERE id = ?",
        )
        .bind(status)
        .bind(status_code)
        .bind(next_attempt_at)
        .bind(log_line)
        .bind(now())
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn requeue_running(&self) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'Pending' WHERE status = 'Running'",
        )
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }

    async fn deliveries(&self, policy_id: i64, offset: u64, limit: u64) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(bounded(
            "SELECT * FROM webhook_deliveries WHERE policy_id = ? ORDER BY id DESC",
            limit,
            offset,
        ))
        .bind(policy_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(delivery_row).collect()
    }

    async fn count_deliveries(&self, policy_id: i64) -> Result<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE policy_id = ?")
                .bind(policy_id)
                .fetch_one(&self.read)
                .await?;
        Ok(n as u64)
    }

    async fn delivery(&self, policy_id: i64, id: i64) -> Result<Option<Delivery>> {
        let row = sqlx::query("SELECT * FROM webhook_deliveries WHERE policy_id = ? AND id = ?")
            .bind(policy_id)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(delivery_row).transpose()
    }
}
