//! Lifecycle: what happens to stored content over time. The durable job queue
//! ([`jobs`]) that every background job of the registry runs on (GC,
//! retention, scrub, scan-all, later replication), and the jobs of this
//! concern.
//!
//! The management API reaches jobs through [`Lifecycle`], which checks the
//! caller's system rights (`auth::rbac`); other services use [`Lifecycle::jobs`]
//! directly to register handlers and enqueue work.
//!
//! Tag immutability and project quotas guard writes (installed in distribution
//! as [`WriteGuard`](super::distribution::WriteGuard)s); retention deletes what
//! a project's policy does not keep, through distribution, as jobs of kind
//! `retention` on the queue.

pub mod gc;
pub mod immutability;
pub mod jobs;
pub mod quota;
pub mod retention;
pub mod scrub;
pub mod selectors;

use std::sync::Arc;
use std::time::Duration;

pub use gc::{GC, GcParams};
pub use immutability::{Immutability, ImmutableRule};
pub use jobs::{JobContext, JobHandler, JobQueue, QueueOptions, parse_status, schedule_cron};
pub use quota::Quotas;
pub use retention::{Retention, RetentionPolicy};
pub use scrub::{SCRUB, ScrubParams};

use super::access::Access;
use super::distribution::Distribution;
use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
use crate::error::{RegistryError, Result};
use crate::metadata::identity::PageReq;
use crate::metadata::lifecycle::{
    Job, JobFilter, JobSchedule, JobStore, LifecycleStore, NewJob, Trigger,
};

/// Options of the lifecycle service.
#[derive(Debug, Clone)]
pub struct LifecycleOptions {
    pub queue: QueueOptions,
    /// What GC leaves alone: blobs used, manifests pushed, within this time.
    pub gc_grace_period: Duration,
    /// Upload sessions untouched this long are removed (by GC too).
    pub upload_expiry: Duration,
}

impl Default for LifecycleOptions {
    fn default() -> Self {
        LifecycleOptions {
            queue: QueueOptions::default(),
            gc_grace_period: Duration::from_secs(3600),
            upload_expiry: Duration::from_secs(168 * 3600),
        }
    }
}

pub struct Lifecycle {
    jobs: Arc<JobQueue>,
    access: Arc<Access>,
}

impl Lifecycle {
    /// The queue with this concern's jobs (GC, scrub) registered.
    pub fn new(
        jobs: Arc<dyn JobStore>,
        content: Arc<dyn LifecycleStore>,
        distribution: Arc<Distribution>,
        access: Arc<Access>,
        options: LifecycleOptions,
    ) -> Self {
        let queue = Arc::new(JobQueue::new(jobs, options.queue));
        queue.register(
            GC,
            Arc::new(gc::Gc::new(
                content.clone(),
                distribution.clone(),
                options.gc_grace_period,
                options.upload_expiry,
            )),
        );
        queue.register(
            SCRUB,
            Arc::new(scrub::Scrub::new(
                content,
                distribution.blob_store().clone(),
            )),
        );
        Lifecycle {
            jobs: queue,
            access,
        }
    }

    /// The queue: register handlers, enqueue jobs, set schedules.
    pub fn jobs(&self) -> &Arc<JobQueue> {
        &self.jobs
    }

    /// Start the job workers and the scheduler.
    pub fn start(&self) {
        self.jobs.start();
    }

    fn require(&self, who: &Principal) -> Result<()> {
        self.access.require_system(who, SystemAction::ManageJobs)
    }

    pub async fn list_jobs(
        &self,
        who: &Principal,
        filter: &JobFilter,
        page: PageReq,
    ) -> Result<(Vec<Job>, i64)> {
        self.require(who)?;
        self.jobs.list(filter, page).await
    }

    pub async fn job(&self, who: &Principal, id: i64) -> Result<Job> {
        self.require(who)?;
        self.jobs.job(id).await
    }

    /// The job's log as text, one line per entry, each with its UTC time.
    pub async fn job_log(&self, who: &Principal, id: i64) -> Result<String> {
        self.require(who)?;
        Ok(render_log(&self.jobs.log(id).await?))
    }

    pub async fn stop_job(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<Job> {
        self.require(who)?;
        let job = self.jobs.stop(id).await?;
        self.access.audit(who, "stop", "job", &id.to_string(), ip);
        Ok(job)
    }

    pub async fn retry_job(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<Job> {
        self.require(who)?;
        let job = self.jobs.retry(id).await?;
        self.access.audit(who, "retry", "job", &id.to_string(), ip);
        Ok(job)
    }
}

/// A job log as text: `2026-01-02T03:04:05Z line`.
pub fn render_log(lines: &[(i64, String)]) -> String {
    let mut out = String::new();
    for (at, line) in lines {
        out.push_str(&super::time_rfc3339(*at));
        out.push(' ');
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A job as one of a kind's history (`/system/gc/{id}`): another kind's job
/// is not found there.
fn of_kind(job: Job, kind: &str) -> Result<Job> {
    if job.kind == kind {
        Ok(job)
    } else {
        Err(RegistryError::not_found(format!(
            "{kind} job {} not found",
            job.id
        )))
    }
}

/// GC and scrub, for the management API (system administrators).
impl Lifecycle {
    fn require_gc(&self, who: &Principal) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageGarbageCollection)
    }

    /// Run GC now; the job's id.
    pub async fn run_gc(&self, who: &Principal, ip: Option<&str>, params: GcParams) -> Result<i64> {
        self.require_gc(who)?;
        let id = self
            .jobs
            .enqueue(NewJob::manual(
                GC,
                serde_json::to_value(&params).unwrap_or_default(),
            ))
            .await?;
        self.access.audit(who, "create", "gc", &id.to_string(), ip);
        Ok(id)
    }

    /// The GC schedule (`None` when none was ever set).
    pub async fn gc_schedule(&self, who: &Principal) -> Result<Option<JobSchedule>> {
        self.require_gc(who)?;
        self.jobs.schedule(GC).await
    }

    /// Set the GC schedule; `Manual` runs GC now instead (the job's id).
    pub async fn set_gc_schedule(
        &self,
        who: &Principal,
        ip: Option<&str>,
        schedule_type: &str,
        cron_expr: &str,
        params: GcParams,
    ) -> Result<Option<i64>> {
        self.require_gc(who)?;
        if schedule_type == "Manual" {
            return self.run_gc(who, ip, params).await.map(Some);
        }
        self.jobs
            .set_schedule(
                GC,
                schedule_type,
                cron_expr,
                serde_json::to_value(&params).unwrap_or_default(),
            )
            .await?;
        self.access
            .audit(who, "update", "gc_schedule", schedule_type, ip);
        Ok(None)
    }

    /// Runs of one kind (`gc`, `scrub`), newest first.
    pub async fn history(
        &self,
        who: &Principal,
        kind: &str,
        page: PageReq,
    ) -> Result<(Vec<Job>, i64)> {
        self.require_gc(who)?;
        let filter = JobFilter {
            kind: Some(kind.to_string()),
            status: None,
        };
        self.jobs.list(&filter, page).await
    }

    /// One run of a kind.
    pub async fn run_of(&self, who: &Principal, kind: &str, id: i64) -> Result<Job> {
        self.require_gc(who)?;
        of_kind(self.jobs.job(id).await?, kind)
    }

    /// The log of one run of a kind.
    pub async fn run_log(&self, who: &Principal, kind: &str, id: i64) -> Result<String> {
        self.run_of(who, kind, id).await?;
        Ok(render_log(&self.jobs.log(id).await?))
    }

    /// Stop one run of a kind.
    pub async fn stop_run(
        &self,
        who: &Principal,
        ip: Option<&str>,
        kind: &str,
        id: i64,
    ) -> Result<Job> {
        self.run_of(who, kind, id).await?;
        let job = self.jobs.stop(id).await?;
        self.access.audit(who, "stop", kind, &id.to_string(), ip);
        Ok(job)
    }

    /// Run scrub now; the job's id.
    pub async fn run_scrub(
        &self,
        who: &Principal,
        ip: Option<&str>,
        params: ScrubParams,
    ) -> Result<i64> {
        self.require_gc(who)?;
        let id = self
            .jobs
            .enqueue(NewJob::manual(
                SCRUB,
                serde_json::to_value(&params).unwrap_or_default(),
            ))
            .await?;
        self.access
            .audit(who, "create", "scrub", &id.to_string(), ip);
        Ok(id)
    }
}

/// Whether a job was started by hand or by its schedule, as Harbor's GC
/// history says it (`job_kind`).
pub fn trigger_word(t: Trigger) -> &'static str {
    match t {
        Trigger::Manual => "MANUAL",
        Trigger::Schedule => "SCHEDULE",
    }
}
