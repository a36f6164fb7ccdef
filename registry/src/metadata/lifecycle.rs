//! What the storage lifecycle keeps: the durable job queue ([`JobStore`]: jobs,
//! their log lines, schedules) and what garbage collection and scrub ask of the
//! content tables ([`LifecycleStore`]).
//!
//! The queue is a table, not a channel, so jobs survive restarts and several
//! `wharf serve` processes on one database share it: a job is claimed by one
//! atomic update that also sets a lease; the holder renews the lease while it
//! runs; a job whose holder died is claimed again once its lease has expired.

use async_trait::async_trait;

use super::Result;
use super::identity::PageReq;
use crate::digest::Digest;

/// Where a job is in its life: Harbor's job status words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Pending,
    Running,
    Success,
    Error,
    Stopped,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Success,
        JobStatus::Error,
        JobStatus::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "Pending",
            JobStatus::Running => "Running",
            JobStatus::Success => "Success",
            JobStatus::Error => "Error",
            JobStatus::Stopped => "Stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        JobStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Success, Error and Stopped: the job will not run again unless retried.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Success | JobStatus::Error | JobStatus::Stopped
        )
    }
}

/// Who asked for a job (Harbor's `trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    Schedule,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "Manual",
            Trigger::Schedule => "Schedule",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Manual" => Some(Trigger::Manual),
            "Schedule" => Some(Trigger::Schedule),
            _ => None,
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// `gc`, `retention`, `scan_all`, `scrub`, … (the handler that runs it).
    pub kind: String,
    pub parameters: serde_json::Value,
    pub trigger: Trigger,
    /// Runs before the job ends in `Error` (at least 1).
    pub max_attempts: u32,
}

impl NewJob {
    /// A manual job with the default of 3 attempts.
    pub fn manual(kind: &str, parameters: serde_json::Value) -> Self {
        NewJob {
            kind: kind.to_string(),
            parameters,
            trigger: Trigger::Manual,
            max_attempts: 3,
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub parameters: serde_json::Value,
    pub status: JobStatus,
    pub trigger: Trigger,
    /// Runs started so far (a claim counts as one).
    pub attempts: u32,
    pub max_attempts: u32,
    pub next_run_at: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub stop_requested: bool,
    /// What the last run reported (its counters), as JSON.
    pub result: Option<serde_json::Value>,
    /// Why the last run failed.
    pub message: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub updated_at: i64,
}

/// How a run ended, as its worker reports it.
#[derive(Debug, Clone)]
pub enum JobOutcome {
    Success(serde_json::Value),
    /// Failed; run again at `retry_at` unless attempts are used up (then `Error`).
    Failed {
        message: String,
        retry_at: i64,
    },
    /// Stopped on request (between steps); what was done so far.
    Stopped(serde_json::Value),
}

/// Which jobs a listing shows.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub kind: Option<String>,
    pub status: Option<JobStatus>,
}

/// A job kind's schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSchedule {
    pub kind: String,
    /// Harbor's schedule type: `Hourly`, `Daily`, `Weekly`, `Custom`, `None`.
    pub schedule_type: String,
    /// Harbor's 6-field cron (seconds first); empty for `None`.
    pub cron: String,
    pub parameters: serde_json::Value,
    /// When it fires next; `None` when it never fires.
    pub next_run_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Most log lines kept per job: a runaway job cannot fill the database.
pub const MAX_LOG_LINES: i64 = 10_000;

#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Queue a job, runnable now; its id.
    async fn enqueue_job(&self, job: NewJob) -> Result<i64>;
    /// Claim one runnable job of the given kinds, atomically: a `Pending` job
    /// whose `next_run_at` has come, or a `Running` job whose lease expired
    /// (its process died). The claim sets the lease (`owner`, `now + lease`),
    /// status `Running`, counts an attempt and, in the same transaction, logs
    /// "KIND job ID started (attempt N of M)". Oldest runnable first.
    async fn claim_job(
        &self,
        owner: &str,
        kinds: &[String],
        now: i64,
        lease_secs: i64,
    ) -> Result<Option<Job>>;
    /// Extend the lease of a job this owner holds; false if it no longer holds it
    /// (expired and claimed by another, or ended): the worker must stop.
    async fn renew_lease(&self, id: i64, owner: &str, until: i64) -> Result<bool>;
    /// End a run this owner holds; false if it no longer held the job.
    async fn finish_job(&self, id: i64, owner: &str, outcome: JobOutcome) -> Result<bool>;
    /// Ask a job to stop: a pending job becomes `Stopped` at once, a running
    /// one is flagged (its worker checks between steps). The job after the request.
    async fn request_stop(&self, id: i64) -> Result<Option<Job>>;
    /// Queue an ended job (`Error`, `Stopped`) again with fresh attempts; false
    /// if it is not in one of those states.
    async fn retry_job(&self, id: i64, now: i64) -> Result<bool>;
    async fn job(&self, id: i64) -> Result<Option<Job>>;
    /// Newest first, with the total matching the filter.
    async fn list_jobs(&self, filter: &JobFilter, page: PageReq) -> Result<(Vec<Job>, i64)>;
    /// How many jobs there are of each kind in each status (`/metrics`).
    async fn job_counts(&self) -> Result<Vec<(String, JobStatus, i64)>>;
    /// Append log lines; beyond [`MAX_LOG_LINES`] lines are dropped.
    async fn append_job_log(&self, id: i64, lines: &[String]) -> Result<()>;
    /// The log, oldest line first: `(unix seconds, line)`.
    async fn job_log(&self, id: i64) -> Result<Vec<(i64, String)>>;

    /// Create or replace the schedule of a kind.
    async fn put_schedule(&self, schedule: &JobSchedule) -> Result<()>;
    async fn schedule(&self, kind: &str) -> Result<Option<JobSchedule>>;
    /// Schedules due at `now` (`next_run_at <= now`).
    async fn due_schedules(&self, now: i64) -> Result<Vec<JobSchedule>>;
    /// Fire a due schedule once: if its `next_run_at` is still `expected`,
    /// move it to `next` and enqueue `job`, in one transaction. The job's id,
    /// or `None` when another process fired it first.
    async fn fire_schedule(
        &self,
        kind: &str,
        expected: i64,
        next: Option<i64>,
        job: NewJob,
    ) -> Result<Option<i64>>;
}

/// What one garbage collection pass found or did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    pub manifests: u64,
    pub blobs: u64,
    pub bytes: u64,
}

/// A blob whose rows are marked `deleting`: its file is to be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoomedBlob {
    pub digest: Digest,
    pub size: u64,
}

/// A manifest row, for scrub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestBytes {
    pub repository: String,
    pub digest: Digest,
    pub content: Vec<u8>,
}

/// What garbage collection and scrub ask of the content tables. The rules (and
/// why they keep every needed blob) are in docs/design.md, "Online garbage
/// collection".
#[async_trait]
pub trait LifecycleStore: Send + Sync + 'static {
    /// Delete, in one transaction, the manifests nothing keeps alive that were
    /// last pushed before `cutoff`: with `untagged`, every manifest not
    /// reachable from a tag; otherwise only accessories whose subject is gone.
    /// How many were deleted.
    async fn collect_manifests(&self, cutoff: i64, untagged: bool) -> Result<u64>;
    /// What a collection at `cutoff` would delete (manifests, then the blobs
    /// that would then be unreferenced), changing nothing.
    async fn preview(&self, cutoff: i64, untagged: bool) -> Result<Collected>;
    /// Phase 1: in one transaction, re-check and mark up to `limit` such blobs
    /// `deleting` and drop their repository links. The marked blobs.
    async fn mark_blobs_deleting(&self, cutoff: i64, limit: u32) -> Result<Vec<DoomedBlob>>;
    /// Blobs left `deleting` (by a GC that crashed between its phases).
    async fn deleting_blobs(&self, limit: u32) -> Result<Vec<DoomedBlob>>;
    /// Phase 3: forget blobs whose files are gone (only rows still `deleting`).
    async fn forget_blobs(&self, digests: &[Digest]) -> Result<u64>;

    /// Blobs in digest order after `after`, at most `limit` (scrub walks them all).
    async fn blobs_after(&self, after: Option<&Digest>, limit: u32) -> Result<Vec<DoomedBlob>>;
    /// Manifests in id order after `after` (scrub), at most `limit`: (id, row).
    async fn manifests_after(&self, after: i64, limit: u32) -> Result<Vec<(i64, ManifestBytes)>>;
    /// Repositories that link or reference a blob (scrub's report).
    async fn repositories_with_blob(&self, digest: &Digest) -> Result<Vec<String>>;
    /// The blob has a row that GC is not deleting.
    async fn blob_in_use(&self, digest: &Digest) -> Result<bool>;
    /// No repository serves the blob any more (scrub's quarantine); manifests
    /// that reference it keep their references.
    async fn unlink_everywhere(&self, digest: &Digest) -> Result<u64>;
}
