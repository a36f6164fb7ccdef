//! Security: what the registry knows and decides about content beyond storing
//! it. Project security settings and CVE allow-lists, vulnerability scanning (on
//! push, on request, scheduled), SBOM generation, signatures and keyless trust,
//! and the pull gate that turns a project's settings into a policy decision.
//!
//! Reads content through the metadata and blob stores, keeps its own state in the
//! security store, pushes generated SBOMs through [`Distribution`] and learns of
//! pushes from its events.

mod artifacts;
mod blob_source;
mod export;
mod hub;
pub mod keyless_trust;
pub mod pull_gate;
mod sbom_generation;
mod scanning;
mod settings;
pub mod signatures;
mod vulndb;

use std::sync::Arc;

pub use artifacts::SbomPackages;
pub use export::{CVE_EXPORT, CveExportExecution, CveExportJob, CveExportRequest};
pub use keyless_trust::{KeylessRoot, TRUSTED_IDENTITIES};
pub use pull_gate::{PullCaller, PullExplanation};
pub use scanning::{
    DbSource, QUEUE as DEFAULT_SCAN_QUEUE, SCAN_ALL, ScanAllJob, ScanConfig, ScanMetrics,
    ScanSchedule,
};
pub use settings::{ProjectExtras, ProjectSettings, Settings, TRUSTED_KEYS};
pub use signatures::SignatureSummary;
pub use vulndb::{DbPull, VulnDbStatus};

use super::access::Access;
use super::distribution::Distribution;
use super::events::{Event, Subscriber};
use super::lifecycle::JobQueue;
use crate::digest::Digest;
use crate::metadata::{IdentityStore, MetadataStore, SecurityStore};
use crate::names::RepoName;
use crate::storage::BlobStore;

pub struct Security {
    meta: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
    store: Arc<dyn SecurityStore>,
    /// Projects by name, and callers' roles for project listings.
    identity: Arc<dyn IdentityStore>,
    access: Arc<Access>,
    distribution: Arc<Distribution>,
    /// `None`: no vulnerability database configured.
    scanning: Option<scanning::Scanning>,
    settings_cache: settings::SettingsCache,
    policy_cache: pull_gate::PolicyCache,
    /// Sigstore trusted root for keyless signatures (`--trusted-root`); `None`: keyless
    /// signatures are shown but never trusted.
    keyless_root: Option<KeylessRoot>,
    /// The durable queue scan-all runs on (its schedule is kept there too).
    jobs: Arc<JobQueue>,
    /// Artifact labels, for the CVE export's `labels` filter; `None`: the filter is refused.
    labels: Option<Arc<crate::service::labels::Labels>>,
}

impl Security {
    pub fn new(
        store: Arc<dyn SecurityStore>,
        identity: Arc<dyn IdentityStore>,
        access: Arc<Access>,
        distribution: Arc<Distribution>,
        jobs: Arc<JobQueue>,
    ) -> Self {
        Security {
            meta: distribution.meta().clone(),
            blobs: distribution.blob_store().clone(),
            store,
            identity,
            access,
            distribution,
            scanning: None,
            settings_cache: Default::default(),
            policy_cache: Default::default(),
            keyless_root: None,
            jobs,
            labels: None,
        }
    }

    fn jobs(&self) -> &Arc<JobQueue> {
        &self.jobs
    }

    /// Trust keyless signatures through this Sigstore root (with each project's identities).
    pub fn with_trusted_root(mut self, root: KeylessRoot) -> Self {
        self.keyless_root = Some(root);
        self
    }

    pub fn with_labels(mut self, labels: Arc<crate::service::labels::Labels>) -> Self {
        self.labels = Some(labels);
        self
    }
}

/// What the security service does for the rest of the registry, across its modules (so
/// scanning and SBOM generation need not know each other).
impl Security {
    /// One queued job, on a worker.
    async fn run_job(&self, job: scanning::Job) {
        match job {
            scanning::Job::Scan(digest) => self.run_scan(&digest).await,
            scanning::Job::Sbom(repo, digest) => self.run_sbom(&repo, &digest).await,
        }
    }

    /// After a push: scan it if its project scans on push. Accessories (signatures,
    /// SBOMs) and non-image artifacts are not scanned.
    async fn after_push(
        &self,
        repository: &str,
        digest: &Digest,
        media_type: &str,
        artifact_type: Option<&str>,
        has_subject: bool,
    ) {
        if self.scanning.is_none()
            || has_subject
            || !crate::manifest::is_container_image(media_type, artifact_type)
        {
            return;
        }
        let project = repository.split('/').next().unwrap_or_default();
        let Ok(settings) = self.project_settings(project).await else {
            return;
        };
        if settings.auto_scan
            && let Err(e) = self.queue_scan(repository, digest).await
        {
            tracing::error!(%digest, error = %e, "queueing scan on push");
        }
        if settings.auto_sbom_generation
            && let Ok(repo) = RepoName::parse(repository)
            && let Err(e) = self.queue_sbom(&repo, digest)
        {
            tracing::error!(%digest, error = %e, "queueing SBOM generation on push");
        }
    }
}

#[async_trait::async_trait]
impl Subscriber for Security {
    async fn on_event(&self, event: &Event) {
        // Deletions and GC runs concern security nothing (yet).
        if let Event::ArtifactPushed {
            repository,
            digest,
            media_type,
            artifact_type,
            has_subject,
            ..
        } = event
        {
            self.after_push(
                repository.as_str(),
                digest,
                media_type,
                artifact_type.as_deref(),
                *has_subject,
            )
            .await
        }
    }
}
