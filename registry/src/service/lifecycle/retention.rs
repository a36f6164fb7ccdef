//! Tag retention (Harbor's `/retentions`): a project's policy says which
//! artifacts of its repositories to keep; a run deletes the rest.
//!
//! Harbor's semantics, kept: each rule selects repositories (`repoMatches` /
//! `repoExcludes`) and, in them, artifacts with a tag the tag selectors pass
//! (untagged ones only with `{"untagged":true}`) and whose labels pass its label
//! selectors (`withLabels`: every listed label; `withoutLabels`: none of them);
//! its template keeps some of
//! those (`latestPushedK`, `latestPulledN`, `nDaysSinceLastPush`,
//! `nDaysSinceLastPull`, `always`). Rules OR-combine: an artifact is kept if any
//! rule keeps it. In a repository that at least one rule selects, every
//! artifact no rule keeps is deleted, with its tags and accessories; other
//! repositories are left alone. Index children are not candidates (they go with
//! their index). Deletion goes through [`Distribution::remove_artifact`], so
//! immutability applies: an artifact with an immutable tag is kept and the task
//! log says why.
//!
//! A run is an execution with one task per repository (what was kept and what
//! was deleted, or would be in a dry run). Runs start by hand or on the policy's
//! 6-field cron; each is a job of kind `retention` on the durable job queue
//! ([`JobQueue`]): it survives a restart (run again from the start; deleting
//! what is already gone is a no-op, so a run is idempotent) and stops between
//! artifacts when asked.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::selectors::{Scope, ScopeSelectors, Selector, in_project};
use crate::auth::Principal;
use crate::auth::rbac::Action;
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::metadata::identity::PageReq;
use crate::metadata::lifecycle::{Job, JobStatus, NewJob, Trigger as JobTrigger};
use crate::metadata::tag_rules::{Execution, StoredRule, Task};
use crate::metadata::{Artifact, TagRulesStore, now};
use crate::names::RepoName;
use crate::service::access::Access;
use crate::service::distribution::Distribution;
use crate::service::events::Event;
use crate::service::labels::Labels;
use crate::service::lifecycle::jobs::{JobContext, JobHandler, JobQueue};

/// The job kind of retention runs.
pub const JOB_KIND: &str = "retention";

/// Most rules one policy may have (Harbor's limit).
const MAX_RULES: usize = 15;
/// Most artifacts one repository's task considers; bounds a run's memory.
const MAX_ARTIFACTS: usize = 100_000;
const DAY: i64 = 86_400;

/// Harbor's `RetentionPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    #[serde(default)]
    pub id: i64,
    #[serde(default = "or")]
    pub algorithm: String,
    #[serde(default)]
    pub rules: Vec<RetentionRule>,
    #[serde(default)]
    pub trigger: Trigger,
    pub scope: PolicyScope,
}

fn or() -> String {
    "or".into()
}

/// Harbor's `RetentionRule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionRule {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default = "retain")]
    pub action: String,
    pub template: String,
    #[serde(default)]
    pub params: serde_json::Map<String, Value>,
    pub tag_selectors: Vec<Selector>,
    pub scope_selectors: ScopeSelectors,
}

fn retain() -> String {
    "retain".into()
}

/// `{"kind":"Schedule","settings":{"cron":"0 0 0 * * *"}}`; an empty cron: manual only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    #[serde(default = "schedule")]
    pub kind: String,
    #[serde(default)]
    pub settings: serde_json::Map<String, Value>,
    #[serde(default)]
    pub references: serde_json::Map<String, Value>,
}

fn schedule() -> String {
    "Schedule".into()
}

impl Default for Trigger {
    fn default() -> Self {
        Trigger {
            kind: schedule(),
            settings: Default::default(),
            references: Default::default(),
        }
    }
}

impl Trigger {
    fn cron(&self) -> Option<&str> {
        self.settings
            .get("cron")
            .and_then(Value::as_str)
            .filter(|c| !c.trim().is_empty())
    }

    /// When the cron fires next strictly after `after` (unix seconds); `None`
    /// for manual-only policies.
    fn next_after(&self, after: i64) -> Option<i64> {
        let schedule = cron::Schedule::from_str(self.cron()?).ok()?;
        let after = chrono::DateTime::from_timestamp(after, 0)?;
        schedule.after(&after).next().map(|t| t.timestamp())
    }
}

/// `{"level":"project","ref":<project id>}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyScope {
    pub level: String,
    #[serde(rename = "ref")]
    pub reference: i64,
}

/// What a rule's template keeps among the artifacts its selectors chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    LatestPushedK(usize),
    LatestPulledN(usize),
    DaysSinceLastPush(i64),
    DaysSinceLastPull(i64),
    Always,
}

/// The templates, their parameter and how Harbor's metadata describes them.
const TEMPLATES: &[(&str, &str, Option<&str>)] = &[
    (
        "latestPushedK",
        "retain the most recently pushed # artifacts",
        Some("COUNT"),
    ),
    (
        "latestPulledN",
        "retain the most recently pulled # artifacts",
        Some("COUNT"),
    ),
    (
        "nDaysSinceLastPush",
        "retain the artifacts pushed within the last # days",
        Some("DAYS"),
    ),
    (
        "nDaysSinceLastPull",
        "retain the artifacts pulled within the last # days",
        Some("DAYS"),
    ),
    ("always", "retain always", None),
];

impl Template {
    /// The template named `name` with its parameter from `params` (Harbor keys the
    /// parameter by the template's name; a number or a numeric string).
    pub fn parse(name: &str, params: &serde_json::Map<String, Value>) -> Result<Template> {
        let n = || -> Result<i64> {
            let v = params.get(name).ok_or_else(|| {
                RegistryError::bad_request(format!("template {name} needs params.{name}"))
            })?;
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            match n {
                Some(n) if (0..=1_000_000).contains(&n) => Ok(n),
                _ => Err(RegistryError::bad_request(format!(
                    "params.{name} must be a whole number from 0 to 1000000, not {v}"
                ))),
            }
        };
        Ok(match name {
            "latestPushedK" => Template::LatestPushedK(n()? as usize),
            "latestPulledN" => Template::LatestPulledN(n()? as usize),
            "nDaysSinceLastPush" => Template::DaysSinceLastPush(n()?),
            "nDaysSinceLastPull" => Template::DaysSinceLastPull(n()?),
            "always" => Template::Always,
            other => {
                return Err(RegistryError::bad_request(format!(
                    "unknown retention template {other:?}: use latestPushedK, latestPulledN, nDaysSinceLastPush, nDaysSinceLastPull or always"
                )));
            }
        })
    }

    /// The candidates (indexes into `all`) this template keeps at `now`.
    pub fn keep(self, all: &[Candidate], chosen: &[usize], now: i64) -> Vec<usize> {
        let mut chosen = chosen.to_vec();
        match self {
            Template::Always => chosen,
            Template::LatestPushedK(k) => {
                chosen.sort_by_key(|&i| {
                    std::cmp::Reverse((all[i].pushed_at, all[i].digest.to_string()))
                });
                chosen.truncate(k);
                chosen
            }
            // As Harbor: never pulled sorts last (pull time 0), not excluded.
            Template::LatestPulledN(n) => {
                chosen.sort_by_key(|&i| {
                    std::cmp::Reverse((all[i].pulled_at, all[i].digest.to_string()))
                });
                chosen.truncate(n);
                chosen
            }
            Template::DaysSinceLastPush(d) => {
                chosen.retain(|&i| all[i].pushed_at >= now - d * DAY);
                chosen
            }
            Template::DaysSinceLastPull(d) => {
                chosen.retain(|&i| all[i].pulled_at.is_some_and(|t| t >= now - d * DAY));
                chosen
            }
        }
    }
}

/// An artifact a run may keep or delete.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub digest: Digest,
    pub tags: Vec<String>,
    pub pushed_at: i64,
    pub pulled_at: Option<i64>,
    /// The names of the labels it carries.
    pub labels: Vec<String>,
}

impl From<Artifact> for Candidate {
    fn from(a: Artifact) -> Self {
        Candidate {
            digest: a.digest,
            tags: a.tags.into_iter().map(|(t, _)| t).collect(),
            pushed_at: a.pushed_at,
            pulled_at: a.pulled_at,
            labels: Vec::new(),
        }
    }
}

/// A rule ready to apply.
struct CompiledRule {
    id: i64,
    template_name: String,
    template: Template,
    scope: Scope,
}

fn compile_rules(policy: &RetentionPolicy) -> Result<Vec<CompiledRule>> {
    policy
        .rules
        .iter()
        .filter(|r| !r.disabled)
        .map(|r| {
            Ok(CompiledRule {
                id: r.id,
                template_name: r.template.clone(),
                template: Template::parse(&r.template, &r.params)?,
                scope: Scope::compile_with_labels(&r.tag_selectors, &r.scope_selectors)?,
            })
        })
        .collect()
}

impl RetentionPolicy {
    /// Validate, and give rules without an id one (their position, from 1).
    fn check(&mut self) -> Result<()> {
        if self.algorithm != "or" {
            return Err(RegistryError::bad_request(
                "retention algorithm must be \"or\" (rules OR-combine)",
            ));
        }
        if self.scope.level != "project" {
            return Err(RegistryError::bad_request(
                "retention scope level must be \"project\"",
            ));
        }
        if self.rules.len() > MAX_RULES {
            return Err(RegistryError::bad_request(format!(
                "a retention policy has at most {MAX_RULES} rules"
            )));
        }
        for (i, r) in self.rules.iter_mut().enumerate() {
            if r.action != "retain" {
                return Err(RegistryError::bad_request(format!(
                    "rule {}: action must be \"retain\"",
                    i + 1
                )));
            }
            if r.id == 0 {
                r.id = i as i64 + 1;
            }
        }
        compile_rules(self)?;
        if self.trigger.kind != "Schedule" {
            return Err(RegistryError::bad_request(
                "retention trigger kind must be \"Schedule\" (an empty cron: manual runs only)",
            ));
        }
        if let Some(c) = self.trigger.cron() {
            cron::Schedule::from_str(c).map_err(|e| {
                RegistryError::bad_request(format!(
                    "cron {c:?}: {e} (six fields: sec min hour day month weekday)"
                ))
            })?;
        }
        Ok(())
    }

    fn from_stored(r: &StoredRule) -> Result<Self> {
        let mut p: RetentionPolicy = serde_json::from_str(&r.body).map_err(|e| {
            RegistryError::Internal(format!("stored retention policy {}: {e}", r.id))
        })?;
        p.id = r.id;
        p.scope.reference = r.project_id;
        Ok(p)
    }

    fn body(&self) -> Result<String> {
        let mut p = self.clone();
        p.id = 0;
        serde_json::to_string(&p).map_err(|e| RegistryError::Internal(e.to_string()))
    }
}

/// What one repository's run decided, per artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub digest: Digest,
    pub tags: Vec<String>,
    /// Why it is kept (`rule 1 latestPushedK`), or `None`: delete it.
    pub kept_by: Option<String>,
}

/// The pure decision for one repository (`repository` is the name inside the
/// project): `None` when no rule selects the repository.
fn decide(
    rules: &[CompiledRule],
    repository: &str,
    candidates: &[Candidate],
    now: i64,
) -> Option<Vec<Decision>> {
    let applicable: Vec<&CompiledRule> = rules
        .iter()
        .filter(|r| r.scope.covers_repository(repository))
        .collect();
    if applicable.is_empty() {
        return None;
    }
    let mut kept: HashMap<usize, String> = HashMap::new();
    for rule in applicable {
        let chosen: Vec<usize> = (0..candidates.len())
            .filter(|&i| {
                rule.scope
                    .covers_artifact(&candidates[i].tags, &candidates[i].labels)
            })
            .collect();
        for i in rule.template.keep(candidates, &chosen, now) {
            kept.entry(i)
                .or_insert_with(|| format!("rule {} {}", rule.id, rule.template_name));
        }
    }
    Some(
        candidates
            .iter()
            .enumerate()
            .map(|(i, c)| Decision {
                digest: c.digest.clone(),
                tags: c.tags.clone(),
                kept_by: kept.remove(&i),
            })
            .collect(),
    )
}

pub struct Retention {
    store: Arc<dyn TagRulesStore>,
    access: Arc<Access>,
    distribution: Arc<Distribution>,
    /// The labels artifacts carry, for label selectors.
    labels: Arc<Labels>,
    jobs: Arc<JobQueue>,
}

impl Retention {
    /// The service, with its job handler registered on `jobs` (held weakly there:
    /// the queue must not keep the service alive).
    pub fn new(
        store: Arc<dyn TagRulesStore>,
        access: Arc<Access>,
        distribution: Arc<Distribution>,
        labels: Arc<Labels>,
        jobs: Arc<JobQueue>,
    ) -> Arc<Self> {
        let me = Arc::new(Retention {
            store,
            access,
            distribution,
            labels,
            jobs: jobs.clone(),
        });
        jobs.register(JOB_KIND, Arc::new(RetentionJobs(Arc::downgrade(&me))));
        me
    }

    /// Harbor's `/retentions/metadatas`: templates, their parameters, selectors.
    pub fn metadatas() -> Value {
        json!({
            "templates": TEMPLATES.iter().map(|(name, text, unit)| json!({
                "rule_template": name,
                "display_text": text,
                "action": "retain",
                "params": unit.map(|u| vec![json!({"type": "int", "unit": u, "required": true})]).unwrap_or_default(),
            })).collect::<Vec<_>>(),
            "scope_selectors": [{"display_text": "Repositories", "kind": "doublestar", "decorations": ["repoMatches", "repoExcludes"]}],
            "tag_selectors": [
                {"display_text": "Tags", "kind": "doublestar", "decorations": ["matches", "excludes"]},
                {"display_text": "Labels", "kind": "label", "decorations": ["withLabels", "withoutLabels"]},
            ],
        })
    }

    /// The policy, if `who` may do `action` in its project.
    async fn policy_for(
        &self,
        who: &Principal,
        id: i64,
        action: Action,
    ) -> Result<RetentionPolicy> {
        let stored =
            self.store.retention_policy(id).await?.ok_or_else(|| {
                RegistryError::not_found(format!("retention policy {id} not found"))
            })?;
        self.access
            .project_for(who, &stored.project_id.to_string(), action)
            .await?;
        RetentionPolicy::from_stored(&stored)
    }

    pub async fn get(&self, who: &Principal, id: i64) -> Result<RetentionPolicy> {
        self.policy_for(who, id, Action::ReadRetention).await
    }

    /// The id of a project's policy (Harbor's `retention_id` project metadata).
    pub async fn policy_id_of(&self, project_id: i64) -> Result<Option<i64>> {
        Ok(self
            .store
            .retention_policy_of_project(project_id)
            .await?
            .map(|p| p.id))
    }

    pub async fn create(
        &self,
        who: &Principal,
        ip: Option<&str>,
        mut policy: RetentionPolicy,
    ) -> Result<i64> {
        let p = self
            .access
            .project_for(
                who,
                &policy.scope.reference.to_string(),
                Action::ManageRetention,
            )
            .await?;
        policy.check()?;
        let id = self
            .store
            .create_retention_policy(p.id, &policy.body()?, policy.trigger.next_after(now()))
            .await?
            .ok_or_else(|| {
                RegistryError::conflict(format!(
                    "project {} already has a retention policy",
                    p.name
                ))
            })?;
        self.access
            .audit(who, "create", "retention", &format!("{}/{id}", p.name), ip);
        Ok(id)
    }

    pub async fn update(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        mut policy: RetentionPolicy,
    ) -> Result<()> {
        let old = self.policy_for(who, id, Action::ManageRetention).await?;
        policy.scope = old.scope;
        policy.check()?;
        self.store
            .update_retention_policy(id, &policy.body()?, policy.trigger.next_after(now()))
            .await?;
        self.access
            .audit(who, "update", "retention", &id.to_string(), ip);
        Ok(())
    }

    pub async fn delete(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        self.policy_for(who, id, Action::ManageRetention).await?;
        self.store.delete_retention_policy(id).await?;
        self.access
            .audit(who, "delete", "retention", &id.to_string(), ip);
        Ok(())
    }

    /// Start a run (`POST …/executions`); answers its execution id at once.
    pub async fn execute(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        dry_run: bool,
    ) -> Result<i64> {
        let policy = self.policy_for(who, id, Action::ManageRetention).await?;
        let eid = self.launch(policy, "MANUAL", dry_run).await?;
        self.access.audit(
            who,
            "create",
            "retention_execution",
            &format!("{id}/{eid}"),
            ip,
        );
        Ok(eid)
    }

    /// Record the execution and queue its job.
    async fn launch(&self, policy: RetentionPolicy, trigger: &str, dry_run: bool) -> Result<i64> {
        compile_rules(&policy)?;
        let eid = self
            .store
            .create_execution(policy.id, trigger, dry_run)
            .await?;
        let mut job = NewJob::manual(
            JOB_KIND,
            json!({"policy_id": policy.id, "execution_id": eid, "dry_run": dry_run}),
        );
        // The queue's default attempts: a run cut short by a crash (or a failure)
        // starts again from scratch, which is safe since a run is idempotent.
        if trigger == "SCHEDULE" {
            job.trigger = JobTrigger::Schedule;
        }
        let enqueued = self.jobs.enqueue(job).await;
        match enqueued {
            Ok(job_id) => self.store.set_execution_job(eid, job_id).await?,
            Err(e) => {
                self.store.set_execution_status(eid, "Error", true).await?;
                return Err(e);
            }
        }
        Ok(eid)
    }

    /// The job: run the execution its parameters name, and record how it ended.
    async fn run_job(&self, job: &Job, ctx: &JobContext) -> Result<Value> {
        let param = |k: &str| job.parameters.get(k).and_then(Value::as_i64);
        let (Some(policy_id), Some(eid)) = (param("policy_id"), param("execution_id")) else {
            return Err(RegistryError::Internal(format!(
                "retention job {} has no policy_id/execution_id",
                job.id
            )));
        };
        let dry_run = job.parameters["dry_run"].as_bool().unwrap_or(false);
        let Some(stored) = self.store.retention_policy(policy_id).await? else {
            ctx.log(format!("retention policy {policy_id} no longer exists"))
                .await;
            return Ok(json!({"execution_id": eid, "skipped": true}));
        };
        let policy = RetentionPolicy::from_stored(&stored)?;
        self.store.clear_tasks(eid).await?;
        self.store
            .set_execution_status(eid, "Running", false)
            .await?;
        let outcome = self.run(&policy, eid, dry_run, ctx).await;
        let status = match &outcome {
            Ok(_) if ctx.stop_requested() => "Stopped",
            Ok(_) => "Success",
            Err(_) => "Error",
        };
        self.store.set_execution_status(eid, status, true).await?;
        let (deleted, retained) = outcome?;
        ctx.log(format!(
            "execution {eid}: {retained} artifacts retained, {deleted} {}",
            if dry_run {
                "would be deleted"
            } else {
                "deleted"
            }
        ))
        .await;
        Ok(
            json!({"execution_id": eid, "dry_run": dry_run, "retained": retained, "deleted": deleted}),
        )
    }

    /// One task per repository the policy's rules select.
    /// (deleted, retained) over all repositories.
    async fn run(
        &self,
        policy: &RetentionPolicy,
        eid: i64,
        dry_run: bool,
        ctx: &JobContext,
    ) -> Result<(u64, u64)> {
        let (mut deleted_total, mut retained_total) = (0u64, 0u64);
        let rules = compile_rules(policy)?;
        let project = self
            .access
            .project(&policy.scope.reference.to_string())
            .await?;
        let meta = self.distribution.meta();
        let mut repositories = Vec::new();
        for page in 1.. {
            let (items, total) = meta
                .list_project_repositories(
                    &project.name,
                    PageReq {
                        page,
                        page_size: 100,
                    },
                )
                .await?;
            let done = items.is_empty() || (page as i64) * 100 >= total;
            repositories.extend(items.into_iter().map(|r| r.name));
            if done {
                break;
            }
        }
        for name in repositories {
            if ctx.should_stop() {
                break;
            }
            let repo = RepoName::parse(&name)
                .map_err(|e| RegistryError::Internal(format!("stored repository {name}: {e}")))?;
            let start = now();
            let candidates = self.candidates(&repo).await?;
            let Some(decisions) = decide(&rules, in_project(&name), &candidates, now()) else {
                continue;
            };
            let mut log = String::new();
            let mut retained = 0;
            for d in &decisions {
                let tags = if d.tags.is_empty() {
                    "<none>".to_string()
                } else {
                    d.tags.join(",")
                };
                let outcome = match &d.kept_by {
                    Some(why) => format!("RETAIN  {why}"),
                    None if ctx.should_stop() => "RETAIN  stopped".to_string(),
                    None if dry_run => "DELETE  (dry run)".to_string(),
                    None => match self.distribution.remove_artifact(&repo, &d.digest).await {
                        Ok(()) => {
                            self.distribution
                                .events()
                                .publish(&Event::TagDeletedByRetention {
                                    repository: repo.clone(),
                                    digest: d.digest.clone(),
                                    tags: d.tags.clone(),
                                    execution_id: eid,
                                })
                                .await;
                            "DELETE".to_string()
                        }
                        Err(RegistryError::WriteDenied(why)) => format!("RETAIN  {why}"),
                        Err(e) => return Err(e),
                    },
                };
                if outcome.starts_with("RETAIN") {
                    retained += 1;
                } else {
                    deleted_total += 1;
                }
                log.push_str(&format!("{name}\t{}\t{tags}\t{outcome}\n", d.digest));
            }
            self.store
                .add_task(&Task {
                    id: 0,
                    execution_id: eid,
                    repository: name.clone(),
                    status: "Success".into(),
                    start_time: start,
                    end_time: Some(now()),
                    total: decisions.len() as i64,
                    retained,
                    log,
                })
                .await?;
            retained_total += retained as u64;
        }
        Ok((deleted_total, retained_total))
    }

    /// The repository's artifacts (not accessories, not index children), with the
    /// names of their labels.
    async fn candidates(&self, repo: &RepoName) -> Result<Vec<Candidate>> {
        let children = self.store.index_children(repo.as_str()).await?;
        let mut out = Vec::new();
        for page in 1.. {
            let (items, total) = self
                .distribution
                .meta()
                .list_artifacts(
                    repo,
                    PageReq {
                        page,
                        page_size: 100,
                    },
                    &Default::default(),
                )
                .await?;
            let done = items.is_empty() || (page as i64) * 100 >= total;
            let digests: Vec<Digest> = items.iter().map(|a| a.digest.clone()).collect();
            let mut labels = self.labels.of_artifacts(repo, &digests).await?;
            out.extend(
                items
                    .into_iter()
                    .filter(|a| !children.contains(&a.digest))
                    .map(|a| {
                        let names = labels
                            .remove(&a.digest)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|l| l.name)
                            .collect();
                        Candidate {
                            labels: names,
                            ..Candidate::from(a)
                        }
                    }),
            );
            if done || out.len() >= MAX_ARTIFACTS {
                break;
            }
        }
        Ok(out)
    }

    /// `PATCH …/executions/{eid}` with `{"action":"stop"}`: stop its job.
    pub async fn stop(&self, who: &Principal, id: i64, eid: i64) -> Result<()> {
        self.policy_for(who, id, Action::ManageRetention).await?;
        let e = self.execution(who, id, eid).await?;
        if matches!(e.status.as_str(), "Success" | "Error" | "Stopped") {
            return Err(RegistryError::conflict(format!(
                "retention execution {eid} has already ended ({})",
                e.status
            )));
        }
        if let Some(job) = e.job_id {
            self.jobs.stop(job).await?;
        }
        Ok(())
    }

    async fn execution(&self, who: &Principal, id: i64, eid: i64) -> Result<Execution> {
        self.policy_for(who, id, Action::ReadRetention).await?;
        match self.store.execution(eid).await? {
            Some(mut e) if e.policy_id == id => {
                self.settle(&mut e).await?;
                Ok(e)
            }
            _ => Err(RegistryError::not_found(format!(
                "retention execution {eid} not found"
            ))),
        }
    }

    /// An execution still Pending or Running whose job has ended without the
    /// handler saying so (its last attempt died with its process, or it was stopped
    /// before it started) takes the job's final status, once.
    async fn settle(&self, e: &mut Execution) -> Result<()> {
        if !matches!(e.status.as_str(), "Pending" | "Running") {
            return Ok(());
        }
        let Some(job_id) = e.job_id else {
            return Ok(());
        };
        let job = self.jobs.job(job_id).await?;
        if job.status.is_final() && job.status != JobStatus::Success {
            e.status = job.status.as_str().to_string();
            self.store
                .set_execution_status(e.id, &e.status, true)
                .await?;
            e.end_time = Some(now());
        }
        Ok(())
    }

    pub async fn executions(
        &self,
        who: &Principal,
        id: i64,
        page: PageReq,
    ) -> Result<(Vec<Execution>, i64)> {
        self.policy_for(who, id, Action::ReadRetention).await?;
        let (mut list, total) = self.store.executions(id, page).await?;
        for e in &mut list {
            self.settle(e).await?;
        }
        Ok((list, total))
    }

    pub async fn tasks(
        &self,
        who: &Principal,
        id: i64,
        eid: i64,
        page: PageReq,
    ) -> Result<(Vec<Task>, i64)> {
        self.execution(who, id, eid).await?;
        Ok(self.store.tasks(eid, page).await?)
    }

    pub async fn task(&self, who: &Principal, id: i64, eid: i64, tid: i64) -> Result<Task> {
        self.execution(who, id, eid).await?;
        self.store
            .task(eid, tid)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("retention task {tid} not found")))
    }

    /// The scheduler: every 10 s, run each policy whose cron is due. Moving its
    /// next fire time is a compare-and-set in the store, so one process wins and
    /// a due policy runs once however many servers share the database. A fire
    /// time missed while no server ran is run once, late, then the schedule goes on.
    pub fn start(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let Some(me) = me.upgrade() else { return };
                if let Err(e) = me.run_due(now()).await {
                    tracing::error!(error = %e, "scheduled retention");
                }
            }
        });
    }

    async fn run_due(&self, now: i64) -> Result<()> {
        for (stored, due_at) in self.store.due_retention_policies(now).await? {
            let policy = match RetentionPolicy::from_stored(&stored) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(policy = stored.id, error = %e, "unreadable retention policy");
                    continue;
                }
            };
            let next = policy.trigger.next_after(now);
            if self
                .store
                .advance_retention_schedule(policy.id, due_at, next)
                .await?
            {
                self.launch(policy, "SCHEDULE", false).await?;
            }
        }
        Ok(())
    }
}

/// Runs retention jobs for the service (held weakly: see [`Retention::new`]).
struct RetentionJobs(Weak<Retention>);

#[async_trait::async_trait]
impl JobHandler for RetentionJobs {
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value> {
        match self.0.upgrade() {
            Some(retention) => retention.run_job(job, ctx).await,
            None => Err(RegistryError::Internal(
                "the registry is shutting down".into(),
            )),
        }
    }
}

/// The digests a run keeps.
pub fn kept_digests(decisions: &[Decision]) -> HashSet<Digest> {
    decisions
        .iter()
        .filter(|d| d.kept_by.is_some())
        .map(|d| d.digest.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(n: u8, tags: &[&str], pushed: i64, pulled: Option<i64>) -> Candidate {
        Candidate {
            digest: Digest::from_str(&format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at: pushed,
            pulled_at: pulled,
            labels: Vec::new(),
        }
    }

    fn policy(rules: Value) -> RetentionPolicy {
        let mut p: RetentionPolicy = serde_json::from_value(json!({
            "algorithm": "or", "rules": rules,
            "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
            "scope": {"level": "project", "ref": 1}
        }))
        .unwrap();
        p.check().unwrap();
        p
    }

    fn rule(template: &str, n: i64, tags: &str, untagged: bool) -> Value {
        json!({"template": template, "params": {template: n}, "action": "retain",
               "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tags,
                                  "extras": if untagged { r#"{"untagged":true}"# } else { "" }}],
               "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}})
    }

    #[test]
    fn rules_or_combine_and_untagged_needs_the_extra() {
        let now = 100 * DAY;
        let all = vec![
            cand(1, &["v1"], now - 50 * DAY, None),
            cand(2, &["v2"], now - 40 * DAY, Some(now - DAY)),
            cand(3, &["v3"], now - 30 * DAY, None),
            cand(4, &[], now - 20 * DAY, None),
            cand(5, &["dev-1"], now - 10 * DAY, None),
        ];
        let p = policy(json!([
            rule("latestPushedK", 2, "v*", false),
            rule("nDaysSinceLastPull", 7, "**", false)
        ]));
        let d = decide(&compile_rules(&p).unwrap(), "app", &all, now).unwrap();
        let kept = kept_digests(&d);
        // latestPushedK 2 among v*: v3, v2; pulled within 7 days: v2.
        assert_eq!(
            kept,
            [&all[1], &all[2]]
                .iter()
                .map(|c| c.digest.clone())
                .collect()
        );
        let p = policy(json!([rule("always", 0, "**", true)]));
        let d = decide(&compile_rules(&p).unwrap(), "app", &all, now).unwrap();
        assert_eq!(kept_digests(&d).len(), 5);
        let p = policy(json!([rule("always", 0, "**", false)]));
        let d = decide(&compile_rules(&p).unwrap(), "app", &all, now).unwrap();
        assert!(!kept_digests(&d).contains(&all[3].digest));
    }

    #[test]
    fn templates_keep_what_they_say() {
        let now = 100 * DAY;
        let all = vec![
            cand(1, &["a"], now - 3 * DAY, Some(now - 9 * DAY)),
            cand(2, &["b"], now - 2 * DAY, None),
            cand(3, &["c"], now - DAY, Some(now - 2 * DAY)),
        ];
        let idx = [0, 1, 2];
        assert_eq!(Template::LatestPushedK(1).keep(&all, &idx, now), vec![2]);
        assert_eq!(
            Template::LatestPulledN(5).keep(&all, &idx, now),
            vec![2, 0, 1]
        );
        assert_eq!(Template::LatestPulledN(1).keep(&all, &idx, now), vec![2]);
        assert_eq!(
            Template::DaysSinceLastPush(2).keep(&all, &idx, now),
            vec![1, 2]
        );
        assert_eq!(
            Template::DaysSinceLastPull(3).keep(&all, &idx, now),
            vec![2]
        );
        assert_eq!(Template::Always.keep(&all, &idx, now), vec![0, 1, 2]);
    }

    #[test]
    fn repositories_no_rule_selects_are_left_alone() {
        let mut r = rule("always", 0, "**", false);
        r["scope_selectors"]["repository"][0]["pattern"] = json!("web/**");
        let p = policy(json!([r]));
        let rules = compile_rules(&p).unwrap();
        assert!(decide(&rules, "db", &[cand(1, &["x"], 0, None)], 0).is_none());
        assert!(decide(&rules, "web/app", &[cand(1, &["x"], 0, None)], 0).is_some());
    }

    #[test]
    fn bad_policies_are_refused_precisely() {
        let mut p: RetentionPolicy = serde_json::from_value(json!({
            "rules": [rule("latestPushedK", -1, "**", false)],
            "scope": {"level": "project", "ref": 1}
        }))
        .unwrap();
        assert!(
            p.check()
                .unwrap_err()
                .to_string()
                .contains("params.latestPushedK")
        );
        let mut p2 = p.clone();
        p2.rules[0].template = "newest".into();
        assert!(
            p2.check()
                .unwrap_err()
                .to_string()
                .contains("unknown retention template")
        );
        let mut p3 = p.clone();
        p3.rules[0].params.insert("latestPushedK".into(), json!(3));
        p3.trigger
            .settings
            .insert("cron".into(), json!("every day"));
        assert!(p3.check().unwrap_err().to_string().contains("six fields"));
    }
}
