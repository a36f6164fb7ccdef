//! Replication executions (Harbor's `/replication/executions`): runs of a policy,
//! each a job of kind `replication` on the durable job queue, with one task per
//! artifact (a tag of a repository) that the copy engine ([`super::copy`]) copies.
//!
//! A run first lists its work (the source's repositories through the catalog, their
//! tags, through the policy's filters) and writes the task list; then it does the
//! tasks not yet done. The queue runs a job whose process died again after its lease,
//! so a run cut short by a crash resumes: the list is kept, tasks that succeeded are
//! not done again, and a half-done task starts over (a copy is idempotent: what the
//! destination already has is not sent again). A task that fails is retried with
//! backoff and then recorded as failed with its reason; the other tasks go on.
//!
//! Triggers: a manual `POST`, the policy's 6-field cron (a compare-and-set on the
//! next fire time, so one process runs each fire), and pushes and deletes of this
//! registry (event-based push policies: a run limited to that one artifact).

use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::copy::{
    Copier, CopyError, LocalProjects, LocalSide, Outcome, Placed, RemoteSide, Side, cosign_subject,
    destination_repository, is_accessory_tag,
};
use super::policies::{Policies, ReplicationPolicy};
use super::registries::Registries;
use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
use crate::error::{RegistryError, Result};
use crate::metadata::identity::PageReq;
use crate::metadata::lifecycle::{Job, JobStatus, NewJob, Trigger as JobTrigger};
use crate::metadata::replication::{StoredExecution, StoredTask};
use crate::metadata::{ReplicationStore, now};
use crate::service::access::Access;
use crate::service::distribution::Distribution;
use crate::service::events::{Event, Subscriber};
use crate::service::labels::Labels;
use crate::service::lifecycle::jobs::{JobContext, JobHandler, JobQueue};
use crate::service::lifecycle::selectors::{Compiled, Selector, compile};
use crate::service::metrics::Metrics;
use crate::service::time_rfc3339;

/// The job kind of replication runs.
pub const JOB_KIND: &str = "replication";

/// How tasks retry. The defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct ReplicationOptions {
    /// Tries of one task before it fails.
    pub task_attempts: u32,
    /// The first retry's delay, doubled per retry.
    pub task_backoff: Duration,
    /// How often the scheduler looks for due policies.
    pub schedule_poll: Duration,
    /// Tasks of one execution run at once.
    pub task_concurrency: usize,
}

impl Default for ReplicationOptions {
    fn default() -> Self {
        ReplicationOptions {
            task_attempts: 4,
            task_backoff: Duration::from_secs(2),
            schedule_poll: Duration::from_secs(1),
            task_concurrency: 4,
        }
    }
}

/// Harbor's `ReplicationExecution`.
#[derive(Debug, Clone, Serialize)]
pub struct Execution {
    pub id: i64,
    pub policy_id: i64,
    pub status: String,
    pub status_text: String,
    pub trigger: String,
    pub start_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    pub total: i64,
    pub failed: i64,
    pub succeed: i64,
    pub in_progress: i64,
    pub stopped: i64,
}

/// Harbor's `ReplicationTask`, with the bytes sent and the duration.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub id: i64,
    pub execution_id: i64,
    pub resource_type: String,
    pub src_resource: String,
    pub dst_resource: String,
    pub operation: String,
    pub status: String,
    pub job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Bytes sent to the destination.
    pub bytes: i64,
    /// Seconds from start to end.
    pub duration: i64,
    pub attempts: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// What an event-based run is limited to.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct Scope {
    repository: String,
    /// A tag, or a digest (a delete by digest).
    reference: String,
    /// `copy` or `deletion`.
    operation: String,
}

/// A policy's filters, compiled.
struct Filters {
    names: Vec<Compiled>,
    tags: Vec<Compiled>,
    /// `image`: only images (and indexes of them); `artifact` or none: everything.
    images_only: bool,
    /// Label filters: (names, excludes). Harbor's rule: an artifact matches one
    /// when it carries every label named; `matches` keeps those, `excludes` the rest.
    labels: Vec<(Vec<String>, bool)>,
}

impl Filters {
    fn of(p: &ReplicationPolicy) -> Result<Filters> {
        let mut f = Filters {
            names: Vec::new(),
            tags: Vec::new(),
            images_only: false,
            labels: Vec::new(),
        };
        for filter in &p.filters {
            let decoration = filter
                .decoration
                .clone()
                .unwrap_or_else(|| "matches".into());
            match filter.kind.as_str() {
                "name" | "tag" => {
                    let sel = Selector {
                        kind: "doublestar".into(),
                        decoration,
                        pattern: filter.value.as_str().unwrap_or_default().to_string(),
                        extras: String::new(),
                    };
                    let c = compile(&sel, "matches", "excludes", &filter.kind)?;
                    if filter.kind == "name" {
                        f.names.push(c);
                    } else {
                        f.tags.push(c);
                    }
                }
                "resource" => f.images_only = filter.value.as_str() == Some("image"),
                "label" => {
                    let names = match &filter.value {
                        Value::String(one) => vec![one.clone()],
                        Value::Array(many) => many
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect(),
                        _ => Vec::new(),
                    };
                    if !names.is_empty() {
                        f.labels.push((names, decoration == "excludes"));
                    }
                }
                _ => {}
            }
        }
        Ok(f)
    }

    fn repository(&self, name: &str) -> bool {
        self.names.iter().all(|c| c.passes(name))
    }

    /// Whether an artifact carrying the labels named `carried` passes every label filter.
    fn labels(&self, carried: &[String]) -> bool {
        self.labels.iter().all(|(names, excludes)| {
            let all = names.iter().all(|n| carried.contains(n));
            all != *excludes
        })
    }

    fn tag(&self, tag: &str) -> bool {
        !is_accessory_tag(tag) && self.tags.iter().all(|c| c.passes(tag))
    }
}

/// Whether a manifest is an image (or an index): Harbor's `image` resource type.
fn is_image(media_type: &str, body: &[u8]) -> bool {
    if media_type.contains("index") || media_type.contains("manifest.list") {
        return true;
    }
    let config = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["config"]["mediaType"].as_str().map(str::to_string))
        .unwrap_or_default();
    config == wharf_oci::media_types::IMAGE_CONFIG || config.contains("docker.container.image")
}

/// The replication service: executions and their tasks.
pub struct Replication {
    store: Arc<dyn ReplicationStore>,
    access: Arc<Access>,
    registries: Arc<Registries>,
    policies: Arc<Policies>,
    distribution: Arc<Distribution>,
    /// A pull's missing destination projects are created through it.
    projects: Arc<LocalProjects>,
    jobs: Arc<JobQueue>,
    metrics: Arc<Metrics>,
    options: ReplicationOptions,
    /// The source artifacts' labels, for `label` filters.
    labels: Arc<Labels>,
    /// This service, for work it spawns (event-based runs).
    me: Weak<Replication>,
}

impl Replication {
    /// The service, with its job handler registered on `jobs` and its subscription
    /// to distribution's events (both held weakly).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn ReplicationStore>,
        access: Arc<Access>,
        registries: Arc<Registries>,
        policies: Arc<Policies>,
        distribution: Arc<Distribution>,
        projects: LocalProjects,
        jobs: Arc<JobQueue>,
        metrics: Arc<Metrics>,
        options: ReplicationOptions,
        labels: Arc<Labels>,
    ) -> Arc<Self> {
        let me = Arc::new_cyclic(|me| Replication {
            me: me.clone(),
            store,
            access,
            registries,
            policies,
            distribution: distribution.clone(),
            projects: Arc::new(projects),
            jobs: jobs.clone(),
            metrics,
            options,
            labels,
        });
        jobs.register(JOB_KIND, Arc::new(ReplicationJobs(Arc::downgrade(&me))));
        let subscriber: Arc<dyn Subscriber> = me.clone();
        distribution.events().subscribe(Arc::downgrade(&subscriber));
        me
    }

    /// `POST /replication/executions {"policy_id":N}`: a manual run; its id.
    pub async fn start(&self, who: &Principal, ip: Option<&str>, policy_id: i64) -> Result<i64> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        let policy = self.policies.policy(policy_id).await?;
        if !policy.enabled {
            return Err(RegistryError::bad_request(format!(
                "replication policy {} is disabled",
                policy.name
            )));
        }
        let id = self.launch(&policy, "manual", None).await?;
        self.access.audit(
            who,
            "create",
            "replication_execution",
            &format!("{}/{id}", policy.name),
            ip,
        );
        Ok(id)
    }

    async fn launch(
        &self,
        policy: &ReplicationPolicy,
        trigger: &str,
        scope: Option<&Scope>,
    ) -> Result<i64> {
        let scope_text = scope
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| RegistryError::Internal(e.to_string()))?;
        let id = self
            .store
            .create_execution(policy.id, trigger, scope_text.as_deref())
            .await?;
        let mut job = NewJob::manual(JOB_KIND, json!({"execution_id": id}));
        if trigger == "scheduled" {
            job.trigger = JobTrigger::Schedule;
        }
        // Attempts of the whole run: a crash resumes it; tasks retry on their own.
        job.max_attempts = 5;
        match self.jobs.enqueue(job).await {
            Ok(job_id) => self.store.set_execution_job(id, job_id).await?,
            Err(e) => {
                self.store
                    .set_execution_status(id, "Failed", &e.to_string(), true)
                    .await?;
                return Err(e);
            }
        }
        Ok(id)
    }

    pub async fn list(
        &self,
        who: &Principal,
        policy_id: Option<i64>,
        page: PageReq,
    ) -> Result<(Vec<Execution>, i64)> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        let (list, total) = self.store.executions(policy_id, page).await?;
        let mut out = Vec::with_capacity(list.len());
        for mut e in list {
            self.settle(&mut e).await?;
            out.push(self.shown(e).await?);
        }
        Ok((out, total))
    }

    pub async fn get(&self, who: &Principal, id: i64) -> Result<Execution> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        let e = self.execution(id).await?;
        self.shown(e).await
    }

    /// `PUT /replication/executions/{id}`: stop it.
    pub async fn stop(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        let e = self.execution(id).await?;
        if e.end_time.is_some() {
            return Err(RegistryError::conflict(format!(
                "replication execution {id} has already ended ({})",
                e.status
            )));
        }
        if let Some(job) = e.job_id {
            match self.jobs.stop(job).await {
                Ok(_) => {}
                // The job ended between the two reads: its handler records the end.
                Err(RegistryError::Api { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        self.access
            .audit(who, "stop", "replication_execution", &id.to_string(), ip);
        Ok(())
    }

    pub async fn tasks(&self, who: &Principal, id: i64, page: PageReq) -> Result<(Vec<Task>, i64)> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        let e = self.execution(id).await?;
        let all = self.store.tasks(id).await?;
        let total = all.len() as i64;
        let job_id = e.job_id.map(|j| j.to_string()).unwrap_or_default();
        let tasks = all
            .into_iter()
            .skip(page.offset() as usize)
            .take(page.page_size as usize)
            .map(|t| shown_task(t, &job_id))
            .collect();
        Ok((tasks, total))
    }

    pub async fn task_log(&self, who: &Principal, id: i64, task: i64) -> Result<String> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        self.execution(id).await?;
        self.store
            .task(id, task)
            .await?
            .map(|t| t.log)
            .ok_or_else(|| {
                RegistryError::not_found(format!(
                    "replication task {task} of execution {id} not found"
                ))
            })
    }

    async fn execution(&self, id: i64) -> Result<StoredExecution> {
        let mut e = self.store.execution(id).await?.ok_or_else(|| {
            RegistryError::not_found(format!("replication execution {id} not found"))
        })?;
        self.settle(&mut e).await?;
        Ok(e)
    }

    /// An execution whose job ended without its handler saying so (its last attempt
    /// died with its process, or it was stopped before it started) takes the job's end.
    async fn settle(&self, e: &mut StoredExecution) -> Result<()> {
        if e.end_time.is_some() {
            return Ok(());
        }
        let Some(job_id) = e.job_id else {
            return Ok(());
        };
        let job = self.jobs.job(job_id).await?;
        if job.status.is_final() && job.status != JobStatus::Success {
            let (status, text) = match job.status {
                JobStatus::Stopped => ("Stopped", "stopped".to_string()),
                _ => ("Failed", job.message.clone().unwrap_or_default()),
            };
            self.store
                .set_execution_status(e.id, status, &text, true)
                .await?;
            e.status = status.into();
            e.status_text = text;
            e.end_time = Some(now());
        }
        Ok(())
    }

    async fn shown(&self, e: StoredExecution) -> Result<Execution> {
        let tasks = self.store.tasks(e.id).await?;
        let count = |s: &str| tasks.iter().filter(|t| t.status == s).count() as i64;
        Ok(Execution {
            id: e.id,
            policy_id: e.policy_id,
            total: tasks.len() as i64,
            failed: count("Failed"),
            succeed: count("Succeed"),
            in_progress: count("InProgress") + count("Pending"),
            stopped: count("Stopped"),
            status: e.status,
            status_text: e.status_text,
            trigger: e.trigger,
            start_time: time_rfc3339(e.start_time),
            end_time: e.end_time.map(time_rfc3339),
        })
    }

    /// The job: list the work once, then do what is not done.
    async fn run_job(&self, job: &Job, ctx: &JobContext) -> Result<Value> {
        let Some(id) = job.parameters.get("execution_id").and_then(Value::as_i64) else {
            return Err(RegistryError::Internal(format!(
                "replication job {} has no execution_id",
                job.id
            )));
        };
        let Some(e) = self.store.execution(id).await? else {
            return Ok(json!({"execution_id": id, "skipped": "no such execution"}));
        };
        if e.end_time.is_some() {
            return Ok(json!({"execution_id": id, "status": e.status}));
        }
        let policy = match self.policies.policy(e.policy_id).await {
            Ok(p) => p,
            Err(err) => {
                self.finish(id, "Failed", &err.to_string()).await?;
                return Ok(json!({"execution_id": id, "status": "Failed"}));
            }
        };
        match self.run(&policy, &e, ctx).await {
            Ok(summary) => Ok(summary),
            Err(err) if ctx.should_stop() && !ctx.stop_requested() => Err(err),
            Err(err) => {
                // Listing failed (the source is down, a filter is bad): the run is over.
                ctx.log(format!("execution {id}: {err}")).await;
                self.finish(id, "Failed", &err.to_string()).await?;
                Ok(json!({"execution_id": id, "status": "Failed"}))
            }
        }
    }

    async fn finish(&self, id: i64, status: &str, text: &str) -> Result<()> {
        self.store
            .set_execution_status(id, status, text, true)
            .await?;
        Ok(())
    }

    /// The two sides of a policy: (source, destination).
    async fn sides(&self, policy: &ReplicationPolicy) -> Result<(Box<dyn Side>, Box<dyn Side>)> {
        let (remote, push) = policy.remote()?;
        let endpoint = self.registries.endpoint(remote).await?;
        let local: Box<dyn Side> = Box::new(LocalSide::new(
            self.distribution.clone(),
            self.projects.clone(),
        ));
        let remote: Box<dyn Side> = Box::new(RemoteSide::new(endpoint));
        Ok(if push {
            (local, remote)
        } else {
            (remote, local)
        })
    }

    async fn run(
        &self,
        policy: &ReplicationPolicy,
        e: &StoredExecution,
        ctx: &JobContext,
    ) -> Result<Value> {
        let (src, dst) = self.sides(policy).await?;
        let scope: Option<Scope> = e
            .scope
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|err| RegistryError::Internal(format!("execution {} scope: {err}", e.id)))?;
        let existing = self.store.tasks(e.id).await?;
        let tasks = if existing.is_empty() {
            let planned = self.plan(policy, scope.as_ref(), &*src, &*dst).await?;
            ctx.log(format!("execution {}: {} tasks", e.id, planned.len()))
                .await;
            self.store.add_tasks_once(e.id, &planned).await?
        } else {
            ctx.log(format!(
                "execution {}: resuming, {} of {} tasks done",
                e.id,
                existing.iter().filter(|t| t.status == "Succeed").count(),
                existing.len()
            ))
            .await;
            existing
        };
        let placed = Placed::default();
        let rate = (policy.speed > 0).then(|| policy.speed as u64 * 1024);
        let (src, dst, placed) = (&*src, &*dst, &placed);
        let trigger = e.trigger.as_str();
        let pending = tasks
            .into_iter()
            .filter(|t| !matches!(t.status.as_str(), "Succeed" | "Failed" | "Stopped"))
            .map(|mut task| async move {
                if ctx.should_stop() {
                    if ctx.stop_requested() {
                        task.status = "Stopped".into();
                        self.store.update_task(&task).await?;
                        Metrics::outcome(&self.metrics.replication_tasks, "Stopped");
                    }
                    return Ok(());
                }
                self.run_task(&mut task, policy, src, dst, rate, placed, trigger, ctx)
                    .await
            });
        // A few tasks at once: most of a task's time is waiting for the destination.
        let results: Vec<Result<()>> = futures_util::stream::iter(pending)
            .buffer_unordered(self.options.task_concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect::<Result<()>>()?;
        if ctx.should_stop() && !ctx.stop_requested() {
            // The lease was lost: another process carries on.
            return Err(RegistryError::Internal("lease lost".into()));
        }
        let tasks = self.store.tasks(e.id).await?;
        let failed = tasks.iter().filter(|t| t.status == "Failed").count();
        let (status, text) = if ctx.stop_requested() {
            ("Stopped", "stopped".to_string())
        } else if failed > 0 {
            (
                "Failed",
                format!("{failed} of {} tasks failed", tasks.len()),
            )
        } else {
            ("Succeed", String::new())
        };
        self.finish(e.id, status, &text).await?;
        ctx.log(format!("execution {}: {status} {text}", e.id))
            .await;
        Ok(json!({"execution_id": e.id, "status": status, "tasks": tasks.len(), "failed": failed}))
    }

    /// The tasks of a run: every tag of every repository the filters pass, or the one
    /// artifact of an event-based run.
    async fn plan(
        &self,
        policy: &ReplicationPolicy,
        scope: Option<&Scope>,
        src: &dyn Side,
        dst: &dyn Side,
    ) -> Result<Vec<StoredTask>> {
        let filters = Filters::of(policy)?;
        let listing = |e: CopyError| RegistryError::bad_request(format!("listing the source: {e}"));
        let mut work: Vec<(String, String, &str)> = Vec::new();
        match scope {
            Some(s) => {
                let accessory_of_travelled = s.reference.contains(':')
                    && s.operation == "copy"
                    && self
                        .travelled(policy, dst, &s.repository, &s.reference)
                        .await?;
                if s.operation == "deletion" || accessory_of_travelled || filters.tag(&s.reference)
                {
                    work.push((
                        s.repository.clone(),
                        s.reference.clone(),
                        operation_of(&s.operation),
                    ));
                }
            }
            None => {
                let mut repositories = src.repositories().await.map_err(listing)?;
                repositories.retain(|r| filters.repository(r));
                for repo in repositories {
                    for tag in src.tags(&repo).await.map_err(listing)? {
                        if filters.tag(&tag) {
                            work.push((repo.clone(), tag, "copy"));
                        }
                    }
                }
            }
        }
        // Labels live in this registry: a pull's remote artifacts carry none here.
        let local_source = matches!(policy.remote(), Ok((_, true)));
        let mut tasks = Vec::new();
        for (repo, reference, operation) in work {
            if operation == "copy"
                && !filters.labels.is_empty()
                && !filters.labels(&self.labels_of(local_source, src, &repo, &reference).await?)
            {
                continue;
            }
            let resource_type = if operation == "copy" {
                match src.manifest(&repo, &reference).await.map_err(listing)? {
                    Some(m) if is_image(&m.media_type, &m.body) => "image",
                    Some(_) if filters.images_only => continue,
                    Some(_) => "artifact",
                    None => continue,
                }
            } else {
                "image"
            };
            let dst_repo = destination_repository(
                &repo,
                &policy.dest_namespace,
                policy.dest_namespace_replace_count,
            )
            .map_err(RegistryError::bad_request)?;
            let sep = if reference.contains(':') { "@" } else { ":" };
            tasks.push(StoredTask {
                resource_type: resource_type.into(),
                src_resource: src.display(&format!("{repo}{sep}{reference}")),
                dst_resource: dst.display(&format!("{dst_repo}{sep}{reference}")),
                operation: operation.into(),
                status: "Pending".into(),
                ..Default::default()
            });
        }
        Ok(tasks)
    }

    /// The names of the labels the source artifact carries (none for a remote source).
    async fn labels_of(
        &self,
        local_source: bool,
        src: &dyn Side,
        repo: &str,
        reference: &str,
    ) -> Result<Vec<String>> {
        if !local_source {
            return Ok(Vec::new());
        }
        let listing = |e: CopyError| RegistryError::bad_request(format!("listing the source: {e}"));
        let Some(digest) = src
            .manifest_digest(repo, reference)
            .await
            .map_err(listing)?
        else {
            return Ok(Vec::new());
        };
        let (Ok(repo), Ok(digest)) = (
            crate::names::RepoName::parse(repo),
            digest.parse::<crate::digest::Digest>(),
        ) else {
            return Ok(Vec::new());
        };
        Ok(self
            .labels
            .of_artifacts(&repo, std::slice::from_ref(&digest))
            .await?
            .remove(&digest)
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.name)
            .collect())
    }

    /// Whether the destination has `digest` in the repository this policy maps
    /// `repository` to: an accessory pushed later follows only an image that travelled.
    async fn travelled(
        &self,
        policy: &ReplicationPolicy,
        dst: &dyn Side,
        repository: &str,
        digest: &str,
    ) -> Result<bool> {
        let Ok(dst_repo) = destination_repository(
            repository,
            &policy.dest_namespace,
            policy.dest_namespace_replace_count,
        ) else {
            return Ok(false);
        };
        dst.manifest_digest(&dst_repo, digest)
            .await
            .map(|d| d.as_deref() == Some(digest))
            .map_err(|e| RegistryError::bad_request(format!("asking the destination: {e}")))
    }

    /// One task, tried until it succeeds or its attempts are used up.
    #[allow(clippy::too_many_arguments)]
    async fn run_task(
        &self,
        task: &mut StoredTask,
        policy: &ReplicationPolicy,
        src: &dyn Side,
        dst: &dyn Side,
        rate: Option<u64>,
        placed: &Placed,
        trigger: &str,
        ctx: &JobContext,
    ) -> Result<()> {
        let (src_repo, reference) = split_resource(strip_host(&task.src_resource, src));
        let (dst_repo, _) = split_resource(strip_host(&task.dst_resource, dst));
        task.status = "InProgress".into();
        task.start_time = Some(now());
        task.end_time = None;
        task.bytes = 0;
        task.message.clear();
        let mut log = String::new();
        self.store.update_task(task).await?;
        let mut delay = self.options.task_backoff;
        loop {
            task.attempts += 1;
            let copier = Copier::new(src, dst, rate, policy.override_, placed);
            let result = if task.operation == "deletion" {
                copier.delete(&dst_repo, &reference).await
            } else {
                copier.copy_tag(&src_repo, &dst_repo, &reference).await
            };
            task.bytes += copier.bytes() as i64;
            for line in copier.take_log() {
                log.push_str(&line);
                log.push('\n');
            }
            match result {
                Ok(outcome) => {
                    let what = match outcome {
                        Outcome::Copied if task.operation == "deletion" => "deleted".to_string(),
                        Outcome::Copied => "copied".to_string(),
                        Outcome::Skipped(why) => format!("skipped: {why}"),
                    };
                    log.push_str(&format!(
                        "{} -> {}: {what}, {} bytes sent\n",
                        task.src_resource, task.dst_resource, task.bytes
                    ));
                    task.status = "Succeed".into();
                    break;
                }
                Err(err) => {
                    log.push_str(&format!("attempt {}: {err}\n", task.attempts));
                    let give_up = task.attempts as u32 >= self.options.task_attempts.max(1)
                        || matches!(err, CopyError::Content(_))
                        || ctx.should_stop();
                    if give_up {
                        task.status = if ctx.stop_requested() {
                            "Stopped"
                        } else {
                            "Failed"
                        }
                        .into();
                        task.message = err.to_string();
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(300));
                }
            }
        }
        task.end_time = Some(now());
        task.log = log;
        self.store.update_task(task).await?;
        Metrics::outcome(&self.metrics.replication_tasks, &task.status);
        // Webhooks tell the local project (Harbor's REPLICATION event).
        let local = if policy.remote().is_ok_and(|(_, push)| push) {
            &src_repo
        } else {
            &dst_repo
        };
        if let Ok(repository) = crate::names::RepoName::parse(local) {
            let event = Event::ReplicationTaskFinished {
                repository,
                execution_id: task.execution_id,
                policy: policy.name.clone(),
                trigger: trigger.to_string(),
                status: task.status.clone(),
                resource_type: task.resource_type.clone(),
                src_resource: task.src_resource.clone(),
                dst_resource: task.dst_resource.clone(),
                override_tags: policy.override_,
            };
            self.distribution.events().publish(&event).await;
        }
        ctx.log(format!(
            "task {} {} {}: {}{}",
            task.id,
            task.operation,
            task.src_resource,
            task.status,
            if task.message.is_empty() {
                String::new()
            } else {
                format!(" ({})", task.message)
            }
        ))
        .await;
        Ok(())
    }

    /// The scheduler: runs each scheduled, enabled policy when its cron is due. First,
    /// executions that a crash left without a job (between recording the execution and
    /// queueing its job) are ended as failed: nothing would ever run them. Those with a
    /// job resume through the queue.
    pub fn start_scheduler(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        let poll = self.options.schedule_poll;
        tokio::spawn(async move {
            if let Some(me) = me.upgrade()
                && let Err(e) = me.end_orphans().await
            {
                tracing::error!(error = %e, "ending replication executions without a job");
            }
            loop {
                tokio::time::sleep(poll).await;
                let Some(me) = me.upgrade() else { return };
                if let Err(e) = me.run_due(now()).await {
                    tracing::error!(error = %e, "scheduled replication");
                }
            }
        });
    }

    async fn end_orphans(&self) -> Result<()> {
        // A minute's grace: another process may be between the two writes right now.
        let before = now() - 60;
        for e in self.store.unfinished_executions().await? {
            if e.job_id.is_none() && e.start_time < before {
                self.finish(e.id, "Failed", "interrupted before its job was queued")
                    .await?;
            }
        }
        Ok(())
    }

    async fn run_due(&self, now: i64) -> Result<()> {
        for stored in self.store.policies().await? {
            let Ok(policy) = self.policies.policy(stored.id).await else {
                continue;
            };
            if !policy.enabled || policy.trigger.kind != "scheduled" {
                continue;
            }
            let cron = policy
                .trigger
                .trigger_settings
                .as_ref()
                .map(|s| s.cron.clone())
                .unwrap_or_default();
            let next = |after: i64| -> Option<i64> {
                let schedule = cron::Schedule::from_str(&cron).ok()?;
                let after = chrono::DateTime::from_timestamp(after, 0)?;
                schedule.after(&after).next().map(|t| t.timestamp())
            };
            match self.store.replication_schedule(policy.id).await? {
                Some((c, Some(due))) if c == cron => {
                    if due <= now
                        && self
                            .store
                            .advance_replication_schedule(policy.id, due, next(now))
                            .await?
                    {
                        self.launch(&policy, "scheduled", None).await?;
                    }
                }
                Some((c, None)) if c == cron => {}
                _ => {
                    self.store
                        .put_replication_schedule(policy.id, &cron, next(now))
                        .await?
                }
            }
        }
        Ok(())
    }

    /// Event-based push policies that cover a push or delete of this registry.
    async fn on_content_event(
        &self,
        repository: &str,
        reference: &str,
        deletion: bool,
    ) -> Result<()> {
        for stored in self.store.policies().await? {
            let Ok(policy) = self.policies.policy(stored.id).await else {
                continue;
            };
            let push = matches!(policy.remote(), Ok((_, true)));
            if !policy.enabled || !push || policy.trigger.kind != "event_based" {
                continue;
            }
            if deletion && !policy.deletion {
                continue;
            }
            let filters = Filters::of(&policy)?;
            // A digest (an accessory's subject) is checked when the run plans: only an
            // image that already travelled takes its accessories along.
            let by_digest = reference.contains(':');
            if !filters.repository(repository)
                || (!deletion && !by_digest && !filters.tag(reference))
            {
                continue;
            }
            let scope = Scope {
                repository: repository.to_string(),
                reference: reference.to_string(),
                operation: if deletion { "deletion" } else { "copy" }.into(),
            };
            self.launch(&policy, "event_based", Some(&scope)).await?;
        }
        Ok(())
    }
}

/// A task's operation name (`copy` or `deletion`) from a scope's.
fn operation_of(operation: &str) -> &'static str {
    if operation == "deletion" {
        "deletion"
    } else {
        "copy"
    }
}

/// A task's resource without the side's host prefix.
fn strip_host<'a>(resource: &'a str, side: &dyn Side) -> &'a str {
    let prefix = side.display("");
    resource.strip_prefix(prefix.as_str()).unwrap_or(resource)
}

/// `repo:tag` or `repo@digest` → (repo, tag or digest).
fn split_resource(resource: &str) -> (String, String) {
    if let Some((repo, digest)) = resource.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    match resource.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (resource.to_string(), "latest".to_string()),
    }
}

fn shown_task(t: StoredTask, job_id: &str) -> Task {
    Task {
        id: t.id,
        execution_id: t.execution_id,
        resource_type: t.resource_type,
        src_resource: t.src_resource,
        dst_resource: t.dst_resource,
        operation: t.operation,
        status: t.status,
        job_id: job_id.to_string(),
        start_time: t.start_time.map(time_rfc3339),
        end_time: t.end_time.map(time_rfc3339),
        bytes: t.bytes,
        duration: match (t.start_time, t.end_time) {
            (Some(s), Some(e)) => e - s,
            _ => 0,
        },
        attempts: t.attempts,
        message: t.message,
    }
}

#[async_trait::async_trait]
impl Subscriber for Replication {
    /// Queues the run on a task of its own: the push that published this never waits.
    async fn on_event(&self, event: &Event) {
        let (repository, reference, deletion) = match event {
            Event::ArtifactPushed {
                repository,
                tag: Some(tag),
                has_subject: false,
                ..
            } if !is_accessory_tag(tag) => (repository.as_str().to_string(), tag.clone(), false),
            // A signature, attestation or SBOM pushed under cosign's tag: its image
            // again, by digest, so the accessory follows an image that already travelled.
            Event::ArtifactPushed {
                repository,
                tag: Some(tag),
                ..
            } => match cosign_subject(tag) {
                Some(subject) => (repository.as_str().to_string(), subject, false),
                None => return,
            },
            Event::ArtifactDeleted { repository, digest } => {
                (repository.as_str().to_string(), digest.to_string(), true)
            }
            Event::TagDeleted { repository, tag } => {
                (repository.as_str().to_string(), tag.clone(), true)
            }
            _ => return,
        };
        let me = self.me.clone();
        tokio::spawn(async move {
            let Some(me) = me.upgrade() else { return };
            if let Err(e) = me.on_content_event(&repository, &reference, deletion).await {
                tracing::error!(error = %e, repository, reference, "event-based replication");
            }
        });
    }
}

/// Runs replication jobs for the service (held weakly: see [`Replication::new`]).
struct ReplicationJobs(Weak<Replication>);

#[async_trait::async_trait]
impl JobHandler for ReplicationJobs {
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value> {
        match self.0.upgrade() {
            Some(replication) => replication.run_job(job, ctx).await,
            None => Err(RegistryError::Internal(
                "the registry is shutting down".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_split_into_repository_and_reference() {
        assert_eq!(
            split_resource("production/app:v1"),
            ("production/app".into(), "v1".into())
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            split_resource(&format!("production/app@{d}")),
            ("production/app".into(), d)
        );
    }

    #[test]
    fn filters_take_names_tags_and_leave_accessories() {
        let p: ReplicationPolicy = serde_json::from_value(json!({
            "name": "p", "dest_registry": {"id": 1},
            "filters": [{"type": "name", "value": "production/**"}, {"type": "tag", "value": "v*"}]
        }))
        .unwrap();
        let f = Filters::of(&p).unwrap();
        assert!(f.repository("production/app"));
        assert!(f.repository("production/team/app"));
        assert!(!f.repository("staging/app"));
        assert!(f.tag("v1"));
        assert!(!f.tag("dev-1"));
        assert!(!f.tag(&format!("sha256-{}.sig", "a".repeat(64))));
        let labelled: ReplicationPolicy = serde_json::from_value(json!({
            "name": "p", "dest_registry": {"id": 1},
            "filters": [{"type": "label", "value": "prod"}]
        }))
        .unwrap();
        let labelled = Filters::of(&labelled).unwrap();
        assert!(labelled.repository("production/app"));
        assert!(labelled.labels(&["prod".into(), "qa".into()]));
        assert!(!labelled.labels(&["qa".into()]));
        // Harbor's rule: every label named must be carried; `excludes` inverts it.
        let both: ReplicationPolicy = serde_json::from_value(json!({
            "name": "p", "dest_registry": {"id": 1},
            "filters": [{"type": "label", "value": ["prod", "qa"], "decoration": "excludes"}]
        }))
        .unwrap();
        let both = Filters::of(&both).unwrap();
        assert!(both.labels(&["prod".into()]));
        assert!(!both.labels(&["qa".into(), "prod".into()]));
    }
}
