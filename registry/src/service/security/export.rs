//! CVE export (Harbor's `/export/cve`): the Security Hub's findings of the projects a
//! caller names, filtered by repository, tag and CVE, written as Harbor's CSV by a job
//! on the durable queue, kept for a day for the caller to download.
//!
//! The job pages through the findings index (never one query holding every row) and
//! stops at [`MAX_ROWS`], saying so in its log, so an export cannot grow without bound.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Weak;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use super::Security;
use crate::auth::Principal;
use crate::auth::rbac::Action;
use crate::error::{RegistryError, Result};
use crate::metadata::identity::PageReq;
use crate::metadata::lifecycle::{Job, JobFilter, NewJob};
use crate::metadata::security::VulnQuery;
use crate::service::lifecycle::{JobContext, JobHandler};

/// The job kind.
pub const CVE_EXPORT: &str = "cve_export";
/// Rows an export holds at most.
pub const MAX_ROWS: usize = 200_000;
/// How long a finished export's CSV is kept, in seconds.
pub const KEEP_SECONDS: i64 = 24 * 3600;
const PAGE: u32 = 1000;

/// Harbor's `ScanDataExportRequest`. Sets are written `{a,b}` (or one bare value).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CveExportRequest {
    #[serde(default)]
    pub job_name: String,
    #[serde(default)]
    pub projects: Vec<i64>,
    #[serde(default)]
    pub labels: Vec<i64>,
    /// Repository names or globs (`library/*`), without the project.
    #[serde(default)]
    pub repositories: Option<String>,
    #[serde(default, rename = "cveIds")]
    pub cve_ids: Option<String>,
    #[serde(default)]
    pub tags: Option<String>,
}

/// What the job needs, stored as its parameters.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct Parameters {
    user_id: Option<i64>,
    user_name: String,
    request: CveExportRequest,
    /// The projects' ids and names, checked when the export was asked for.
    projects: Vec<(i64, String)>,
}

/// One export as Harbor's `ScanDataExportExecution` shows it.
#[derive(Debug, Clone)]
pub struct CveExportExecution {
    pub job: Job,
    pub user_id: Option<i64>,
    pub user_name: String,
    pub job_name: String,
    pub file_present: bool,
}

/// `{a,b}`, `a,b` or `a` → the values; empty or absent → none (no filter).
fn set(v: &Option<String>) -> Vec<String> {
    let Some(s) = v.as_deref().map(str::trim) else {
        return Vec::new();
    };
    let s = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(s);
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

fn globs(patterns: &[String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(
            Glob::new(p)
                .map_err(|e| RegistryError::bad_request(format!("repositories: {p:?}: {e}")))?,
        );
    }
    b.build()
        .map(Some)
        .map_err(|e| RegistryError::bad_request(format!("repositories: {e}")))
}

impl Security {
    /// Queues an export of the named projects' findings; the execution id.
    pub async fn export_cve(&self, who: &Principal, request: CveExportRequest) -> Result<i64> {
        if request.projects.is_empty() {
            return Err(RegistryError::bad_request(
                "projects: name at least one project id",
            ));
        }
        if !request.labels.is_empty() && self.labels.is_none() {
            return Err(RegistryError::bad_request(
                "labels: artifact labels are not available here; leave the filter empty",
            ));
        }
        globs(&set(&request.repositories))?;
        let mut projects = Vec::new();
        for id in &request.projects {
            let p = self
                .access
                .project_for(who, &id.to_string(), Action::ExportCve)
                .await?;
            projects.push((p.id, p.name));
        }
        let params = Parameters {
            user_id: who.user_id(),
            user_name: who.name().to_string(),
            request,
            projects,
        };
        let value =
            serde_json::to_value(&params).map_err(|e| RegistryError::Internal(e.to_string()))?;
        self.jobs.enqueue(NewJob::manual(CVE_EXPORT, value)).await
    }

    /// The caller's exports among the newest 100, newest first (Harbor lists only one's
    /// own).
    pub async fn cve_exports(&self, who: &Principal) -> Result<Vec<CveExportExecution>> {
        let filter = JobFilter {
            kind: Some(CVE_EXPORT.to_string()),
            status: None,
        };
        let page = PageReq {
            page: 1,
            page_size: 100,
        };
        let (jobs, _) = self.jobs.list(&filter, page).await?;
        self.executions(who, jobs).await
    }

    /// One of the caller's exports, read by id (however many exports came after it);
    /// another's is not found, as in Harbor.
    pub async fn cve_export(&self, who: &Principal, id: i64) -> Result<CveExportExecution> {
        let job = self.jobs.store().job(id).await?;
        self.executions(who, job.into_iter().collect())
            .await?
            .pop()
            .ok_or_else(|| RegistryError::not_found(format!("CVE export {id} not found")))
    }

    /// Those of `jobs` that are exports asked for by `who`, with whether each still has
    /// its file (one query for all).
    async fn executions(&self, who: &Principal, jobs: Vec<Job>) -> Result<Vec<CveExportExecution>> {
        let mine: Vec<(Job, Parameters)> = jobs
            .into_iter()
            .filter(|j| j.kind == CVE_EXPORT)
            .filter_map(|j| {
                let p: Parameters = serde_json::from_value(j.parameters.clone()).ok()?;
                (p.user_name == who.name() && p.user_id == who.user_id()).then_some((j, p))
            })
            .collect();
        let ids: Vec<i64> = mine.iter().map(|(j, _)| j.id).collect();
        let present: BTreeSet<i64> = self
            .store
            .cve_exports_present(&ids)
            .await?
            .into_iter()
            .collect();
        Ok(mine
            .into_iter()
            .map(|(job, p)| CveExportExecution {
                file_present: present.contains(&job.id),
                user_id: p.user_id,
                user_name: p.user_name,
                job_name: p.request.job_name,
                job,
            })
            .collect())
    }

    /// The CSV of one of the caller's finished exports.
    pub async fn cve_export_file(&self, who: &Principal, id: i64) -> Result<Vec<u8>> {
        self.cve_export(who, id).await?;
        self.store.cve_export(id).await?.ok_or_else(|| {
            RegistryError::not_found(format!(
                "CVE export {id} has no file (not finished, or older than a day)"
            ))
        })
    }

    /// Whether the artifact carries any of `label_ids` (true when none are asked for).
    async fn carries_labels(
        &self,
        label_ids: &[i64],
        cache: &mut HashMap<String, HashSet<String>>,
        repository: &str,
        digest: &str,
    ) -> Result<bool> {
        if label_ids.is_empty() {
            return Ok(true);
        }
        let Some(labels) = &self.labels else {
            return Ok(false);
        };
        if !cache.contains_key(repository) {
            let digests = match crate::names::RepoName::parse(repository) {
                Ok(repo) => labels
                    .labelled(&repo, label_ids)
                    .await?
                    .into_iter()
                    .map(|d| d.to_string())
                    .collect(),
                Err(_) => HashSet::new(),
            };
            cache.insert(repository.to_string(), digests);
        }
        Ok(cache[repository].contains(digest))
    }

    async fn write_cve_export(&self, job: &Job, ctx: &JobContext) -> Result<serde_json::Value> {
        let p: Parameters = serde_json::from_value(job.parameters.clone())
            .map_err(|e| RegistryError::Internal(format!("export parameters: {e}")))?;
        let pruned = self
            .store
            .prune_cve_exports(crate::metadata::now() - KEEP_SECONDS)
            .await?;
        if pruned > 0 {
            ctx.log(format!("pruned {pruned} exports older than a day"))
                .await;
        }
        let repos = globs(&set(&p.request.repositories))?;
        let cves: BTreeSet<String> = set(&p.request.cve_ids).into_iter().collect();
        let tags: BTreeSet<String> = set(&p.request.tags).into_iter().collect();
        // `labels`: artifacts carrying any of them, read once per repository met.
        let mut labelled: HashMap<String, HashSet<String>> = HashMap::new();
        let mut out = csv::Writer::from_writer(Vec::new());
        let csv_err = |e: csv::Error| RegistryError::Internal(format!("writing CSV: {e}"));
        out.write_record([
            "Repository",
            "Artifact Digest",
            "CVE",
            "Package",
            "Current Version",
            "Fixed in version",
            "Severity",
            "CWE Ids",
            "Additional Data",
            "Scanner",
        ])
        .map_err(csv_err)?;
        let (mut rows, mut truncated) = (0usize, false);
        'projects: for (project_id, project) in &p.projects {
            let prefix = format!("{project}/");
            // One CVE narrows the index lookup; several are filtered here.
            let query = VulnQuery {
                project_id: Some(*project_id),
                cve_id: (cves.len() == 1)
                    .then(|| cves.iter().next().cloned())
                    .flatten(),
                ..Default::default()
            };
            for page in 1.. {
                if ctx.should_stop() {
                    return Err(RegistryError::Internal("stopped".into()));
                }
                let req = PageReq {
                    page,
                    page_size: PAGE,
                };
                let (items, _) = self
                    .store
                    .search_vulnerabilities(&query, req, !tags.is_empty(), None)
                    .await?;
                let last = items.len() < PAGE as usize;
                for v in items {
                    let in_project = v.repository.strip_prefix(&prefix).unwrap_or(&v.repository);
                    if repos.as_ref().is_some_and(|g| !g.is_match(in_project))
                        || (!cves.is_empty() && !cves.contains(&v.vuln_id))
                        || (!tags.is_empty() && !v.tags.iter().any(|t| tags.contains(t)))
                        || !self
                            .carries_labels(
                                &p.request.labels,
                                &mut labelled,
                                &v.repository,
                                &v.digest,
                            )
                            .await?
                    {
                        continue;
                    }
                    if rows == MAX_ROWS {
                        truncated = true;
                        break 'projects;
                    }
                    let additional = serde_json::json!({"status": v.status, "cvss_v3": v.cvss_v3,
                        "links": v.links, "description": v.description});
                    out.write_record([
                        v.repository.as_str(),
                        &v.digest,
                        &v.vuln_id,
                        &v.package,
                        &v.version,
                        v.fixed_version.as_deref().unwrap_or(""),
                        wharf_scanner::report::harbor::harbor_severity(v.severity),
                        "",
                        &additional.to_string(),
                        "Wharf",
                    ])
                    .map_err(csv_err)?;
                    rows += 1;
                }
                if last {
                    break;
                }
            }
        }
        let csv = out
            .into_inner()
            .map_err(|e| RegistryError::Internal(format!("writing CSV: {e}")))?;
        self.store
            .save_cve_export(job.id, &csv, rows as i64)
            .await?;
        if truncated {
            ctx.log(format!(
                "stopped at {MAX_ROWS} rows: narrow the export with repositories, tags or cveIds"
            ))
            .await;
        }
        ctx.log(format!("exported {rows} rows ({} bytes)", csv.len()))
            .await;
        Ok(serde_json::json!({"rows": rows, "bytes": csv.len(), "truncated": truncated}))
    }
}

/// CVE export as a job of the durable queue (kind [`CVE_EXPORT`]).
pub struct CveExportJob(pub Weak<Security>);

#[async_trait::async_trait]
impl JobHandler for CveExportJob {
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<serde_json::Value> {
        let security = self
            .0
            .upgrade()
            .ok_or_else(|| RegistryError::Internal("the registry is shutting down".into()))?;
        security.write_cve_export(job, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::set;

    #[test]
    fn harbor_sets_read_with_or_without_braces() {
        assert_eq!(set(&Some("{CVE-1, CVE-2}".into())), ["CVE-1", "CVE-2"]);
        assert_eq!(set(&Some("v1".into())), ["v1"]);
        assert!(set(&Some("{}".into())).is_empty() && set(&None).is_empty());
    }
}
