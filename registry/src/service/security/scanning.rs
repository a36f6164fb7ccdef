//! Vulnerability scanning inside the registry: scan on push (per project), on
//! request, and on a schedule (new advisories appear for old images). Scans
//! read layers straight from the blob store on the blocking pool, match them
//! against the offline database, and store the findings (typed; `http::api::render`
//! turns them into Harbor's report).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Security;
use super::blob_source::{StoreBlobs, inventory_blocking};
use crate::digest::Digest;
use crate::error::{ApiErrorKind, RegistryError, Result};
use crate::metadata::lifecycle::{Job as QueuedJob, NewJob};
use crate::metadata::security::{
    ScanOutcome, ScanRecord, ScanStatus, ScanSummary, VulnerabilityReport,
};
use crate::names::RepoName;
use crate::service::events::Event;
use crate::service::lifecycle::{JobContext, JobHandler};
use wharf_scanner::Severity;
use wharf_scanner::image::cache::LayerCache;

/// The job kind of scan-all on the durable queue.
pub const SCAN_ALL: &str = "scan_all";

/// When scan-all runs: Harbor's schedule types (`None`, `Hourly`, `Daily`, `Weekly`,
/// `Custom`) with the 6-field cron they stand for. Stored as this JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanSchedule {
    #[serde(rename = "type")]
    pub kind: String,
    pub cron: String,
}

impl Default for ScanSchedule {
    fn default() -> Self {
        ScanSchedule {
            kind: "None".into(),
            cron: String::new(),
        }
    }
}

/// How many scans are in each state (`Pending`, `Running`, `Success`, `Error`, `Stopped`).
#[derive(Debug, Clone, Default)]
pub struct ScanMetrics {
    pub by_status: BTreeMap<String, i64>,
}

impl ScanMetrics {
    pub fn total(&self) -> i64 {
        self.by_status.values().sum()
    }

    /// Scans queued or running.
    pub fn ongoing(&self) -> i64 {
        ["Pending", "Running"]
            .iter()
            .filter_map(|s| self.by_status.get(*s))
            .sum()
    }
}

/// Where the vulnerability database is and how many scans run at once.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub db: PathBuf,
    pub workers: usize,
    /// Scans waiting in memory for a worker (0: [`QUEUE`]); beyond, they wait as
    /// `Pending` rows.
    pub queue: usize,
    /// Where to pull the database from, and how often.
    pub source: Option<DbSource>,
    /// The scanner's layer cache, shared by every scan and SBOM of this process. The
    /// registry's layer digests are content addresses verified at push, so a hit that
    /// trusts the digest trusts what the registry checked.
    pub layer_cache: Option<Arc<LayerCache>>,
}

/// A registry reference the database is replicated from (`wharf db push` made it).
#[derive(Clone)]
pub struct DbSource {
    pub reference: String,
    pub registry: wharf_oci::RegistryOptions,
    pub every: Duration,
}

impl std::fmt::Debug for DbSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("DbSource")
            .field("reference", &self.reference)
            .field("every", &self.every)
            .finish()
    }
}

/// How long a running scan is held without renewal before another process may
/// take it over (renewed every third of it while the scan runs).
const SCAN_LEASE: Duration = Duration::from_secs(60);

/// How often every process looks for `Pending` scans no queue holds and for
/// running scans whose process died.
const SWEEP: Duration = Duration::from_secs(10);

/// Stops a background task when the scan that started it ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Work for the scan workers.
pub(crate) enum Job {
    /// A vulnerability scan; its row in `scan_reports` says where to read it.
    Scan(Digest),
    /// Generate an SBOM and attach it to the artifact as a referrer.
    Sbom(RepoName, Digest),
}

/// Jobs waiting for a worker in memory. Scans beyond it wait as `Pending` rows
/// and are read back page by page as the queue empties (a scan-all of a million
/// artifacts costs no memory); SBOM jobs beyond it are dropped with a warning.
/// The default of `--scan-queue-size`.
pub const QUEUE: usize = 1024;

pub(crate) struct Scanning {
    pub(crate) config: ScanConfig,
    tx: mpsc::Sender<Job>,
    rx: Mutex<Option<mpsc::Receiver<Job>>>,
    /// Pending scans exist that are not in the queue (it was full, or the
    /// server restarted): the refill task reads them from the store.
    backlog: std::sync::atomic::AtomicBool,
    /// The database pull loop's wake-up and last outcome.
    pub(crate) pull: super::vulndb::PullState,
    /// The scans this process's workers are running, by digest: a stop cancels the
    /// worker's wait, so it takes the next scan at once.
    running: Mutex<HashMap<Digest, CancellationToken>>,
}

impl Scanning {
    pub(crate) fn new(config: ScanConfig) -> Self {
        let queue = if config.queue == 0 {
            QUEUE
        } else {
            config.queue
        };
        let (tx, rx) = mpsc::channel(queue);
        Scanning {
            config,
            tx,
            rx: Mutex::new(Some(rx)),
            backlog: std::sync::atomic::AtomicBool::new(true),
            pull: Default::default(),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Cancels this process's worker on `digest`, if one runs it.
    fn cancel(&self, digest: &Digest) {
        if let Some(token) = self
            .running
            .lock()
            .ok()
            .and_then(|m| m.get(digest).cloned())
        {
            token.cancel();
        }
    }

    /// Queue a job without waiting; `false` when the queue is full.
    pub(crate) fn offer(&self, job: Job) -> bool {
        match self.tx.try_send(job) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => false,
            // Workers gone: the server is stopping; the row stays Pending.
            Err(mpsc::error::TrySendError::Closed(_)) => true,
        }
    }

    /// Queue a scan whose row is `Pending`; past the queue's size it waits there.
    fn offer_scan(&self, digest: &Digest) {
        if !self.offer(Job::Scan(digest.clone())) {
            self.backlog
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// What one scan produced, ready to store.
struct Produced {
    severity: Severity,
    summary: ScanSummary,
    report: VulnerabilityReport,
    db_version: String,
}

fn scan_blocking(source: StoreBlobs, db_path: PathBuf, digest: Digest) -> Result<Produced, String> {
    let repository = source.repo.to_string();
    let db = wharf_scanner::db::Db::open_existing(&db_path).map_err(|e| e.to_string())?;
    let info = db.info().map_err(|e| e.to_string())?;
    let scanned = inventory_blocking(&source, &digest)?;
    let mut warnings = wharf_scanner::Warnings::default();
    let inventory = &scanned.inventory;
    let findings = wharf_scanner::matcher::match_inventory(&db, inventory, &mut warnings)
        .map_err(|e| e.to_string())?;
    let report = VulnerabilityReport {
        generated_at: crate::metadata::now(),
        repository,
        digest: digest.to_string(),
        packages: inventory.packages.len() as u64,
        findings,
    };
    let (summary, severity) = report.summary();
    let db_version = info
        .updated_at
        .unwrap_or_else(|| format!("schema {}", info.schema_version));
    Ok(Produced {
        severity,
        summary,
        report,
        db_version,
    })
}

impl Security {
    /// Turn on scanning (on push, on request, scheduled).
    pub fn with_scanning(mut self, config: ScanConfig) -> Self {
        self.scanning = Some(Scanning::new(config));
        self
    }

    pub(crate) fn scanning_state(&self) -> Result<&Scanning> {
        self.scanning()
    }

    fn scanning(&self) -> Result<&Scanning> {
        self.scanning.as_ref().ok_or_else(|| {
            RegistryError::api(
                ApiErrorKind::Unavailable,
                "scanning is not enabled on this registry",
            )
        })
    }

    /// Start the scan workers and the scheduler; requeue scans a crash left behind.
    pub fn start_scanning(self: &Arc<Self>) {
        let Some(scanning) = &self.scanning else {
            return;
        };
        let Some(rx) = scanning.rx.lock().ok().and_then(|mut g| g.take()) else {
            return;
        };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..scanning.config.workers.max(1) {
            let (reg, rx) = (self.clone(), rx.clone());
            tokio::spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    match next {
                        Some(job) => reg.run_job(job).await,
                        None => break,
                    }
                }
            });
        }
        let reg = self.clone();
        tokio::spawn(async move { reg.refill_scans().await });
        if let Some(source) = scanning.config.source.clone() {
            let reg = self.clone();
            tokio::spawn(async move { reg.replicate_db(source).await });
        }
    }

    /// Pulls the database now and then every `source.every`. A pull is verified and
    /// renamed into place whole, so scans see the old file or the new, never a mix.
    async fn replicate_db(self: Arc<Self>, source: DbSource) {
        let Some(scanning) = &self.scanning else {
            return;
        };
        let pull = &scanning.pull;
        loop {
            let (dest, s) = (scanning.config.db.clone(), source.clone());
            let started = std::time::Instant::now();
            pull.running
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let result = tokio::task::spawn_blocking(move || {
                // Wharf's artifact or Trivy's, verified (and imported) before it replaces `dest`
                let mut warnings = wharf_scanner::Warnings::default();
                wharf_scanner::db::artifact::update(
                    &s.reference,
                    &dest,
                    &s.registry,
                    &mut |_, _| {},
                    &mut warnings,
                )
                .map(|u| u.pulled)
            })
            .await;
            match result {
                Ok(Ok(p)) => {
                    tracing::info!(reference = %p.reference, manifest = %p.manifest_digest, ms = started.elapsed().as_millis() as u64, "vulnerability database pulled");
                    pull.record(Ok(p.manifest_digest.to_string()));
                }
                Ok(Err(e)) => {
                    tracing::error!(reference = %source.reference, error = %e, "pulling the vulnerability database failed; scans use the previous one");
                    pull.record(Err(e.to_string()));
                }
                Err(e) => {
                    tracing::error!(error = %e, "database pull task failed");
                    pull.record(Err(e.to_string()));
                }
            }
            pull.running
                .store(false, std::sync::atomic::Ordering::Relaxed);
            // The next interval, or sooner when an administrator asks for it.
            tokio::select! {
                _ = tokio::time::sleep(source.every) => {}
                _ = pull.now.notified() => {}
            }
        }
    }

    /// Feed `Pending` scans into the local queue, a queue's worth at a time and only
    /// once it has emptied (so none is read twice while queued): at once when
    /// this process knows of some it could not queue, and every [`SWEEP`] in any
    /// case. Replicas share the `Pending` rows, so every process reads them: a
    /// scan queued on a replica that died is run by another, and a scan that two
    /// processes both queue runs once (`start_scan` lets one of them take it).
    /// Each sweep first moves `Running` scans whose lease ran out (their process
    /// died) back to `Pending`; a live process's scan keeps its lease renewed.
    async fn refill_scans(&self) {
        let Some(scanning) = &self.scanning else {
            return;
        };
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut last_sweep: Option<std::time::Instant> = None;
        loop {
            tick.tick().await;
            let sweep = last_sweep.is_none_or(|t| t.elapsed() >= SWEEP);
            if sweep {
                last_sweep = Some(std::time::Instant::now());
                let limit = scanning.tx.max_capacity() as i64;
                match self
                    .store
                    .requeue_expired_scans(crate::metadata::now(), limit)
                    .await
                {
                    Ok(moved) => {
                        for digest in moved {
                            tracing::info!(%digest, "resuming a scan whose process stopped");
                            scanning
                                .backlog
                                .store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "reading unfinished scans"),
                }
            }
            let wanted = sweep || scanning.backlog.load(std::sync::atomic::Ordering::Relaxed);
            if !wanted || scanning.tx.capacity() < scanning.tx.max_capacity() {
                continue;
            }
            scanning
                .backlog
                .store(false, std::sync::atomic::Ordering::Relaxed);
            match self
                .store
                .unfinished_scans(ScanStatus::Pending, scanning.tx.max_capacity() as i64)
                .await
            {
                Ok(page) => {
                    let full = page.len() == scanning.tx.max_capacity();
                    for (digest, _) in page {
                        scanning.offer_scan(&digest);
                    }
                    if full {
                        scanning
                            .backlog
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading pending scans");
                    scanning
                        .backlog
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    }

    /// Queue a scan of `digest` (read from `repository`); false if one is already queued.
    pub async fn queue_scan(&self, repository: &str, digest: &Digest) -> Result<bool> {
        let scanning = self.scanning()?;
        let queued = self.store.queue_scan(digest, repository).await?;
        if queued {
            scanning.offer_scan(digest);
        }
        Ok(queued)
    }

    pub(super) async fn run_scan(&self, digest: &Digest) {
        let Some(scanning) = &self.scanning else {
            return;
        };
        // Registered before the row turns Running, so a stop never finds it running
        // without a token to cancel; removed however the scan ends.
        // A digest already in the table is another worker's (queued twice): this one
        // will not get its row, and leaves the entry alone.
        let token = CancellationToken::new();
        let owned = scanning
            .running
            .lock()
            .is_ok_and(|mut m| match m.entry(digest.clone()) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(token.clone());
                    true
                }
            });
        let _running = owned.then(|| RunningGuard(scanning, digest));
        let lease = || crate::metadata::now() + SCAN_LEASE.as_secs() as i64;
        // This run's lease token: renewals and the result are written only while
        // the row is still held under it.
        let owner = uuid::Uuid::new_v4().to_string();
        match self.store.start_scan(digest, &owner, lease()).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return tracing::error!(%digest, error = %e, "starting scan"),
        }
        // The lease is renewed while the scan runs; it runs out only when this
        // process stops (then another replica, or this one restarted, resumes it).
        // A row no longer Running was stopped, possibly through another replica:
        // the scan is cancelled as a local stop would.
        let renewing = {
            let (store, digest, token) = (self.store.clone(), digest.clone(), token.clone());
            let owner = owner.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(SCAN_LEASE / 3).await;
                    match store.renew_scan(&digest, &owner, lease()).await {
                        Ok(true) => {}
                        Ok(false) => return token.cancel(),
                        Err(e) => tracing::warn!(%digest, error = %e, "renewing the scan's lease"),
                    }
                }
            })
        };
        let _stop_renewing = AbortOnDrop(renewing);
        let repository = match self.store.scan(digest).await {
            Ok(Some(r)) => r.repository,
            _ => return,
        };
        let started = std::time::Instant::now();
        let result = match RepoName::parse(&repository) {
            Ok(repo) => {
                let source = StoreBlobs::new(
                    self.meta.clone(),
                    self.blobs.clone(),
                    repo,
                    scanning.config.layer_cache.clone(),
                );
                let (db, d) = (scanning.config.db.clone(), digest.clone());
                let scan = tokio::task::spawn_blocking(move || scan_blocking(source, db, d));
                // A stop frees the worker now; the blocking read it leaves behind ends
                // on its own and its result is dropped (the row says Stopped).
                tokio::select! {
                    r = scan => r.unwrap_or_else(|e| Err(format!("scan task failed: {e}"))),
                    _ = token.cancelled() => {
                        tracing::info!(%digest, %repository, "scan stopped");
                        return;
                    }
                }
            }
            Err(e) => Err(format!("repository {repository:?}: {e}")),
        };
        let stored = match &result {
            Ok(p) => {
                tracing::info!(%digest, %repository, severity = %p.severity, total = p.summary.total, ms = started.elapsed().as_millis() as u64, "scanned");
                let ok = ScanOutcome {
                    status: ScanStatus::Success,
                    severity: Some(p.severity),
                    summary: Some(&p.summary),
                    report: Some(&p.report),
                    db_version: Some(&p.db_version),
                    message: None,
                };
                self.store.finish_scan(digest, &owner, ok).await
            }
            Err(msg) => {
                tracing::warn!(%digest, %repository, error = %msg, "scan failed");
                let failed = ScanOutcome {
                    status: ScanStatus::Error,
                    severity: None,
                    summary: None,
                    report: None,
                    db_version: None,
                    message: Some(msg),
                };
                self.store.finish_scan(digest, &owner, failed).await
            }
        };
        match stored {
            Ok(true) => {}
            // Stopped meanwhile (the stop told of it), or this run stalled past its
            // lease and the scan was taken again: that run's result stands.
            Ok(false) => {
                return tracing::info!(%digest, %repository, "scan result dropped: the scan was stopped or taken over by another run");
            }
            Err(e) => tracing::error!(%digest, error = %e, "storing scan result"),
        }
        let Ok(repository) = RepoName::parse(&repository) else {
            return;
        };
        let event = match result {
            Ok(p) => Event::ScanFinished {
                repository,
                digest: digest.clone(),
                severity: p.severity.to_string(),
                total: p.summary.total,
            },
            Err(message) => Event::ScanFailed {
                repository,
                digest: digest.clone(),
                message,
            },
        };
        self.distribution.events().publish(&event).await;
    }

    /// Stops the scan of `digest` (Harbor's `…/scan/stop`): a queued one never
    /// starts, a running one's worker moves on; the row becomes `Stopped` (its last
    /// good report stays) and `SCANNING_STOPPED` is told. `NotFound` when the
    /// artifact was never scanned, `BadRequest` when its scan already ended.
    pub async fn stop_scan(&self, digest: &Digest) -> Result<()> {
        let scanning = self.scanning()?;
        match self.store.stop_scan(digest).await? {
            Some(repository) => {
                scanning.cancel(digest);
                self.tell_stopped(digest, &repository).await;
                Ok(())
            }
            None => match self.store.scan(digest).await? {
                None => Err(RegistryError::not_found(format!(
                    "no scan of artifact {digest} was found"
                ))),
                Some(r) => Err(RegistryError::bad_request(format!(
                    "the scan of artifact {digest} is not pending or running (it is {})",
                    r.status.as_str()
                ))),
            },
        }
    }

    /// Stops every pending and running scan (Harbor's `/system/scanAll/stop`);
    /// how many. `BadRequest` when none is (Harbor: no scan-all job to stop).
    pub async fn stop_scan_all(&self) -> Result<usize> {
        let scanning = self.scanning()?;
        let stopped = self.store.stop_scans().await?;
        if stopped.is_empty() {
            return Err(RegistryError::bad_request("no scan is pending or running"));
        }
        for (digest, repository) in &stopped {
            scanning.cancel(digest);
            self.tell_stopped(digest, repository).await;
        }
        tracing::info!(stopped = stopped.len(), "scans stopped");
        Ok(stopped.len())
    }

    async fn tell_stopped(&self, digest: &Digest, repository: &str) {
        let Ok(repository) = RepoName::parse(repository) else {
            return;
        };
        let event = Event::ScanStopped {
            repository,
            digest: digest.clone(),
        };
        self.distribution.events().publish(&event).await;
    }

    /// The scan records of a page of artifacts (for `scan_overview`): one query.
    pub async fn scan_overviews(
        &self,
        digests: &[Digest],
    ) -> Result<std::collections::HashMap<Digest, ScanRecord>> {
        Ok(self.store.scans(digests).await?)
    }

    pub async fn scan_record(&self, digest: &Digest) -> Result<Option<ScanRecord>> {
        Ok(self.store.scan(digest).await?)
    }

    pub async fn scan_report(&self, digest: &Digest) -> Result<Option<VulnerabilityReport>> {
        Ok(self.store.scan_report(digest).await?)
    }

    /// Queue every image artifact in the registry (scan-all).
    pub async fn scan_all(&self) -> Result<usize> {
        self.scanning()?;
        const PAGE: u32 = 500;
        let mut n = 0;
        let mut after = 0;
        loop {
            let page = self.store.scannable_artifacts(after, PAGE).await?;
            for (_, repo, digest) in &page {
                if self.queue_scan(repo, digest).await? {
                    n += 1;
                }
            }
            match page.last() {
                Some((id, _, _)) if page.len() == PAGE as usize => after = *id,
                _ => break,
            }
        }
        tracing::info!(queued = n, "scan all");
        Ok(n)
    }

    /// The scan-all schedule (none set: `None`), kept by the job queue.
    pub async fn scan_schedule(&self) -> Result<ScanSchedule> {
        Ok(match self.jobs().schedule(SCAN_ALL).await? {
            Some(s) => ScanSchedule {
                kind: s.schedule_type,
                cron: s.cron,
            },
            None => ScanSchedule::default(),
        })
    }

    /// Set the schedule. `Manual` queues one scan-all job now and keeps the schedule.
    pub async fn set_scan_schedule(&self, kind: &str, cron_expr: &str) -> Result<()> {
        self.scanning()?;
        let jobs = self.jobs();
        if kind == "Manual" {
            jobs.enqueue(NewJob::manual(SCAN_ALL, serde_json::json!({})))
                .await?;
            return Ok(());
        }
        jobs.set_schedule(SCAN_ALL, kind, cron_expr, serde_json::json!({}))
            .await?;
        Ok(())
    }

    pub async fn scan_metrics(&self) -> Result<ScanMetrics> {
        Ok(ScanMetrics {
            by_status: self.store.scan_counts().await?.into_iter().collect(),
        })
    }
}

/// Takes a scan out of [`Scanning`]'s running table when its worker leaves it.
struct RunningGuard<'a>(&'a Scanning, &'a Digest);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.0.running.lock() {
            m.remove(self.1);
        }
    }
}

/// Scan-all as a job of the durable queue (kind [`SCAN_ALL`]): run by hand
/// (`Manual`) or on the schedule, once across processes; queues a scan of every image.
pub struct ScanAllJob(pub Weak<Security>);

#[async_trait::async_trait]
impl JobHandler for ScanAllJob {
    async fn run(&self, _job: &QueuedJob, ctx: &JobContext) -> Result<serde_json::Value> {
        let security = self
            .0
            .upgrade()
            .ok_or_else(|| RegistryError::Internal("the registry is shutting down".into()))?;
        let queued = security.scan_all().await?;
        ctx.log(format!("queued {queued} scans")).await;
        Ok(serde_json::json!({ "queued": queued }))
    }
}
