//! Pull statistics (Harbor's `pull_time` and `pull_count`): counted in memory on
//! the pull path, written in one transaction a second, so a pull never waits on
//! a database write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Distribution;
use crate::digest::Digest;
use crate::metadata::Pull;
use crate::names::RepoName;

/// How often counted pulls are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct PullCounter(Mutex<HashMap<(String, Digest), (i64, i64)>>);

impl Distribution {
    /// Counts one manifest pull and tells subscribers (`ArtifactPulled`; `tag`:
    /// the tag it was asked for by).
    pub async fn record_pull(&self, repo: &RepoName, digest: &Digest, tag: Option<&str>) {
        self.count_pull(repo, digest);
        self.events
            .publish(&crate::service::events::Event::ArtifactPulled {
                repository: repo.clone(),
                digest: digest.clone(),
                tag: tag.map(str::to_string),
            })
            .await;
    }

    fn count_pull(&self, repo: &RepoName, digest: &Digest) {
        let now = crate::metadata::now();
        if let Ok(mut m) = self.pulls.0.lock() {
            let e = m
                .entry((repo.as_str().to_string(), digest.clone()))
                .or_insert((0, now));
            e.0 += 1;
            e.1 = now;
        }
    }

    /// Writes counted pulls; returns how many manifests were updated.
    pub async fn flush_pulls(&self) -> usize {
        let batch: Vec<Pull> = match self.pulls.0.lock() {
            Ok(mut m) => m
                .drain()
                .map(|((repo, digest), (count, at))| Pull {
                    repo,
                    digest,
                    count,
                    at,
                })
                .collect(),
            Err(_) => return 0,
        };
        if batch.is_empty() {
            return 0;
        }
        if let Err(e) = self.meta.record_pulls(&batch).await {
            tracing::warn!(error = %e, lost = batch.len(), "writing pull statistics failed");
        }
        batch.len()
    }

    /// The background writer; runs for the life of the server.
    pub fn start_pull_stats(self: &Arc<Self>) {
        let reg = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FLUSH_EVERY).await;
                let Some(reg) = reg.upgrade() else { break };
                reg.flush_pulls().await;
            }
        });
    }
}
