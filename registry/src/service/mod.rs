//! The registry's rules, between HTTP and the stores, as one service per concern.
//! Each holds only the stores it needs; dependencies point one way:
//!
//! ```text
//! identity ──► access ◄── distribution ◄── security
//!                 ▲                            │
//!                 └────────────────────────────┘
//! ```
//!
//! - [`access`]: credentials, tokens, audit, and every "may" (the rbac tables);
//! - [`identity`]: users, projects, members, robots;
//! - [`directory`]: the authentication mode, LDAP and OIDC logins, onboarding, CLI
//!   secrets, user groups
//!   (it uses access; access reaches it only as the `ExternalAuthenticator` it installs);
//! - [`distribution`]: OCI content (uploads, manifests, blobs, listings, artifacts);
//! - [`security`]: project security settings, scanning, SBOMs, signatures, pull gate;
//! - [`lifecycle`]: the job queue, GC, scrub, and the tag rules: immutability and
//!   quotas (write guards distribution asks, see `distribution::guard`), retention;
//! - [`proxy`]: proxy cache projects, through distribution's `PullThrough` seam.
//!
//! Services return domain values and [`RegistryError`]s; they know nothing of HTTP
//! status codes or Harbor's JSON (that is `http`'s job). New concerns (lifecycle,
//! replication, …) get a service of their own here, subscribing to [`events`].

pub mod access;
mod changes;
pub mod directory;
pub mod distribution;
pub mod events;
pub mod identity;
pub mod labels;
pub mod lifecycle;
pub mod metrics;
pub mod proxy;
pub mod replication;
pub mod security;
pub mod sessions;
pub mod webhooks;

use std::sync::Arc;

pub use access::{Access, AuthState, IssuedToken, ProjectScope};
pub use directory::{Directory, DirectoryOptions};
pub use distribution::{
    BlobBody, ByteRange, Distribution, MountOutcome, Page, PutManifest, UploadStatus,
};
pub use identity::{GroupRef, Identity, RobotSpec, RobotUpdate, RoleRequest};
pub use lifecycle::{Lifecycle, LifecycleOptions};
pub use security::{
    DbSource, KeylessRoot, ProjectExtras, ProjectSettings, PullCaller, PullExplanation,
    SbomPackages, ScanConfig, ScanMetrics, ScanSchedule, Security, Settings, SignatureSummary,
    TRUSTED_IDENTITIES, TRUSTED_KEYS,
};

use crate::error::{ErrorCode, RegistryError};
use crate::metadata::{
    IdentityStore, JobStore, LifecycleStore, MetadataStore, OidcStore, ProxyStore,
    ReplicationStore, SecurityStore, TagRulesStore,
};
use crate::storage::BlobStore;

/// The services of one registry, wired together. The HTTP layer holds this.
pub struct Services {
    pub access: Arc<Access>,
    pub identity: Arc<Identity>,
    pub distribution: Arc<Distribution>,
    pub security: Arc<Security>,
    pub immutability: Arc<lifecycle::Immutability>,
    pub quotas: Arc<lifecycle::Quotas>,
    pub retention: Arc<lifecycle::Retention>,
    pub lifecycle: Arc<Lifecycle>,
    pub webhooks: Arc<webhooks::Webhooks>,
    /// The counters `/metrics` shows; services increment their own.
    pub metrics: Arc<metrics::Metrics>,
    pub registries: Arc<replication::Registries>,
    pub replication_policies: Arc<replication::Policies>,
    pub proxy: Arc<proxy::ProxyCache>,
    pub directory: Arc<Directory>,
    pub replication: Arc<replication::Replication>,
    /// The portal's login sessions.
    pub sessions: Arc<sessions::Sessions>,
    pub labels: Arc<labels::Labels>,
    /// Other replicas' changes are heard here (see `changes`).
    changes: Arc<dyn crate::metadata::ChangeFeed>,
}

/// What the services are built from.
pub struct Stores {
    pub meta: Arc<dyn MetadataStore>,
    pub identity: Arc<dyn IdentityStore>,
    pub security: Arc<dyn SecurityStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub tag_rules: Arc<dyn TagRulesStore>,
    pub jobs: Arc<dyn JobStore>,
    pub lifecycle: Arc<dyn LifecycleStore>,
    pub webhooks: Arc<dyn crate::metadata::WebhookStore>,
    pub replication: Arc<dyn ReplicationStore>,
    pub proxy: Arc<dyn ProxyStore>,
    pub oidc: Arc<dyn OidcStore>,
    pub sessions: Arc<dyn crate::metadata::SessionStore>,
    pub labels: Arc<dyn crate::metadata::LabelStore>,
    /// How a change is announced to the other processes sharing the database.
    pub changes: Arc<dyn crate::metadata::ChangeFeed>,
}

impl Stores {
    /// Every metadata store from one backend, beside the blob store.
    pub fn from_backend<M: crate::metadata::MetadataBackend>(
        meta: Arc<M>,
        blobs: Arc<dyn BlobStore>,
    ) -> Stores {
        Stores {
            meta: meta.clone(),
            identity: meta.clone(),
            security: meta.clone(),
            blobs,
            tag_rules: meta.clone(),
            jobs: meta.clone(),
            lifecycle: meta.clone(),
            webhooks: meta.clone(),
            replication: meta.clone(),
            proxy: meta.clone(),
            oidc: meta.clone(),
            sessions: meta.clone(),
            labels: meta.clone(),
            changes: meta,
        }
    }
}

/// Options of the services that have any.
#[derive(Default)]
pub struct Options {
    pub max_uploads: usize,
    /// Upload sessions one client address may hold open; 0: no per-client cap.
    pub max_uploads_per_client: usize,
    /// `None`: authentication off, every request may do anything.
    pub auth: Option<AuthState>,
    /// `None`: no vulnerability database configured.
    pub scanning: Option<ScanConfig>,
    pub trusted_root: Option<KeylessRoot>,
    /// Storage limit of new projects in bytes; `None`: unlimited.
    pub default_storage_limit: Option<u64>,
    /// Percent of a project's storage limit past which a push publishes
    /// `QuotaWarning`; 0: never.
    pub quota_warning_percent: u8,
    pub lifecycle: LifecycleOptions,
    pub webhooks: webhooks::WebhookOptions,
    /// Seals registry endpoint credentials; `None`: only anonymous endpoints.
    pub secret_key: Option<Arc<replication::SecretKey>>,
    pub proxy: proxy::ProxyOptions,
    pub replication: replication::ReplicationOptions,
    pub sessions: sessions::SessionOptions,
}

impl Services {
    pub fn new(stores: Stores, options: Options) -> Self {
        let access = Arc::new(Access::new(stores.identity.clone(), options.auth));
        let identity = Arc::new(Identity::new(stores.identity.clone(), access.clone()));
        let distribution = Arc::new(
            Distribution::new(
                stores.meta,
                stores.blobs,
                options.max_uploads,
                access.clone(),
            )
            .with_max_uploads_per_client(options.max_uploads_per_client),
        );
        let labels = Arc::new(labels::Labels::new(
            stores.labels,
            access.clone(),
            distribution.clone(),
        ));
        let lifecycle = Arc::new(Lifecycle::new(
            stores.jobs,
            stores.lifecycle,
            distribution.clone(),
            access.clone(),
            options.lifecycle,
        ));
        let mut security = Security::new(
            stores.security,
            stores.identity.clone(),
            access.clone(),
            distribution.clone(),
            lifecycle.jobs().clone(),
        );
        if let Some(config) = options.scanning {
            security = security.with_scanning(config);
        }
        if let Some(root) = options.trusted_root {
            security = security.with_trusted_root(root);
        }
        security = security.with_labels(labels.clone());
        let security = Arc::new(security);
        let scan_all: Arc<dyn lifecycle::JobHandler> =
            Arc::new(security::ScanAllJob(Arc::downgrade(&security)));
        lifecycle.jobs().register(security::SCAN_ALL, scan_all);
        let cve_export: Arc<dyn lifecycle::JobHandler> =
            Arc::new(security::CveExportJob(Arc::downgrade(&security)));
        lifecycle.jobs().register(security::CVE_EXPORT, cve_export);
        let subscriber: Arc<dyn events::Subscriber> = security.clone();
        distribution.events().subscribe(Arc::downgrade(&subscriber));
        let immutability = Arc::new(lifecycle::Immutability::new(
            stores.tag_rules.clone(),
            stores.identity.clone(),
            access.clone(),
        ));
        let quotas = Arc::new(
            lifecycle::Quotas::new(
                stores.tag_rules.clone(),
                stores.identity.clone(),
                access.clone(),
                distribution.clone(),
                options
                    .default_storage_limit
                    .map_or(-1, |l| l.min(i64::MAX as u64) as i64),
            )
            .with_warning_percent(options.quota_warning_percent),
        );
        for guard in [
            immutability.clone() as Arc<dyn distribution::WriteGuard>,
            quotas.clone(),
        ] {
            distribution.guards().install(Arc::downgrade(&guard));
        }
        let retention = lifecycle::Retention::new(
            stores.tag_rules,
            access.clone(),
            distribution.clone(),
            labels.clone(),
            lifecycle.jobs().clone(),
        );
        let metrics = Arc::new(metrics::Metrics::default());
        let webhooks = Arc::new(webhooks::Webhooks::new(
            stores.webhooks,
            access.clone(),
            options.webhooks,
            metrics.clone(),
        ));
        let subscriber: Arc<dyn events::Subscriber> = webhooks.clone();
        distribution.events().subscribe(Arc::downgrade(&subscriber));
        let directory = Arc::new(Directory::new(
            stores.identity.clone(),
            stores.oidc,
            access.clone(),
            options.secret_key.clone(),
        ));
        access.announce_changes_to(stores.changes.clone());
        directory.announce_changes_to(stores.changes.clone());
        let external: Arc<dyn access::ExternalAuthenticator> = directory.clone();
        access.install_external(Arc::downgrade(&external));
        let registries = Arc::new(
            replication::Registries::new(
                stores.replication.clone(),
                access.clone(),
                options.secret_key,
            )
            .with_proxy_store(stores.proxy.clone()),
        );
        let replication_policies = Arc::new(replication::Policies::new(
            stores.replication.clone(),
            access.clone(),
            registries.clone(),
        ));
        let proxy = proxy::ProxyCache::new(
            stores.proxy,
            access.clone(),
            registries.clone(),
            distribution.clone(),
            options.proxy,
            metrics.clone(),
        );
        let guard: Arc<dyn distribution::WriteGuard> = proxy.clone();
        distribution.guards().install(Arc::downgrade(&guard));
        let pull_through: Arc<dyn distribution::PullThrough> = proxy.clone();
        distribution
            .pull_through()
            .install(Arc::downgrade(&pull_through));
        let replication = replication::Replication::new(
            stores.replication,
            access.clone(),
            registries.clone(),
            replication_policies.clone(),
            distribution.clone(),
            replication::LocalProjects {
                identity: identity.clone(),
                quotas: quotas.clone(),
            },
            lifecycle.jobs().clone(),
            metrics.clone(),
            options.replication,
            labels.clone(),
        );
        let sessions = Arc::new(sessions::Sessions::new(
            stores.sessions,
            stores.identity.clone(),
            access.clone(),
            options.sessions,
        ));
        Services {
            sessions,
            labels,
            proxy,
            metrics,
            webhooks,
            access,
            identity,
            distribution,
            security,
            immutability,
            quotas,
            retention,
            lifecycle,
            registries,
            replication_policies,
            directory,
            replication,
            changes: stores.changes,
        }
    }

    /// Start the background work: scan workers and scheduler, pull statistics.
    pub fn start(&self) {
        self.security.start_scanning();
        self.distribution.start_pull_stats();
        self.retention.start();
        self.lifecycle.start();
        self.webhooks.start();
        self.replication.start_scheduler();
        changes::watch(
            self.changes.clone(),
            Arc::downgrade(&self.access),
            Arc::downgrade(&self.directory),
        );
    }
}

/// Seconds since the epoch as RFC 3339 (UTC, whole seconds), Harbor's time format.
pub fn time_rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn not_found(code: ErrorCode, what: impl std::fmt::Display) -> RegistryError {
    RegistryError::new(code, format!("{what} not found"))
}

/// Fresh embedded stores (SQLite and a blob directory) in a temporary directory,
/// for the services' unit tests; the directory goes when the returned guard does.
#[cfg(test)]
pub(crate) async fn test_stores() -> (
    tempfile::TempDir,
    Arc<crate::metadata::SqliteMetadata>,
    Arc<crate::storage::FsBlobStore>,
) {
    let dir = tempfile::tempdir().unwrap();
    let meta = crate::metadata::SqliteMetadata::open(&dir.path().join("wharf.db"))
        .await
        .unwrap();
    let blobs = crate::storage::FsBlobStore::open(dir.path(), false)
        .await
        .unwrap();
    (dir, Arc::new(meta), Arc::new(blobs))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::time_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::time_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::time_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
