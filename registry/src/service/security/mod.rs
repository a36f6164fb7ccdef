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
pub(crate) mod keyless_trust;
mod pull_gate;
mod sbom_generation;
mod scanning;
mod settings;
mod signatures;

use std::sync::Arc;

pub use keyless_trust::{KeylessRoot, TRUSTED_IDENTITIES};
pub use pull_gate::PullCaller;
pub use scanning::{DbSource, REPORT_MIME, ScanConfig, ScanMetrics, ScanSchedule};
pub use settings::{ProjectExtras, ProjectSettings, Settings, TRUSTED_KEYS};
pub use signatures::SignatureSummary;

use super::access::Access;
use super::distribution::Distribution;
use super::events::{Event, Subscriber};
use crate::metadata::{IdentityStore, MetadataStore, SecurityStore};
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
}

impl Security {
    pub fn new(
        store: Arc<dyn SecurityStore>,
        identity: Arc<dyn IdentityStore>,
        access: Arc<Access>,
        distribution: Arc<Distribution>,
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
        }
    }

    /// Trust keyless signatures through this Sigstore root (with each project's identities).
    pub fn with_trusted_root(mut self, root: KeylessRoot) -> Self {
        self.keyless_root = Some(root);
        self
    }
}

#[async_trait::async_trait]
impl Subscriber for Security {
    async fn on_event(&self, event: &Event) {
        match event {
            Event::ArtifactPushed {
                repository,
                digest,
                media_type,
                artifact_type,
                has_subject,
            } => {
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
}
