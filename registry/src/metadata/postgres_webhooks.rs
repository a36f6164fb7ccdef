//! [`WebhookStore`] on PostgreSQL: `sqlite_webhooks.rs`'s twin, in the same order.

use async_trait::async_trait;

use super::sqlite::bounded;
use super::sqlite_webhooks::{delivery_row, webhook_row};
use super::webhooks::{Delivery, NewDelivery, StoredWebhook, WebhookStore};
use super::{PgMetadata, Result, now};

/// A UNIQUE violation: the name is taken.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[async_trait]
impl WebhookStore for PgMetadata {
    async fn webhooks(&self, project_id: i64) -> Result<Vec<StoredWebhook>> {
        let rows = sqlx::query("SELECT * FROM webhook_policies WHERE project_id = $1 ORDER BY id")
            .bind(project_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(webhook_row).collect()
    }

    async fn webhook(&self, project_id: i64, id: i64) -> Result<Option<StoredWebhook>> {
        let row = sqlx::query("SELECT * FROM webhook_policies WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(webhook_row).transpose()
    }

    async fn webhook_by_id(&self, id: i64) -> Result<Option<StoredWebhook>> {
        let row = sqlx::query("SELECT * FROM webhook_policies WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(webhook_row).transpose()
    }

    async fn create_webhook(&self, project_id: i64, name: &str, body: &str) -> Result<Option<i64>> {
        let now = now();
        let done = sqlx::query_scalar::<_, i64>(
            "INSERT INTO webhook_policies (project_id, name, body, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(project_id)
        .bind(name)
        .bind(body)
        .bind(now)
        .bind(now)
        .fetch_one(&self.write)
        .await;
        match done {
            Ok(d) => Ok(Some(d)),
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
            "UPDATE webhook_policies SET name = $1, body = $2, updated_at = $3
             WHERE id = $4 AND project_id = $5",
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
        let done = sqlx::query("DELETE FROM webhook_policies WHERE id = $1 AND project_id = $2")
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
            let id = sqlx::query_scalar::<_, i64>(
                "INSERT INTO webhook_deliveries
                 (policy_id, event_type, target, payload, status, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 'Pending', $5, $5, $5) RETURNING id",
            )
            .bind(d.policy_id)
            .bind(&d.event_type)
            .bind(&d.target)
            .bind(&d.payload)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn claim_deliveries(&self, now: i64, limit: u32) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'Running', attempts = attempts + 1, updated_at = $1
             WHERE id IN (SELECT id FROM webhook_deliveries
                          WHERE status = 'Pending' AND next_attempt_at <= $1
                          ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING *",
        )
        .bind(now)
        .bind(limit as i64)
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
            "UPDATE webhook_deliveries SET status = $1, last_status_code = $2, next_attempt_at = $3,
             log = log || $4 || chr(10), updated_at = $5 WHERE id = $6",
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
            "SELECT * FROM webhook_deliveries WHERE policy_id = $1 ORDER BY id DESC",
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
            sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE policy_id = $1")
                .bind(policy_id)
                .fetch_one(&self.read)
                .await?;
        Ok(n as u64)
    }

    async fn delivery(&self, policy_id: i64, id: i64) -> Result<Option<Delivery>> {
        let row = sqlx::query("SELECT * FROM webhook_deliveries WHERE policy_id = $1 AND id = $2")
            .bind(policy_id)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(delivery_row).transpose()
    }
}
