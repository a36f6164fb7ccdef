//! What the scanner service knows of its vulnerability database, for the
//! administration pages: where it is, when it was built, how many advisories per
//! ecosystem, where it is replicated from (`--vuln-db-ref`) and how the last pull
//! went; and a pull started now instead of at the next interval.

use std::sync::Mutex;

use super::Security;
use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
use crate::error::{RegistryError, Result};

/// The database as the scanner sees it.
#[derive(Debug, Clone)]
pub struct VulnDbStatus {
    /// False: the server runs without a vulnerability database (no scanning).
    pub enabled: bool,
    pub path: String,
    /// `None` with `problem` set when the file is missing or unreadable.
    pub info: Option<wharf_scanner::db::Info>,
    /// Why `info` is missing (what `wharf db` says about the file).
    pub problem: Option<String>,
    /// The file's modification time (Unix seconds): when it was last replaced.
    pub file_modified: Option<i64>,
    /// `--vuln-db-ref`, when the database is replicated from a registry.
    pub source: Option<String>,
    /// Hours between pulls from `source`.
    pub refresh_hours: Option<u64>,
    pub last_pull: Option<DbPull>,
}

/// How one pull from the source ended.
#[derive(Debug, Clone)]
pub struct DbPull {
    pub finished_at: i64,
    /// `Ok(manifest digest)` or `Err(reason)`.
    pub outcome: std::result::Result<String, String>,
}

/// The pull loop's shared state: a wake-up for "update now" and the last outcome.
#[derive(Default)]
pub(crate) struct PullState {
    pub(crate) now: tokio::sync::Notify,
    pub(crate) running: std::sync::atomic::AtomicBool,
    pub(crate) last: Mutex<Option<DbPull>>,
}

impl PullState {
    pub(crate) fn record(&self, outcome: std::result::Result<String, String>) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(DbPull {
            finished_at: crate::metadata::now(),
            outcome,
        });
    }
}

impl Security {
    /// The vulnerability database's status (system administrators).
    pub async fn vuln_db_status(&self, who: &Principal) -> Result<VulnDbStatus> {
        self.access
            .require_system(who, SystemAction::ReadSecuritySettings)?;
        let Some(scanning) = &self.scanning else {
            return Ok(VulnDbStatus {
                enabled: false,
                path: String::new(),
                info: None,
                problem: None,
                file_modified: None,
                source: None,
                refresh_hours: None,
                last_pull: None,
            });
        };
        let path = scanning.config.db.clone();
        let (info, file_modified) = tokio::task::spawn_blocking({
            let path = path.clone();
            move || {
                let modified = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs() as i64);
                let info = wharf_scanner::db::Db::open_existing(&path)
                    .and_then(|db| db.info())
                    .map_err(|e| e.to_string());
                (info, modified)
            }
        })
        .await
        .map_err(|e| RegistryError::Internal(format!("reading the database: {e}")))?;
        let (info, problem) = match info {
            Ok(i) => (Some(i), None),
            Err(e) => (None, Some(e)),
        };
        let source = scanning.config.source.as_ref();
        Ok(VulnDbStatus {
            enabled: true,
            path: path.display().to_string(),
            info,
            problem,
            file_modified,
            source: source.map(|s| s.reference.clone()),
            refresh_hours: source.map(|s| s.every.as_secs() / 3600),
            last_pull: scanning
                .pull
                .last
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        })
    }

    /// Pull the database from its source now (the loop wakes; the pull runs in the
    /// background). Refused when no source is configured.
    pub fn update_vuln_db(&self, who: &Principal, ip: Option<&str>) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageSecuritySettings)?;
        let scanning = self.scanning_state()?;
        let Some(source) = &scanning.config.source else {
            return Err(RegistryError::bad_request(
                "no source to update the vulnerability database from: start the server with --vuln-db-ref",
            ));
        };
        // Shown as under way at once; the loop clears it when the pull ends.
        scanning
            .pull
            .running
            .store(true, std::sync::atomic::Ordering::Relaxed);
        scanning.pull.now.notify_one();
        self.access
            .audit(who, "update", "vulnerability_db", &source.reference, ip);
        Ok(())
    }

    /// Whether a pull from the source is under way.
    pub fn vuln_db_pulling(&self) -> bool {
        self.scanning
            .as_ref()
            .is_some_and(|s| s.pull.running.load(std::sync::atomic::Ordering::Relaxed))
    }
}
