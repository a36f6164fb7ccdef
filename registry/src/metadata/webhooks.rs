//! What the registry keeps about webhooks: policies per project (the JSON
//! document the service validated, Harbor's `WebhookPolicy`) and deliveries,
//! which are both the durable queue of what is still to send and the log of
//! what was sent (attempts, last status code, one line per attempt).

use async_trait::async_trait;

use super::Result;

/// A policy as stored: `body` is its validated JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWebhook {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One event for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub policy_id: i64,
    pub event_type: String,
    /// The target's address.
    pub target: String,
    /// The exact body sent (and signed).
    pub payload: String,
    /// Pending, Running, Success or Error.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status_code: Option<i64>,
    pub log: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A delivery to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub policy_id: i64,
    pub event_type: String,
    pub target: String,
    pub payload: String,
}

#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    async fn webhooks(&self, project_id: i64) -> Result<Vec<StoredWebhook>>;
    async fn webhook(&self, project_id: i64, id: i64) -> Result<Option<StoredWebhook>>;
    async fn webhook_by_id(&self, id: i64) -> Result<Option<StoredWebhook>>;
    /// `None` if the project already has a policy of that name.
    async fn create_webhook(&self, project_id: i64, name: &str, body: &str) -> Result<Option<i64>>;
    /// False if the project has no such policy (or the new name is taken).
    async fn update_webhook(
        &self,
        project_id: i64,
        id: i64,
        name: &str,
        body: &str,
    ) -> Result<bool>;
    async fn delete_webhook(&self, project_id: i64, id: i64) -> Result<bool>;

    /// Queue deliveries, due now; returns their ids.
    async fn queue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<Vec<i64>>;
    /// Claim up to `limit` due Pending deliveries (now Running, one more attempt).
    async fn claim_deliveries(&self, now: i64, limit: u32) -> Result<Vec<Delivery>>;
    /// Record an attempt: `status` Success, Error or Pending (retry at `next_attempt_at`).
    async fn finish_attempt(
        &self,
        id: i64,
        status: &str,
        status_code: Option<i64>,
        next_attempt_at: i64,
        log_line: &str,
    ) -> Result<()>;
    /// Deliveries left Running by a crash become Pending again; returns how many.
    async fn requeue_running(&self) -> Result<u64>;
    /// A policy's deliveries, newest first.
    async fn deliveries(&self, policy_id: i64, offset: u64, limit: u64) -> Result<Vec<Delivery>>;
    async fn count_deliveries(&self, policy_id: i64) -> Result<u64>;
    async fn delivery(&self, policy_id: i64, id: i64) -> Result<Option<Delivery>>;
}
