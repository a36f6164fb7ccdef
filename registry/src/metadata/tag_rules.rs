//! What the registry keeps about the lifecycle rules of tags: immutability rules,
//! project storage limits (and the usage they are checked against), retention
//! policies with their executions and tasks.
//!
//! Rules and policies are stored as the JSON documents the service validated
//! (Harbor's shapes); the store never interprets them, so a new selector kind
//! needs no migration.

use std::collections::HashSet;

use async_trait::async_trait;

use super::Result;
use super::identity::PageReq;
use crate::digest::Digest;

/// A rule as stored: `body` is its validated JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRule {
    pub id: i64,
    pub project_id: i64,
    pub body: String,
}

/// A project's storage quota. Its id is the project's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub project_id: i64,
    pub project_name: String,
    pub owner_name: Option<String>,
    /// Bytes; -1 unlimited.
    pub hard: i64,
    /// Bytes counted by the usage rule (see [`TagRulesStore::usage`]).
    pub used: u64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One run of a retention policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub id: i64,
    pub policy_id: i64,
    /// Harbor's statuses: Pending, Running, Success, Error, Stopped.
    pub status: String,
    /// MANUAL or SCHEDULE.
    pub trigger: String,
    pub dry_run: bool,
    /// The queue job that runs it.
    pub job_id: Option<i64>,
    pub start_time: i64,
    pub end_time: Option<i64>,
}

/// What one execution did in one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    pub execution_id: i64,
    pub repository: String,
    pub status: String,
    pub start_time: i64,
    pub end_time: Option<i64>,
    /// Artifacts considered.
    pub total: i64,
    pub retained: i64,
    /// Every artifact retained or deleted, one line each.
    pub log: String,
}

#[async_trait]
pub trait TagRulesStore: Send + Sync + 'static {
    async fn immutable_rules(&self, project_id: i64) -> Result<Vec<StoredRule>>;
    async fn create_immutable_rule(&self, project_id: i64, body: &str) -> Result<i64>;
    /// False if the project has no such rule.
    async fn update_immutable_rule(&self, project_id: i64, id: i64, body: &str) -> Result<bool>;
    async fn delete_immutable_rule(&self, project_id: i64, id: i64) -> Result<bool>;

    /// Set a project's storage limit in bytes (-1: unlimited).
    async fn set_storage_limit(&self, project_id: i64, hard: i64) -> Result<()>;
    /// A project's storage limit in bytes, -1 if it has none.
    async fn storage_limit(&self, project_id: i64) -> Result<i64>;
    /// The quota of one project (its limit is -1 if none was ever set).
    async fn quota(&self, project_id: i64) -> Result<Option<Quota>>;
    /// Quotas of every project (or of one), by project id, with their usage.
    async fn quotas(&self, project_id: Option<i64>, page: PageReq) -> Result<(Vec<Quota>, i64)>;
    /// A project's usage: the sizes of the distinct blobs its manifests
    /// reference plus the distinct manifests' own bytes, each digest counted once
    /// in the project however many artifacts or repositories share it.
    async fn usage(&self, project_id: i64) -> Result<u64>;
    /// Those of `digests` that already count in the project's usage (a blob one
    /// of its manifests references, or one of its manifests).
    async fn counted(&self, project_id: i64, digests: &[Digest]) -> Result<HashSet<Digest>>;

    /// Manifests of the repository that an index of it lists: never retention
    /// candidates of their own (they go with their index).
    async fn index_children(&self, repository: &str) -> Result<HashSet<Digest>>;

    async fn retention_policy(&self, id: i64) -> Result<Option<StoredRule>>;
    async fn retention_policy_of_project(&self, project_id: i64) -> Result<Option<StoredRule>>;
    /// `None` if the project already has a policy (one per project, as Harbor).
    /// `next_run_at`: when its schedule fires first (`None`: manual only).
    async fn create_retention_policy(
        &self,
        project_id: i64,
        body: &str,
        next_run_at: Option<i64>,
    ) -> Result<Option<i64>>;
    async fn update_retention_policy(
        &self,
        id: i64,
        body: &str,
        next_run_at: Option<i64>,
    ) -> Result<bool>;
    async fn delete_retention_policy(&self, id: i64) -> Result<bool>;
    /// Policies whose schedule is due at `now`, with the fire time they are due for.
    async fn due_retention_policies(&self, now: i64) -> Result<Vec<(StoredRule, i64)>>;
    /// Move a policy's next fire time from `from` to `to`, only if it is still
    /// `from`: true for the one caller that wins (and then runs the policy).
    async fn advance_retention_schedule(&self, id: i64, from: i64, to: Option<i64>)
    -> Result<bool>;

    /// A new execution, `Pending`.
    async fn create_execution(&self, policy_id: i64, trigger: &str, dry_run: bool) -> Result<i64>;
    async fn set_execution_job(&self, id: i64, job_id: i64) -> Result<()>;
    /// Set the status (and, for a final one, the end time). A run starting again
    /// after a crash forgets the tasks of its earlier attempt.
    async fn set_execution_status(&self, id: i64, status: &str, ended: bool) -> Result<()>;
    async fn clear_tasks(&self, execution_id: i64) -> Result<()>;
    async fn execution(&self, id: i64) -> Result<Option<Execution>>;
    /// Newest first.
    async fn executions(&self, policy_id: i64, page: PageReq) -> Result<(Vec<Execution>, i64)>;
    async fn add_task(&self, task: &Task) -> Result<i64>;
    async fn tasks(&self, execution_id: i64, page: PageReq) -> Result<(Vec<Task>, i64)>;
    async fn task(&self, execution_id: i64, id: i64) -> Result<Option<Task>>;
}
