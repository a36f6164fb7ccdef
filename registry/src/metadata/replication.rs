//! What the registry keeps for replication: the remote registry endpoints
//! (their credentials sealed by the service before they get here; the store
//! never sees a secret in clear), the policies, and their executions with one
//! task per artifact.

use async_trait::async_trait;

use super::Result;
use super::identity::PageReq;

/// A registry endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRegistry {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// `harbor`, `docker-registry` or `wharf`.
    pub kind: String,
    pub description: String,
    /// `basic` or `oauth`; `None`: anonymous.
    pub auth_type: Option<String>,
    pub access_key: Option<String>,
    /// The access secret, sealed (nonce ‖ ciphertext ‖ tag).
    pub sealed_secret: Option<Vec<u8>>,
    /// A PEM file of CA certificates to trust for this registry's HTTPS.
    pub ca_file: Option<String>,
    pub insecure: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A replication policy as stored: `body` is its validated JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    pub id: i64,
    pub name: String,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One run of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredExecution {
    pub id: i64,
    pub policy_id: i64,
    /// `InProgress`, `Succeed`, `Failed` or `Stopped`.
    pub status: String,
    pub status_text: String,
    /// `manual`, `scheduled` or `event_based`.
    pub trigger: String,
    /// What an event-based run is limited to (JSON), `None` for the whole policy.
    pub scope: Option<String>,
    pub job_id: Option<i64>,
    pub start_time: i64,
    pub end_time: Option<i64>,
}

/// One artifact's copy (or deletion) within an execution.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredTask {
    pub id: i64,
    pub execution_id: i64,
    /// `image` or `artifact`.
    pub resource_type: String,
    /// `repository:tag` at the source and the destination (with the remote's host).
    pub src_resource: String,
    pub dst_resource: String,
    /// `copy` or `deletion`.
    pub operation: String,
    /// `Pending`, `InProgress`, `Succeed`, `Failed` or `Stopped`.
    pub status: String,
    /// Bytes sent to the destination (blobs it already had are not counted).
    pub bytes: i64,
    pub attempts: i64,
    /// Why it failed, if it did.
    pub message: String,
    pub log: String,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
}

#[async_trait]
pub trait ReplicationStore: Send + Sync + 'static {
    /// Every endpoint, by id.
    async fn registries(&self) -> Result<Vec<StoredRegistry>>;
    async fn registry(&self, id: i64) -> Result<Option<StoredRegistry>>;
    async fn registry_by_name(&self, name: &str) -> Result<Option<StoredRegistry>>;
    /// Stores `r` (its id and times are ignored) and returns the new id.
    async fn create_registry(&self, r: &StoredRegistry) -> Result<i64>;
    /// Replaces every field but id and creation time; false if there is no such endpoint.
    async fn update_registry(&self, r: &StoredRegistry) -> Result<bool>;
    async fn delete_registry(&self, id: i64) -> Result<bool>;

    /// Every policy, by id.
    async fn policies(&self) -> Result<Vec<StoredPolicy>>;
    async fn policy(&self, id: i64) -> Result<Option<StoredPolicy>>;
    async fn policy_by_name(&self, name: &str) -> Result<Option<StoredPolicy>>;
    async fn create_policy(&self, name: &str, body: &str) -> Result<i64>;
    /// False if there is no such policy.
    async fn update_policy(&self, id: i64, name: &str, body: &str) -> Result<bool>;
    async fn delete_policy(&self, id: i64) -> Result<bool>;

    /// A new execution, `InProgress`, started now.
    async fn create_execution(
        &self,
        policy_id: i64,
        trigger: &str,
        scope: Option<&str>,
    ) -> Result<i64>;
    async fn set_execution_job(&self, id: i64, job_id: i64) -> Result<()>;
    /// Sets status and text; a final status also sets the end time.
    async fn set_execution_status(
        &self,
        id: i64,
        status: &str,
        status_text: &str,
        ended: bool,
    ) -> Result<()>;
    async fn execution(&self, id: i64) -> Result<Option<StoredExecution>>;
    /// Newest first, of one policy or all.
    async fn executions(
        &self,
        policy_id: Option<i64>,
        page: PageReq,
    ) -> Result<(Vec<StoredExecution>, i64)>;
    /// Executions not ended (a crash's leftovers are resumed from these).
    async fn unfinished_executions(&self) -> Result<Vec<StoredExecution>>;
    /// Writes an execution's task list, unless it has one already (a resumed run
    /// keeps the list of its first attempt). Returns the tasks, in order.
    async fn add_tasks_once(
        &self,
        execution_id: i64,
        tasks: &[StoredTask],
    ) -> Result<Vec<StoredTask>>;
    /// Every task of an execution, by id.
    async fn tasks(&self, execution_id: i64) -> Result<Vec<StoredTask>>;
    async fn task(&self, execution_id: i64, id: i64) -> Result<Option<StoredTask>>;
    /// Writes status, bytes, attempts, message, log and times of `task`.
    async fn update_task(&self, task: &StoredTask) -> Result<()>;

    /// A scheduled policy's cron and next fire time.
    async fn replication_schedule(&self, policy_id: i64) -> Result<Option<(String, Option<i64>)>>;
    /// Sets the schedule (a new or changed cron).
    async fn put_replication_schedule(
        &self,
        policy_id: i64,
        cron: &str,
        next_run_at: Option<i64>,
    ) -> Result<()>;
    /// Moves the next fire time from `from` to `to` only if it is still `from`: true
    /// for the one caller that wins (and runs the policy).
    async fn advance_replication_schedule(
        &self,
        policy_id: i64,
        from: i64,
        to: Option<i64>,
    ) -> Result<bool>;
}
