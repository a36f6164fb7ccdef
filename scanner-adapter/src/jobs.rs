//! Accepted scans: each runs once on the blocking pool, at most `concurrency` at a time,
//! and its result is kept for `keep_results` so Harbor can poll for it. The table is
//! bounded (`max_requests`): when it is full of unfinished or fresh work, a new request is
//! refused instead of growing memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Semaphore;
use wharf_scanner::image::LoadOptions;
use wharf_scanner::image::cache::LayerCache;
use wharf_scanner::report::ScanReport;

use crate::Config;
use crate::request::{Artifact, Target};

/// Where a scan is.
#[derive(Clone)]
pub enum State {
    /// Waiting for a slot, or running.
    Pending,
    Done(Arc<Done>),
    /// The message says why (registry refused the credentials, no DB, …).
    Failed(String),
}

/// A finished scan.
pub struct Done {
    pub report: ScanReport,
    pub artifact: Artifact,
    /// RFC 3339.
    pub generated_at: String,
}

struct Entry {
    state: State,
    /// When it finished (`None` while pending): the clock of `keep_results`.
    finished: Option<Instant>,
}

pub struct Jobs {
    config: Config,
    table: Mutex<HashMap<String, Entry>>,
    slots: Arc<Semaphore>,
}

/// The table is full.
#[derive(Debug, thiserror::Error)]
#[error("{0} scan requests are held already; try again later")]
pub struct Full(pub usize);

impl Jobs {
    pub fn new(config: Config) -> Self {
        let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Jobs {
            config,
            table: Mutex::new(HashMap::new()),
            slots,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Queues a scan of `target`; returns its id at once.
    pub fn accept(self: &Arc<Self>, target: Target) -> Result<String, Full> {
        let id = uuid::Uuid::new_v4().to_string();
        {
            let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
            let keep = self.config.keep_results;
            table.retain(|_, e| e.finished.is_none_or(|t| t.elapsed() < keep));
            if table.len() >= self.config.max_requests {
                return Err(Full(table.len()));
            }
            table.insert(
                id.clone(),
                Entry {
                    state: State::Pending,
                    finished: None,
                },
            );
        }
        let jobs = self.clone();
        let job_id = id.clone();
        tokio::spawn(async move {
            let state = jobs.run(target).await;
            let mut table = jobs.table.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = table.get_mut(&job_id) {
                e.state = state;
                e.finished = Some(Instant::now());
            }
        });
        Ok(id)
    }

    /// The scan's state; `None` for an id never given or already forgotten.
    pub fn state(&self, id: &str) -> Option<State> {
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let e = table.get(id)?;
        if e.finished
            .is_some_and(|t| t.elapsed() >= self.config.keep_results)
        {
            return None;
        }
        Some(e.state.clone())
    }

    async fn run(&self, target: Target) -> State {
        let Ok(_slot) = self.slots.clone().acquire_owned().await else {
            return State::Failed("the adapter is shutting down".into());
        };
        let db = self.config.db.clone();
        let cache = self.config.layer_cache.clone();
        let started = Instant::now();
        let reference = target.reference.clone();
        let result = tokio::task::spawn_blocking(move || scan(&target, &db, cache)).await;
        let state = match result {
            Ok(Ok(done)) => State::Done(Arc::new(done)),
            Ok(Err(e)) => State::Failed(e),
            Err(e) => State::Failed(format!("the scan stopped: {e}")),
        };
        match &state {
            State::Done(d) => tracing::info!(
                %reference, findings = d.report.findings.len(), ms = started.elapsed().as_millis() as u64,
                "scan finished"
            ),
            State::Failed(e) => tracing::warn!(%reference, error = %e, "scan failed"),
            State::Pending => {}
        }
        state
    }
}

/// Pulls and scans on the blocking pool. Without the vulnerability capability the
/// inventory alone is taken (an SBOM needs no DB).
fn scan(
    target: &Target,
    db: &std::path::Path,
    cache: Option<Arc<LayerCache>>,
) -> Result<Done, String> {
    let opts = LoadOptions {
        registry: target.registry.clone(),
        cache,
        ..Default::default()
    };
    let report = if target.vulnerability {
        let db = wharf_scanner::db::Db::open_existing(db).map_err(|e| e.to_string())?;
        wharf_scanner::scan(&target.reference, &opts, &db)
    } else {
        wharf_scanner::inventory(&target.reference, &opts)
    }
    .map_err(|e| e.to_string())?;
    Ok(Done {
        report,
        artifact: target.artifact.clone(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}
