//! Online garbage collection, as a job (`gc`): no read-only window, and never
//! a blob that a manifest needs (or is about to need) deleted.
//!
//! The rules, and why each is needed (docs/design.md, "Online garbage
//! collection", says the same at length):
//!
//! - **Reachability.** A blob is garbage when no manifest in any repository
//!   references it; its `repository_blobs` links alone never keep it (they are
//!   dropped with it). With `delete_untagged`, manifests nothing keeps alive go
//!   first (the store's `DEAD_MANIFESTS`: tags, live indexes' children,
//!   referrers of live manifests and subjects of live referrers, young
//!   manifests), which may free more blobs. An accessory goes with its
//!   subject, never while its subject lives.
//! - **Grace period.** Reachability alone races with pushes: a blob uploaded
//!   (or found by HEAD, or mounted) a moment ago is unreferenced until its
//!   manifest arrives. So a blob is a candidate only if it was also not
//!   *used* for the grace period (`last_used_at`: set by an upload's commit,
//!   a pusher's HEAD, a mount, and when a delete releases it), and a manifest
//!   only if it was not pushed for as long.
//! - **Two phases across processes.** Phase 1 marks candidates `deleting`
//!   and drops their links in one transaction that re-checks both conditions
//!   under the write lock; from then on a HEAD says absent, a manifest naming
//!   the blob is refused (`MANIFEST_BLOB_UNKNOWN`, the client uploads it
//!   again), a mount starts an upload, and an upload's commit of that digest
//!   waits until phase 3 before reserving the row and keeping its file (else
//!   it could keep an existing file that phase 2 then deletes). Phase 2
//!   deletes the files; phase 3 forgets the rows. A run that crashed in
//!   between is resumed by the next: rows still `deleting` are finished first.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};

use super::jobs::{JobContext, JobHandler};
use crate::error::{RegistryError, Result};
use crate::metadata::lifecycle::{DoomedBlob, Job, LifecycleStore};
use crate::metadata::now;
use crate::service::Distribution;
use crate::service::events::Event;

/// The job kind of garbage collection.
pub const GC: &str = "gc";

/// Blobs marked per transaction: short write locks, bounded memory.
const BATCH: u32 = 200;
/// Files deleted at once.
const DELETES_IN_FLIGHT: usize = 8;
/// While pushes are arriving, GC rests after each batch this many times as
/// long as the batch took, so the writer connection and the disk (each push
/// waits for the database's one writer and fsyncs its files; a burst of
/// unlinks lengthens those fsyncs) go to pushes first: 4.0 = GC takes at most
/// a fifth of the time. With no push in the last second it runs flat out.
const REST_WHILE_PUSHED: f64 = 4.0;

/// Harbor's GC parameters (and the grace period, Wharf's addition).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct GcParams {
    #[serde(default)]
    pub delete_untagged: bool,
    #[serde(default)]
    pub dry_run: bool,
    /// `None`: the server's `--gc-grace-period`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<u64>,
}

impl GcParams {
    pub fn parse(v: &Value) -> Result<GcParams> {
        if v.is_null() {
            return Ok(GcParams::default());
        }
        serde_json::from_value(v.clone())
            .map_err(|e| RegistryError::bad_request(format!("GC parameters: {e}")))
    }
}

pub struct Gc {
    store: Arc<dyn LifecycleStore>,
    distribution: Arc<Distribution>,
    grace: Duration,
    upload_expiry: Duration,
}

impl Gc {
    pub fn new(
        store: Arc<dyn LifecycleStore>,
        distribution: Arc<Distribution>,
        grace: Duration,
        upload_expiry: Duration,
    ) -> Self {
        Gc {
            store,
            distribution,
            grace,
            upload_expiry,
        }
    }

    /// Phases 2 and 3 for blobs marked `deleting`: files, then rows.
    async fn delete(&self, doomed: &[DoomedBlob]) -> Result<(u64, u64)> {
        let blobs = self.distribution.blob_store().clone();
        let results: Vec<Result<(DoomedBlob, bool), crate::storage::StorageError>> =
            stream::iter(doomed.to_vec())
                .map(move |b| {
                    let blobs = blobs.clone();
                    async move { blobs.delete(&b.digest).await.map(|removed| (b, removed)) }
                })
                .buffer_unordered(DELETES_IN_FLIGHT)
                .collect()
                .await;
        let mut gone = Vec::with_capacity(doomed.len());
        let mut bytes = 0;
        let mut failed = None;
        for r in results {
            match r {
                Ok((b, removed)) => {
                    // Only files that were there count as freed (a row whose
                    // upload never reached the store had no file).
                    if removed {
                        bytes += b.size;
                    }
                    gone.push(b.digest.clone());
                }
                // The row stays `deleting`; the next run tries again.
                Err(e) => failed = Some(e),
            }
        }
        let forgotten = self.store.forget_blobs(&gone).await?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok((forgotten, bytes))
    }
}

#[async_trait::async_trait]
impl JobHandler for Gc {
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value> {
        let params = GcParams::parse(&job.parameters)?;
        let grace = params
            .grace_period_seconds
            .map(Duration::from_secs)
            .unwrap_or(self.grace);
        let cutoff = now() - grace.as_secs() as i64;
        ctx.log(format!(
            "delete_untagged={} dry_run={} grace_period={}s: what was used in the last {}s is kept",
            params.delete_untagged,
            params.dry_run,
            grace.as_secs(),
            grace.as_secs()
        ))
        .await;
        let mut report = json!({
            "dry_run": params.dry_run,
            "delete_untagged": params.delete_untagged,
            "grace_period_seconds": grace.as_secs(),
        });
        if params.dry_run {
            let would = self.store.preview(cutoff, params.delete_untagged).await?;
            ctx.log(format!(
                "dry run: would delete {} manifests and {} blobs, freeing {} bytes",
                would.manifests, would.blobs, would.bytes
            ))
            .await;
            report["manifests_deleted"] = json!(would.manifests);
            report["blobs_deleted"] = json!(would.blobs);
            report["bytes_freed"] = json!(would.bytes);
            return Ok(report);
        }

        // A run that crashed between its phases left rows `deleting`: finish them.
        let (mut blobs, mut bytes, mut resumed) = (0u64, 0u64, 0u64);
        loop {
            let left = self.store.deleting_blobs(BATCH).await?;
            if left.is_empty() {
                break;
            }
            let (n, b) = self.delete(&left).await?;
            resumed += n;
            blobs += n;
            bytes += b;
        }
        if resumed > 0 {
            ctx.log(format!(
                "finished {resumed} blob deletions an interrupted run had started"
            ))
            .await;
        }

        let purged = self
            .distribution
            .purge_stale_uploads(self.upload_expiry)
            .await?;
        ctx.log(format!(
            "removed {purged} upload sessions untouched for {}s",
            self.upload_expiry.as_secs()
        ))
        .await;

        let manifests = self
            .store
            .collect_manifests(cutoff, params.delete_untagged)
            .await?;
        ctx.log(format!("deleted {manifests} manifests nothing keeps alive"))
            .await;

        while !ctx.should_stop() {
            let began = std::time::Instant::now();
            let doomed = self.store.mark_blobs_deleting(cutoff, BATCH).await?;
            if doomed.is_empty() {
                break;
            }
            let (n, b) = self.delete(&doomed).await?;
            blobs += n;
            bytes += b;
            ctx.log(format!("deleted {n} blobs ({b} bytes)")).await;
            if doomed.len() == BATCH as usize
                && self.distribution.pushed_within(Duration::from_secs(1))
            {
                tokio::time::sleep(began.elapsed().mul_f64(REST_WHILE_PUSHED)).await;
            }
        }
        ctx.log(format!(
            "deleted {manifests} manifests and {blobs} blobs, freed {bytes} bytes"
        ))
        .await;
        report["manifests_deleted"] = json!(manifests);
        report["blobs_deleted"] = json!(blobs);
        report["bytes_freed"] = json!(bytes);
        report["uploads_purged"] = json!(purged);
        self.distribution
            .events()
            .publish(&Event::GcFinished {
                job_id: job.id,
                manifests_deleted: manifests,
                blobs_deleted: blobs,
                bytes_freed: bytes,
            })
            .await;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use serde_json::json;

    use crate::digest::Digest;
    use crate::metadata::lifecycle::{JobStatus, NewJob};
    use crate::names::{Reference, RepoName};
    use crate::service::Distribution;
    use crate::service::access::Access;
    use crate::service::events::testing::{Heard, body};
    use crate::service::events::{Event, Subscriber};
    use crate::service::lifecycle::{GC, Lifecycle, LifecycleOptions, QueueOptions};

    /// Deletes publish ArtifactDeleted / TagDeleted; a GC run publishes
    /// GcFinished with what it deleted.
    #[tokio::test]
    async fn deletes_and_gc_runs_are_published() {
        let (_dir, meta, blobs) = crate::service::test_stores().await;
        let access = Arc::new(Access::new(meta.clone(), None));
        let dist = Arc::new(Distribution::new(meta.clone(), blobs, 10, access.clone()));
        let heard = Arc::new(Heard::default());
        let sub: Arc<dyn Subscriber> = heard.clone();
        dist.events().subscribe(Arc::downgrade(&sub));
        let options = LifecycleOptions {
            queue: QueueOptions {
                poll: Duration::from_millis(50),
                ..Default::default()
            },
            gc_grace_period: Duration::ZERO,
            ..Default::default()
        };
        let lifecycle = Lifecycle::new(meta.clone(), meta, dist.clone(), access, options);
        lifecycle.start();

        let repo = RepoName::parse("library/events").unwrap();
        let (config, layer): (&'static [u8], &'static [u8]) = (b"{}", b"layer");
        for data in [config, layer] {
            let d = Digest::sha256_of(data);
            dist.upload_monolithic(&repo, &d, body(data), None, None)
                .await
                .unwrap();
        }
        let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::sha256_of(config), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": Digest::sha256_of(layer), "size": 5}]})
        .to_string();
        let pushed = dist
            .put_manifest(
                &repo,
                &Reference::parse("v1").unwrap(),
                None,
                Bytes::from(manifest),
            )
            .await
            .unwrap();
        dist.delete_manifest(&repo, &Reference::parse("v1").unwrap())
            .await
            .unwrap();
        dist.delete_manifest(&repo, &Reference::Digest(pushed.digest.clone()))
            .await
            .unwrap();
        // Past the (zero) grace period in whole seconds.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let id = lifecycle
            .jobs()
            .enqueue(NewJob::manual(GC, json!({})))
            .await
            .unwrap();
        let job = loop {
            let job = lifecycle.jobs().job(id).await.unwrap();
            if job.status.is_final() {
                break job;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(job.status, JobStatus::Success, "{job:?}");
        let heard = heard.0.lock().unwrap().clone();
        let kinds: Vec<String> = heard
            .iter()
            .map(|e| match e {
                Event::ArtifactPushed { .. } => "pushed".to_string(),
                Event::TagDeleted { tag, .. } => format!("tag {tag}"),
                Event::ArtifactDeleted { digest, .. } => {
                    assert_eq!(digest, &pushed.digest);
                    "artifact".to_string()
                }
                Event::GcFinished {
                    job_id,
                    manifests_deleted,
                    blobs_deleted,
                    bytes_freed,
                } => {
                    assert_eq!(*job_id, id);
                    format!("gc {manifests_deleted} {blobs_deleted} {bytes_freed}")
                }
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["pushed", "tag v1", "artifact", "gc 0 2 7"]);
    }
}
