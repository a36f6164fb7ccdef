//! What the registry keeps about the security of its content: project settings
//! (Harbor's project metadata), CVE allow-lists, vulnerability scan reports.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use wharf_scanner::Severity;
use wharf_scanner::matcher::Finding;

use super::Result;
use crate::digest::Digest;

/// A CVE allow-list: these IDs do not count against "prevent vulnerable images".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    pub items: Vec<String>,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Allowlist {
    /// The IDs that still apply at `now`.
    pub fn active(&self, now: i64) -> &[String] {
        match self.expires_at {
            Some(t) if t <= now => &[],
            _ => &self.items,
        }
    }
}

/// Where a scan is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    Pending,
    Running,
    Success,
    Error,
    /// Stopped by a user before it ended (Harbor's `Stopped`); its previous report stays.
    Stopped,
}

impl ScanStatus {
    /// Harbor's names (`scan_status`).
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Pending => "Pending",
            ScanStatus::Running => "Running",
            ScanStatus::Success => "Success",
            ScanStatus::Error => "Error",
            ScanStatus::Stopped => "Stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Pending" => ScanStatus::Pending,
            "Running" => ScanStatus::Running,
            "Success" => ScanStatus::Success,
            "Error" => ScanStatus::Error,
            "Stopped" => ScanStatus::Stopped,
            _ => return None,
        })
    }
}

/// What a successful scan found, counted: the numbers artifact lists show.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanSummary {
    pub total: u64,
    /// Findings with a fixed version.
    pub fixable: u64,
    /// Findings per severity, on the scanner's scale (a finding is never `NONE`).
    /// Rows written before 0005 call it `summary` and use Harbor's title-case names,
    /// which parse to the same values.
    #[serde(alias = "summary")]
    pub by_severity: BTreeMap<Severity, u64>,
}

/// The full result of a successful scan, as stored: the scanner's own findings,
/// so that each reader (Harbor's report, the pull gate's policy facts) converts
/// them once, its own way.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VulnerabilityReport {
    /// Unix seconds.
    pub generated_at: i64,
    pub repository: String,
    pub digest: String,
    /// How many packages the image holds.
    pub packages: u64,
    pub findings: Vec<Finding>,
}

impl VulnerabilityReport {
    /// The counts of [`ScanRecord::summary`] and the highest severity found
    /// (`NONE` when nothing was).
    pub fn summary(&self) -> (ScanSummary, Severity) {
        let mut summary = ScanSummary {
            total: self.findings.len() as u64,
            ..Default::default()
        };
        let mut highest = Severity::None;
        for f in &self.findings {
            let level = f.severity();
            *summary.by_severity.entry(level).or_default() += 1;
            if f.fixed_version.is_some() {
                summary.fixable += 1;
            }
            highest = highest.max(level);
        }
        (summary, highest)
    }
}

/// One artifact's latest scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRecord {
    pub digest: Digest,
    pub repository: String,
    pub status: ScanStatus,
    /// Highest severity found: absent before a success, `NONE` when clean.
    pub severity: Option<Severity>,
    pub summary: Option<ScanSummary>,
    pub db_version: Option<String>,
    pub message: Option<String>,
    pub requested_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

/// How a scan ended.
pub struct ScanOutcome<'a> {
    pub status: ScanStatus,
    pub severity: Option<Severity>,
    pub summary: Option<&'a ScanSummary>,
    pub report: Option<&'a VulnerabilityReport>,
    pub db_version: Option<&'a str>,
    pub message: Option<&'a str>,
}

/// What the Security Hub's vulnerability list is filtered by (Harbor's `q`
/// conditions); every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VulnQuery {
    pub cve_id: Option<String>,
    pub severity: Option<Severity>,
    pub package: Option<String>,
    pub project_id: Option<i64>,
    /// Only these projects (the ones a caller may read); empty matches nothing.
    pub project_ids: Option<Vec<i64>>,
    pub repository: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
    /// Inclusive CVSS v3 base score range.
    pub cvss_v3: Option<(f64, f64)>,
}

/// One vulnerability of one artifact (a repository and a digest).
#[derive(Debug, Clone, PartialEq)]
pub struct VulnItem {
    pub project_id: Option<i64>,
    pub repository: String,
    pub digest: String,
    /// Only when asked for (`with_tag`).
    pub tags: Vec<String>,
    pub vuln_id: String,
    pub severity: Severity,
    pub cvss_v3: Option<f64>,
    pub package: String,
    pub version: String,
    pub fixed_version: Option<String>,
    pub status: String,
    pub description: String,
    pub links: Vec<String>,
}

/// A critical vulnerability and where it was first seen, for the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct DangerousCve {
    pub vuln_id: String,
    pub severity: Severity,
    pub cvss_v3: Option<f64>,
    pub description: String,
    pub package: String,
    pub version: String,
}

/// An artifact with the most critical, then high, then medium findings.
#[derive(Debug, Clone, PartialEq)]
pub struct DangerousArtifact {
    pub project_id: Option<i64>,
    pub repository: String,
    pub digest: String,
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
}

/// The registry's vulnerabilities at a glance: every artifact (repository ×
/// digest, accessories excluded) and the findings of its latest successful scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecuritySummary {
    pub artifacts: u64,
    pub scanned: u64,
    pub total: u64,
    pub fixable: u64,
    pub by_severity: BTreeMap<Severity, u64>,
    /// The five critical vulnerabilities with the highest CVSS v3 scores.
    pub dangerous_cves: Vec<DangerousCve>,
    /// The five artifacts with the most critical (then high, medium) findings.
    pub dangerous_artifacts: Vec<DangerousArtifact>,
}

#[async_trait]
pub trait SecurityStore: Send + Sync + 'static {
    async fn project_metadata(&self, project_id: i64) -> Result<BTreeMap<String, String>>;
    /// Settings of many projects in one query (project lists); projects without any are absent.
    async fn project_metadata_many(
        &self,
        project_ids: &[i64],
    ) -> Result<HashMap<i64, BTreeMap<String, String>>>;
    /// Sets the given keys, leaving others as they are.
    async fn set_project_metadata(
        &self,
        project_id: i64,
        values: &BTreeMap<String, String>,
    ) -> Result<()>;

    /// `scope` is `system` or `project:<id>`.
    async fn allowlist(&self, scope: &str) -> Result<Option<Allowlist>>;
    /// Allow-lists of many scopes in one query; scopes without one are absent.
    async fn allowlists(&self, scopes: &[String]) -> Result<HashMap<String, Allowlist>>;
    async fn set_allowlist(
        &self,
        scope: &str,
        items: &[String],
        expires_at: Option<i64>,
    ) -> Result<()>;

    /// Queues a scan unless one is already pending or running; true when queued.
    async fn queue_scan(&self, digest: &Digest, repository: &str) -> Result<bool>;
    /// Marks a pending scan running, held by `owner` until `lease_until`; false
    /// when it is not pending (already taken, by this process or another, or
    /// stopped). `owner` is new for every claim (a random token), so that a
    /// holder whose lease ran out and whose scan was taken again cannot touch
    /// the new holder's run.
    async fn start_scan(&self, digest: &Digest, owner: &str, lease_until: i64) -> Result<bool>;
    /// Extends the lease `owner` holds; false when the scan is no longer
    /// running under that owner (stopped, or requeued and taken by another).
    async fn renew_scan(&self, digest: &Digest, owner: &str, lease_until: i64) -> Result<bool>;
    /// Running scans whose lease ran out before `now` (their process died) back
    /// to Pending, at most `limit`, each by one caller only: the digests moved.
    async fn requeue_expired_scans(&self, now: i64, limit: i64) -> Result<Vec<Digest>>;
    /// Records how the scan `owner` holds ended; false (and nothing written)
    /// when it is no longer running under that owner: stopped meanwhile, or
    /// requeued after the lease ran out (its process stalled) and taken by
    /// another run, whose result must not be overwritten by this late one.
    async fn finish_scan(
        &self,
        digest: &Digest,
        owner: &str,
        outcome: ScanOutcome<'_>,
    ) -> Result<bool>;
    /// Stops the scan of `digest` if it is pending or running: its repository then;
    /// `None` when there is none to stop.
    async fn stop_scan(&self, digest: &Digest) -> Result<Option<String>>;
    /// Stops every pending and running scan (scan-all stop): `(digest, repository)`.
    async fn stop_scans(&self) -> Result<Vec<(Digest, String)>>;
    async fn scan(&self, digest: &Digest) -> Result<Option<ScanRecord>>;
    /// The full report of a successful scan.
    async fn scan_report(&self, digest: &Digest) -> Result<Option<VulnerabilityReport>>;
    /// Latest scans of many artifacts in one query (artifact lists).
    async fn scans(&self, digests: &[Digest]) -> Result<HashMap<Digest, ScanRecord>>;
    /// Scans in `status` (Pending: waiting for a worker of any process),
    /// oldest first, at most `limit`: `(digest, repository)`.
    async fn unfinished_scans(
        &self,
        status: ScanStatus,
        limit: i64,
    ) -> Result<Vec<(Digest, String)>>;
    /// Count of scans by status, for the scan-all metrics.
    async fn scan_counts(&self) -> Result<BTreeMap<String, i64>>;
    /// The Security Hub: findings of artifacts matching `query`, a page of them
    /// (by digest, id, package) and how many match in all. `count_limit`: stop
    /// counting past it and report -1 (Harbor's `tune_count`).
    async fn search_vulnerabilities(
        &self,
        query: &VulnQuery,
        page: super::identity::PageReq,
        with_tags: bool,
        count_limit: Option<u64>,
    ) -> Result<(Vec<VulnItem>, i64)>;
    /// Counts over every artifact's latest successful scan; the dangerous lists
    /// only when asked for.
    async fn security_summary(&self, dangerous: bool) -> Result<SecuritySummary>;
    /// Image manifests that are not accessories, after manifest id `after`, at most
    /// `limit`, by id: `(id, repository, digest)`. Paged so that scan-all never
    /// holds a large registry's every artifact at once.
    async fn scannable_artifacts(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String, Digest)>>;

    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str) -> Result<()>;

    /// Keeps the CSV a CVE export job wrote (replacing one kept for the job before).
    async fn save_cve_export(&self, job_id: i64, csv: &[u8], rows: i64) -> Result<()>;
    /// The CSV of a CVE export job, if it is kept.
    async fn cve_export(&self, job_id: i64) -> Result<Option<Vec<u8>>>;
    /// Which of these jobs still have their CSV (execution lists' `file_present`).
    async fn cve_exports_present(&self, job_ids: &[i64]) -> Result<Vec<i64>>;
    /// Forgets CSVs written before `before` (seconds since the epoch); how many.
    async fn prune_cve_exports(&self, before: i64) -> Result<u64>;
}
