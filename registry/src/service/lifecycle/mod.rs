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

pub mod immutability;
pub mod jobs;
pub mod quota;
pub mod retention;
mod selectors;

use std::sync::Arc;

pub use immutability::{Immutability, ImmutableRule};
pub use jobs::{JobContext, JobHandler, JobQueue, QueueOptions, parse_status, schedule_cron};
pub use quota::Quotas;
pub use retention::{Retention, RetentionPolicy};

use super::access::Access;
use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
use crate::error::Result;
use crate::metadata::identity::PageReq;
use crate::metadata::lifecycle::{Job, JobFilter, JobStore};

/// Options of the lifecycle service.
#[derive(Debug, Clone, Default)]
pub struct LifecycleOptions {
    pub queue: QueueOptions,
}

pub struct Lifecycle {
    jobs: Arc<JobQueue>,
    access: Arc<Access>,
}

impl Lifecycle {
    pub fn new(store: Arc<dyn JobStore>, access: Arc<Access>, options: LifecycleOptions) -> Self {
        Lifecycle {
            jobs: Arc::new(JobQueue::new(store, options.queue)),
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
