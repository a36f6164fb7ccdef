//! The durable job queue: jobs are rows ([`JobStore`]), handlers are registered
//! by kind ([`JobHandler`]), workers claim runnable rows with a lease, and a
//! scheduler turns due cron schedules into jobs.
//!
//! Why rows and leases rather than an in-memory channel: a job must survive a
//! restart (a GC killed half way must finish), and several `wharf serve`
//! processes sharing one database must run each job once. A claim is one
//! atomic update; the running worker renews its lease; a job whose process
//! died is claimed again after its lease expires and run from the start (every
//! handler must therefore be idempotent, as GC is). Failures retry with
//! exponential backoff until `max_attempts`; a stop request is a flag the
//! handler checks between its steps.
//!
//! Using it from another concern (retention, replication):
//!
//! ```ignore
//! lifecycle.jobs().register("retention", Arc::new(MyHandler));
//! let id = lifecycle.jobs().enqueue(NewJob::manual("retention", params)).await?;
//! lifecycle.jobs().set_schedule("retention", "Daily", "", params).await?;
//! ```

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use crate::error::{RegistryError, Result};
use crate::metadata::identity::PageReq;
use crate::metadata::lifecycle::{
    Job, JobFilter, JobOutcome, JobSchedule, JobStatus, JobStore, NewJob, Trigger,
};
use crate::metadata::now;

/// Runs the jobs of one kind. Called with the claimed job and a context for
/// its log, its stop flag and its lease. Return what the run did (a JSON
/// object of counters, shown in the job's `result`); an error fails this
/// attempt (retried with backoff). A handler that sees
/// [`JobContext::should_stop`] returns early with what it did so far.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<serde_json::Value>;
}

/// Timing of the queue. The defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Jobs run at once by this process.
    pub workers: usize,
    /// How long a claim holds a job without renewal: after a crash, the job
    /// waits this long before another process takes it.
    pub lease: Duration,
    /// How often idle workers look for jobs enqueued by other processes.
    pub poll: Duration,
    /// First retry delay; doubled per failed attempt, at most one hour.
    pub backoff: Duration,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            workers: 2,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            backoff: Duration::from_secs(10),
        }
    }
}

/// What a running handler can do besides its work.
pub struct JobContext {
    store: Arc<dyn JobStore>,
    id: i64,
    stop: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
    buffered: Mutex<Vec<String>>,
}

impl JobContext {
    pub fn job_id(&self) -> i64 {
        self.id
    }

    /// Append a line to the job's log (written to the store in batches, and
    /// at the latest when the run ends).
    pub async fn log(&self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!(job = self.id, "{line}");
        let full = {
            let mut buf = self.buffered.lock().unwrap_or_else(|p| p.into_inner());
            buf.push(line);
            buf.len() >= 50
        };
        if full {
            self.flush().await;
        }
    }

    /// Write the buffered log lines.
    pub async fn flush(&self) {
        let lines = std::mem::take(&mut *self.buffered.lock().unwrap_or_else(|p| p.into_inner()));
        if let Err(e) = self.store.append_job_log(self.id, &lines).await {
            tracing::warn!(job = self.id, error = %e, "could not write the job log");
        }
    }

    /// A stop was requested, or this process lost the job's lease (another
    /// process may be running it now): finish the current step and return.
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.lost.load(Ordering::Relaxed)
    }

    /// A stop was requested (the run ends as `Stopped`).
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Harbor's schedule types as 6-field cron (`Custom` takes the given cron);
/// `None` → empty. `Manual` is not a schedule (the caller runs a job now).
pub fn schedule_cron(schedule_type: &str, custom: &str) -> Result<String> {
    let cron_expr = match schedule_type {
        "None" => "",
        "Hourly" => "0 0 * * * *",
        "Daily" => "0 0 0 * * *",
        "Weekly" => "0 0 0 * * 0",
        "Custom" => custom,
        other => {
            return Err(RegistryError::bad_request(format!(
                "schedule type {other:?}: use None, Hourly, Daily, Weekly, Custom or Manual"
            )));
        }
    };
    if !cron_expr.is_empty() {
        cron::Schedule::from_str(cron_expr).map_err(|e| {
            RegistryError::bad_request(format!(
                "cron {cron_expr:?}: {e} (six fields: sec min hour day month weekday)"
            ))
        })?;
    }
    Ok(cron_expr.to_string())
}

/// The next fire time of a 6-field cron strictly after `after` (unix seconds).
fn next_fire(cron_expr: &str, after: i64) -> Option<i64> {
    let schedule = cron::Schedule::from_str(cron_expr).ok()?;
    let after = chrono::DateTime::from_timestamp(after, 0)?;
    schedule.after(&after).next().map(|t| t.timestamp())
}

/// The queue of this process: handlers, workers, scheduler.
pub struct JobQueue {
    store: Arc<dyn JobStore>,
    handlers: RwLock<HashMap<String, Arc<dyn JobHandler>>>,
    /// This process's name in leases: unique per start.
    owner: String,
    options: QueueOptions,
    /// Poked when this process enqueues a job or changes a schedule.
    wake: Notify,
    /// Stop flags of the jobs running here, so a stop through this process
    /// is seen at once (other processes' stops arrive with the lease renewal).
    running: Mutex<HashMap<i64, Arc<AtomicBool>>>,
}

impl JobQueue {
    pub fn new(store: Arc<dyn JobStore>, options: QueueOptions) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "wharf".into());
        JobQueue {
            store,
            handlers: RwLock::new(HashMap::new()),
            owner: format!("{host}/{}/{}", std::process::id(), uuid::Uuid::new_v4()),
            options,
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// Run jobs of `kind` with `handler` (replacing an earlier one).
    pub fn register(&self, kind: &str, handler: Arc<dyn JobHandler>) {
        self.handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kind.to_string(), handler);
    }

    fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .handlers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        kinds.sort();
        kinds
    }

    fn handler(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(kind)
            .cloned()
    }

    /// Queue a job; it runs as soon as a worker (of any process) is free.
    pub async fn enqueue(&self, job: NewJob) -> Result<i64> {
        if self.handler(&job.kind).is_none() {
            return Err(RegistryError::bad_request(format!(
                "no job kind {:?}",
                job.kind
            )));
        }
        let id = self.store.enqueue_job(job).await?;
        self.wake.notify_waiters();
        Ok(id)
    }

    pub async fn job(&self, id: i64) -> Result<Job> {
        self.store
            .job(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("job {id} not found")))
    }

    /// Jobs of each kind in each status (`/metrics`).
    pub async fn counts(&self) -> Result<Vec<(String, JobStatus, i64)>> {
        Ok(self.store.job_counts().await?)
    }

    pub async fn list(&self, filter: &JobFilter, page: PageReq) -> Result<(Vec<Job>, i64)> {
        Ok(self.store.list_jobs(filter, page).await?)
    }

    pub async fn log(&self, id: i64) -> Result<Vec<(i64, String)>> {
        self.job(id).await?;
        Ok(self.store.job_log(id).await?)
    }

    /// Stop a pending or running job; a job that has ended is a conflict.
    pub async fn stop(&self, id: i64) -> Result<Job> {
        let job = self.job(id).await?;
        if job.status.is_final() {
            return Err(RegistryError::conflict(format!(
                "job {id} has already ended ({})",
                job.status.as_str()
            )));
        }
        let job = self
            .store
            .request_stop(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("job {id} not found")))?;
        if let Some(flag) = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            flag.store(true, Ordering::Relaxed);
        }
        Ok(job)
    }

    /// Run an ended (`Error` or `Stopped`) job again, with fresh attempts.
    pub async fn retry(&self, id: i64) -> Result<Job> {
        let job = self.job(id).await?;
        if !self.store.retry_job(id, now()).await? {
            return Err(RegistryError::conflict(format!(
                "job {id} is {}: only jobs in Error or Stopped can be retried",
                job.status.as_str()
            )));
        }
        self.wake.notify_waiters();
        self.job(id).await
    }

    /// Set the schedule of a kind (Harbor's types; `None` removes it).
    pub async fn set_schedule(
        &self,
        kind: &str,
        schedule_type: &str,
        custom_cron: &str,
        parameters: serde_json::Value,
    ) -> Result<JobSchedule> {
        let cron_expr = schedule_cron(schedule_type, custom_cron)?;
        let existing = self.store.schedule(kind).await?;
        let schedule = JobSchedule {
            kind: kind.to_string(),
            schedule_type: schedule_type.to_string(),
            next_run_at: next_fire(&cron_expr, now()),
            cron: cron_expr,
            parameters,
            created_at: existing.map(|s| s.created_at).unwrap_or_else(now),
            updated_at: now(),
        };
        self.store.put_schedule(&schedule).await?;
        self.wake.notify_waiters();
        Ok(schedule)
    }

    pub async fn schedule(&self, kind: &str) -> Result<Option<JobSchedule>> {
        Ok(self.store.schedule(kind).await?)
    }

    /// Start the workers and the scheduler (once per process).
    pub fn start(self: &Arc<Self>) {
        let queue = self.clone();
        tokio::spawn(async move { queue.run_workers().await });
        let queue = self.clone();
        tokio::spawn(async move { queue.run_scheduler().await });
    }

    async fn idle(&self) {
        tokio::select! {
            _ = tokio::time::sleep(self.options.poll) => {}
            _ = self.wake.notified() => {}
        }
    }

    async fn run_workers(self: Arc<Self>) {
        let slots = Arc::new(Semaphore::new(self.options.workers.max(1)));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let kinds = self.kinds();
            let claimed = if kinds.is_empty() {
                Ok(None)
            } else {
                self.store
                    .claim_job(
                        &self.owner,
                        &kinds,
                        now(),
                        self.options.lease.as_secs().max(1) as i64,
                    )
                    .await
            };
            match claimed {
                Ok(Some(job)) => {
                    let queue = self.clone();
                    tokio::spawn(async move {
                        queue.run_one(job).await;
                        drop(slot);
                    });
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "claiming a job failed"),
            }
            drop(slot);
            self.idle().await;
        }
    }

    /// One attempt of a claimed job: heartbeat beside the handler, then the outcome.
    async fn run_one(self: Arc<Self>, job: Job) {
        let stop = Arc::new(AtomicBool::new(job.stop_requested));
        let lost = Arc::new(AtomicBool::new(false));
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.id, stop.clone());
        let ctx = JobContext {
            store: self.store.clone(),
            id: job.id,
            stop: stop.clone(),
            lost: lost.clone(),
            buffered: Mutex::new(Vec::new()),
        };
        let heartbeat = {
            let store = self.store.clone();
            let owner = self.owner.clone();
            let lease = self.options.lease.as_secs().max(1) as i64;
            let every =
                (self.options.lease / 3).clamp(Duration::from_millis(200), Duration::from_secs(5));
            let (id, stop, lost) = (job.id, stop.clone(), lost.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match store.renew_lease(id, &owner, now() + lease).await {
                        Ok(true) => {}
                        Ok(false) => {
                            lost.store(true, Ordering::Relaxed);
                            return;
                        }
                        Err(e) => tracing::warn!(job = id, error = %e, "renewing a job lease"),
                    }
                    if let Ok(Some(j)) = store.job(id).await
                        && j.stop_requested
                    {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            })
        };
        // The "started (attempt N of M)" line was written with the claim itself.
        let outcome = match self.handler(&job.kind) {
            Some(handler) => handler.run(&job, &ctx).await,
            None => Err(RegistryError::Internal(format!(
                "no handler for job kind {:?}",
                job.kind
            ))),
        };
        heartbeat.abort();
        let outcome = match outcome {
            Ok(result) if ctx.stop_requested() => {
                ctx.log("stopped on request").await;
                JobOutcome::Stopped(result)
            }
            Ok(result) => {
                ctx.log(format!("finished: {result}")).await;
                JobOutcome::Success(result)
            }
            Err(e) => {
                let exp = job.attempts.saturating_sub(1).min(12);
                let delay = (self.options.backoff * 2u32.pow(exp)).min(Duration::from_secs(3600));
                // Rounded up to the next whole second: never sooner than the delay.
                let retry_at = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| (d + delay).as_secs() as i64 + 1)
                    .unwrap_or(0);
                if job.attempts < job.max_attempts {
                    ctx.log(format!(
                        "failed: {e}; retrying in {}s",
                        delay.as_secs().max(1)
                    ))
                    .await;
                } else {
                    ctx.log(format!("failed: {e}; no attempts left")).await;
                }
                JobOutcome::Failed {
                    message: e.to_string(),
                    retry_at,
                }
            }
        };
        ctx.flush().await;
        match self.store.finish_job(job.id, &self.owner, outcome).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                job = job.id,
                "the job's lease was lost before it ended; its new holder decides the outcome"
            ),
            Err(e) => tracing::error!(job = job.id, error = %e, "recording a job's outcome"),
        }
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&job.id);
        // A retry may be due soon; let an idle worker look again.
        self.wake.notify_waiters();
    }

    /// Enqueue a job for every due schedule, once across processes: firing
    /// moves the schedule's next time forward in the same transaction.
    async fn run_scheduler(self: Arc<Self>) {
        loop {
            let t = now();
            match self.store.due_schedules(t).await {
                Ok(due) => {
                    for s in due {
                        let Some(expected) = s.next_run_at else {
                            continue;
                        };
                        let job = NewJob {
                            kind: s.kind.clone(),
                            parameters: s.parameters.clone(),
                            trigger: Trigger::Schedule,
                            max_attempts: 3,
                        };
                        match self
                            .store
                            .fire_schedule(&s.kind, expected, next_fire(&s.cron, t), job)
                            .await
                        {
                            Ok(Some(id)) => {
                                tracing::info!(kind = %s.kind, job = id, "scheduled job queued");
                                self.wake.notify_waiters();
                            }
                            Ok(None) => {}
                            Err(e) => {
                                tracing::warn!(kind = %s.kind, error = %e, "firing a schedule")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading job schedules"),
            }
            self.idle().await;
        }
    }
}

/// Whether `status` names a job status (for filters given as text).
pub fn parse_status(s: &str) -> Result<JobStatus> {
    JobStatus::parse(s).ok_or_else(|| {
        RegistryError::bad_request(format!(
            "job status {s:?}: use Pending, Running, Success, Error or Stopped"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use serde_json::json;

    use super::*;
    use crate::metadata::SqliteMetadata;

    fn fast() -> QueueOptions {
        QueueOptions {
            workers: 2,
            lease: Duration::from_secs(2),
            poll: Duration::from_millis(50),
            backoff: Duration::from_secs(1),
        }
    }

    /// A started queue on a fresh database, running `handler` for `kind`.
    async fn running(
        kind: &str,
        handler: Arc<dyn JobHandler>,
    ) -> (tempfile::TempDir, Arc<JobQueue>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteMetadata::open(&dir.path().join("w.db"))
                .await
                .unwrap(),
        );
        let queue = Arc::new(JobQueue::new(store, fast()));
        queue.register(kind, handler);
        queue.start();
        (dir, queue)
    }

    async fn wait_final(queue: &JobQueue, id: i64) -> Job {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let job = queue.job(id).await.unwrap();
            if job.status.is_final() {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} never ended: {job:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails until its third attempt, noting when each attempt started.
    struct Flaky(Mutex<Vec<Instant>>);

    #[async_trait::async_trait]
    impl JobHandler for Flaky {
        async fn run(&self, job: &Job, ctx: &JobContext) -> Result<serde_json::Value> {
            self.0.lock().unwrap().push(Instant::now());
            ctx.log("working").await;
            if job.attempts < 3 {
                return Err(RegistryError::Internal("not yet".into()));
            }
            Ok(json!({"attempt": job.attempts}))
        }
    }

    #[tokio::test]
    async fn failures_retry_with_exponential_backoff() {
        let flaky = Arc::new(Flaky(Mutex::new(Vec::new())));
        let (_dir, queue) = running("flaky", flaky.clone()).await;
        let id = queue
            .enqueue(NewJob::manual("flaky", json!({})))
            .await
            .unwrap();
        let job = wait_final(&queue, id).await;
        assert_eq!(job.status, JobStatus::Success);
        assert_eq!(job.result, Some(json!({"attempt": 3})));
        let starts = flaky.0.lock().unwrap().clone();
        assert_eq!(starts.len(), 3);
        // Backoff 1 s, then 2 s.
        assert!(starts[1] - starts[0] >= Duration::from_secs(1));
        assert!(starts[2] - starts[1] >= Duration::from_secs(2));
        let log = queue.log(id).await.unwrap();
        let retries = log
            .iter()
            .filter(|(_, l)| l.contains("retrying in"))
            .count();
        assert_eq!(retries, 2, "{log:?}");
        // Unknown kinds are refused rather than queued forever.
        assert!(
            queue
                .enqueue(NewJob::manual("nope", json!({})))
                .await
                .is_err()
        );
    }

    /// Works in steps until told to stop.
    struct Steps;

    #[async_trait::async_trait]
    impl JobHandler for Steps {
        async fn run(&self, _job: &Job, ctx: &JobContext) -> Result<serde_json::Value> {
            let mut steps = 0;
            while !ctx.should_stop() && steps < 600 {
                steps += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(json!({"steps": steps}))
        }
    }

    #[tokio::test]
    async fn a_running_job_stops_between_steps() {
        let (_dir, queue) = running("steps", Arc::new(Steps)).await;
        let id = queue
            .enqueue(NewJob::manual("steps", json!({})))
            .await
            .unwrap();
        while queue.job(id).await.unwrap().status != JobStatus::Running {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        queue.stop(id).await.unwrap();
        let job = wait_final(&queue, id).await;
        assert_eq!(job.status, JobStatus::Stopped);
        let steps = job.result.unwrap()["steps"].as_i64().unwrap();
        assert!((1..600).contains(&steps), "{steps}");
        // An ended job cannot be stopped again, but can be retried.
        assert!(queue.stop(id).await.is_err());
        assert_eq!(queue.retry(id).await.unwrap().status, JobStatus::Pending);
    }

    /// Counts runs per job id.
    struct Count(Mutex<HashMap<i64, u32>>);

    #[async_trait::async_trait]
    impl JobHandler for Count {
        async fn run(&self, job: &Job, _ctx: &JobContext) -> Result<serde_json::Value> {
            *self.0.lock().unwrap().entry(job.id).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(json!({}))
        }
    }

    /// Two processes on one database (two stores with their own connections):
    /// every job runs exactly once.
    #[tokio::test]
    async fn two_queues_on_one_database_run_each_job_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let a = Arc::new(SqliteMetadata::open(&path).await.unwrap());
        let b = Arc::new(SqliteMetadata::open(&path).await.unwrap());
        let count = Arc::new(Count(Mutex::new(HashMap::new())));
        let qa = Arc::new(JobQueue::new(a, fast()));
        let qb = Arc::new(JobQueue::new(b, fast()));
        qa.register("count", count.clone());
        qb.register("count", count.clone());
        qa.start();
        qb.start();
        let mut ids = Vec::new();
        for _ in 0..30 {
            ids.push(
                qa.enqueue(NewJob::manual("count", json!({})))
                    .await
                    .unwrap(),
            );
        }
        for id in &ids {
            assert_eq!(wait_final(&qb, *id).await.status, JobStatus::Success);
        }
        let runs = count.0.lock().unwrap().clone();
        assert_eq!(runs.len(), 30);
        assert!(runs.values().all(|&n| n == 1), "{runs:?}");
    }

    /// A job claimed by a process that died is taken over once its lease
    /// expires, and completes.
    #[tokio::test]
    async fn a_dead_holders_job_is_claimed_after_its_lease() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteMetadata::open(&dir.path().join("w.db"))
                .await
                .unwrap(),
        );
        let id = store
            .enqueue_job(NewJob::manual("count", json!({})))
            .await
            .unwrap();
        let dead = store
            .claim_job("dead", &["count".into()], now(), 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(dead.id, id);
        let count = Arc::new(Count(Mutex::new(HashMap::new())));
        let queue = Arc::new(JobQueue::new(store, fast()));
        queue.register("count", count.clone());
        let started = Instant::now();
        queue.start();
        let job = wait_final(&queue, id).await;
        assert_eq!((job.status, job.attempts), (JobStatus::Success, 2));
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "not before the lease ran out"
        );
    }

    #[tokio::test]
    async fn a_due_schedule_enqueues_a_job() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteMetadata::open(&dir.path().join("w.db"))
                .await
                .unwrap(),
        );
        let count = Arc::new(Count(Mutex::new(HashMap::new())));
        let queue = Arc::new(JobQueue::new(store.clone(), fast()));
        queue.register("count", count.clone());
        // Every second.
        let s = queue
            .set_schedule("count", "Custom", "* * * * * *", json!({"x": 1}))
            .await
            .unwrap();
        assert!(s.next_run_at.unwrap() > now() - 1);
        assert!(
            queue
                .set_schedule("count", "Custom", "nope", json!({}))
                .await
                .is_err()
        );
        assert!(
            queue
                .set_schedule("count", "Sometimes", "", json!({}))
                .await
                .is_err()
        );
        queue.start();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        queue
            .set_schedule("count", "None", "", json!({}))
            .await
            .unwrap();
        let (jobs, _) = queue
            .list(
                &JobFilter::default(),
                PageReq {
                    page: 1,
                    page_size: 100,
                },
            )
            .await
            .unwrap();
        assert!(!jobs.is_empty());
        assert!(jobs.iter().all(|j| j.trigger == Trigger::Schedule));
        assert!(jobs.iter().all(|j| j.parameters == json!({"x": 1})));
        assert_eq!(
            store.schedule("count").await.unwrap().unwrap().next_run_at,
            None
        );
    }
}
