//! Scrub, as a job (`scrub`): re-hash every stored blob (streamed, never whole
//! in memory) and every manifest's bytes, and report those whose bytes do not
//! match their digest, with the repositories that use them. Disks rot and
//! files get edited by hand; a content-addressed store can prove its content,
//! so it should, before a pull hands a client a layer that fails its check.
//!
//! With `quarantine`, a corrupt blob's file is moved aside (kept for
//! inspection, never served) and its repository links dropped, so a HEAD says
//! absent and the next push of that layer uploads good bytes again.

use std::sync::Arc;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::jobs::{JobContext, JobHandler};
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::metadata::lifecycle::{DoomedBlob, Job, LifecycleStore};
use crate::storage::{BlobStore, StorageError};

/// The job kind of scrub.
pub const SCRUB: &str = "scrub";
const PAGE: u32 = 500;
/// Problems listed in the job's result (all of them are in its log).
const MAX_LISTED: usize = 1000;

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct ScrubParams {
    #[serde(default)]
    pub quarantine: bool,
}

pub struct Scrub {
    store: Arc<dyn LifecycleStore>,
    blobs: Arc<dyn BlobStore>,
}

/// What is wrong with one blob's file.
enum Problem {
    Missing,
    Mismatch(Digest),
}

impl Scrub {
    pub fn new(store: Arc<dyn LifecycleStore>, blobs: Arc<dyn BlobStore>) -> Self {
        Scrub { store, blobs }
    }

    async fn check(&self, blob: &DoomedBlob) -> Result<Option<Problem>> {
        let mut data = match self.blobs.read(&blob.digest, None).await {
            Ok(data) => data,
            Err(StorageError::BlobNotFound(_)) => return Ok(Some(Problem::Missing)),
            Err(e) => return Err(e.into()),
        };
        let mut hasher = blob.digest.algorithm().hasher();
        while let Some(chunk) = data.next().await {
            hasher.update(&chunk.map_err(StorageError::Io)?);
        }
        let got = hasher.finish();
        Ok((got != blob.digest).then_some(Problem::Mismatch(got)))
    }
}

#[async_trait::async_trait]
impl JobHandler for Scrub {
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value> {
        let params: ScrubParams = if job.parameters.is_null() {
            ScrubParams::default()
        } else {
            serde_json::from_value(job.parameters.clone())
                .map_err(|e| RegistryError::bad_request(format!("scrub parameters: {e}")))?
        };
        let (mut blobs, mut bytes, mut quarantined) = (0u64, 0u64, 0u64);
        let mut corrupt = Vec::new();
        let mut after: Option<Digest> = None;
        'pages: loop {
            let page = self.store.blobs_after(after.as_ref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.digest.clone());
            for blob in &page {
                if ctx.should_stop() {
                    break 'pages;
                }
                let Some(problem) = self.check(blob).await? else {
                    blobs += 1;
                    bytes += blob.size;
                    continue;
                };
                // Deleted by GC since the page was read: not a problem.
                if !self.store.blob_in_use(&blob.digest).await? {
                    continue;
                }
                blobs += 1;
                let repositories = self.store.repositories_with_blob(&blob.digest).await?;
                let what = match &problem {
                    Problem::Missing => "file missing".to_string(),
                    Problem::Mismatch(got) => format!("bytes hash to {got}"),
                };
                ctx.log(format!(
                    "CORRUPT blob {}: {what}; used by {}",
                    blob.digest,
                    repositories.join(", ")
                ))
                .await;
                if params.quarantine && matches!(problem, Problem::Mismatch(_)) {
                    self.blobs.quarantine(&blob.digest).await?;
                    self.store.unlink_everywhere(&blob.digest).await?;
                    quarantined += 1;
                    ctx.log(format!("quarantined blob {}", blob.digest)).await;
                }
                if corrupt.len() < MAX_LISTED {
                    corrupt.push(
                        json!({"kind": "blob", "digest": blob.digest, "problem": what,
                        "repositories": repositories}),
                    );
                }
            }
        }
        let mut manifests = 0u64;
        let mut last_id = 0;
        'manifests: loop {
            let page = self.store.manifests_after(last_id, PAGE).await?;
            let Some((id, _)) = page.last() else { break };
            last_id = *id;
            for (_, m) in &page {
                if ctx.should_stop() {
                    break 'manifests;
                }
                manifests += 1;
                let mut hasher = m.digest.algorithm().hasher();
                hasher.update(&m.content);
                let got = hasher.finish();
                if got != m.digest {
                    let what = format!("bytes hash to {got}");
                    ctx.log(format!(
                        "CORRUPT manifest {}@{}: {what}",
                        m.repository, m.digest
                    ))
                    .await;
                    if corrupt.len() < MAX_LISTED {
                        corrupt.push(json!({"kind": "manifest", "digest": m.digest,
                            "problem": what, "repositories": [m.repository]}));
                    }
                }
            }
        }
        ctx.log(format!(
            "checked {blobs} blobs ({bytes} bytes) and {manifests} manifests: {} corrupt, {quarantined} quarantined",
            corrupt.len()
        ))
        .await;
        Ok(json!({
            "blobs_checked": blobs,
            "bytes_checked": bytes,
            "manifests_checked": manifests,
            "corrupt": corrupt,
            "quarantined": quarantined,
        }))
    }
}
