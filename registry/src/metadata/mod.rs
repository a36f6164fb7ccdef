//! What the registry knows about content: repositories, which blobs each may
//! serve, manifests (with their exact bytes), tags, referrers and upload
//! sessions. One trait, [`MetadataStore`]; on SQLite and on PostgreSQL, both
//! held to the same `conformance` suite (public with the `conformance`
//! feature, so a backend in another crate runs it unchanged). Callers never
//! see SQL.

pub mod changes;
mod columns;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod identity;
pub mod labels;
pub mod lifecycle;
pub mod oidc;
mod postgres;
mod postgres_changes;
mod postgres_identity;
mod postgres_labels;
mod postgres_lifecycle;
mod postgres_oidc;
mod postgres_proxy;
mod postgres_replication;
mod postgres_security;
mod postgres_sessions;
mod postgres_tag_rules;
mod postgres_webhooks;
pub mod proxy;
pub mod replication;
pub mod security;
pub mod sessions;
mod sqlite;
mod sqlite_identity;
mod sqlite_labels;
mod sqlite_lifecycle;
mod sqlite_oidc;
mod sqlite_proxy;
mod sqlite_replication;
mod sqlite_security;
mod sqlite_sessions;
mod sqlite_tag_rules;
#[cfg(test)]
mod sqlite_upgrade;
mod sqlite_webhooks;
pub mod tag_rules;
pub mod webhooks;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use bytes::Bytes;

use crate::digest::Digest;
use crate::names::RepoName;

pub use changes::{Change, ChangeFeed};
pub use identity::IdentityStore;
pub use labels::LabelStore;
pub use lifecycle::{JobStore, LifecycleStore};
pub use oidc::OidcStore;
pub use postgres::{PgMetadata, PgOptions};
pub use proxy::ProxyStore;
pub use replication::ReplicationStore;
pub use security::SecurityStore;
pub use sessions::SessionStore;
pub use sqlite::SqliteMetadata;
pub use tag_rules::TagRulesStore;
pub use webhooks::WebhookStore;

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database could not be reached at start-up. Only where to (never the
    /// URL: it may hold the password) and the innermost cause, once (sqlx's
    /// errors repeat their source in their own text).
    #[error("connecting to the database at {target}: {reason}")]
    Connect { target: String, reason: String },
    /// The database holds a migration this binary does not have: a newer Wharf
    /// migrated it (a replica of the previous version restarting during a rolling
    /// upgrade, or a rollback). Refused, not run on a schema this version was not
    /// written for; restoring the database from before the upgrade is the way back.
    #[error(
        "the database was migrated by a newer version of Wharf (migration {0} is not one this version has): run that version or a newer one"
    )]
    NewerSchema(i64),
    /// The cause is the source (printed after this, by `{:#}`), not repeated here.
    #[error("migrating the database")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// A manifest names a blob the repository does not serve (any more: GC may
    /// have taken it since the service checked) or a child it does not hold.
    #[error("{0} is not in the repository")]
    MissingReference(Digest),
}

impl From<sqlx::migrate::MigrateError> for MetadataError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(v) => MetadataError::NewerSchema(v),
            e => MetadataError::Migrate(e),
        }
    }
}

pub type Result<T, E = MetadataError> = std::result::Result<T, E>;

/// A manifest as stored. `content` is absent when it was not asked for (HEAD).
#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub content: Option<Bytes>,
}

/// Everything written, atomically, when a manifest is accepted.
#[derive(Debug, Clone)]
pub struct NewManifest<'a> {
    pub repo: &'a RepoName,
    pub digest: &'a Digest,
    pub media_type: &'a str,
    pub artifact_type: Option<&'a str>,
    pub subject: Option<&'a Digest>,
    /// The manifest's annotations, as JSON text.
    pub annotations: Option<String>,
    pub content: &'a [u8],
    pub blobs: Vec<Digest>,
    pub children: Vec<Digest>,
    pub tag: Option<&'a str>,
}

/// A blob (already in the blob store) that a repository may serve from now
/// on: what a cross-repository mount or an upload's completion records.
#[derive(Debug, Clone, Copy)]
pub struct BlobLink<'a> {
    pub repo: &'a RepoName,
    pub digest: &'a Digest,
    pub size: u64,
}

/// What many pushes write, for one transaction ([`MetadataStore::put_batch`]):
/// bulk imports (`wharf dev populate` writes 200,000 manifests and a million
/// tags) pay one commit per batch instead of one per blob, manifest and tag.
#[derive(Debug, Clone, Default)]
pub struct PushBatch<'a> {
    /// Written first, each as [`MetadataStore::link_blob`] writes it.
    pub links: Vec<BlobLink<'a>>,
    /// Then each as [`MetadataStore::put_manifest`] stores it (with its tag,
    /// if any), its references checked the same way: a blob linked above counts.
    pub manifests: Vec<NewManifest<'a>>,
    /// Then more tags, per repository, as [`MetadataStore::put_tags`] sets them.
    pub tags: Vec<(&'a RepoName, Vec<(String, Digest)>)>,
}

/// One entry of a referrers response.
#[derive(Debug, Clone, PartialEq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: Option<serde_json::Value>,
}

/// A repository as the management API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSummary {
    pub name: String,
    pub artifact_count: i64,
    pub pull_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A manifest as the management API shows it, with its tags and accessories.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub digest: Digest,
    pub media_type: String,
    pub artifact_type: Option<String>,
    /// Harbor's artifact size, what the image costs to store and pull: the
    /// manifest's bytes plus its config and layers; for an index, its own bytes
    /// plus each child's size. Each blob counts once per manifest.
    pub size: u64,
    pub pushed_at: i64,
    pub pulled_at: Option<i64>,
    pub pull_count: i64,
    /// (tag, when it was last pointed here)
    pub tags: Vec<(String, i64)>,
    /// Manifests whose subject is this one: signatures, SBOMs, attestations.
    pub accessories: Vec<Referrer>,
    /// cosign's tag layout: each `sha256-<hex>.sig|.att|.sbom` tag naming this
    /// artifact, with the manifest it points at (not an artifact of its own).
    pub cosign_accessories: Vec<(String, Referrer)>,
}

/// Pulls of one manifest since the last flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub repo: String,
    pub digest: Digest,
    pub count: i64,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub repository: String,
    pub updated_at: i64,
}

/// Every store a metadata backend provides (SQLite, PostgreSQL): the services take
/// each as its own trait object, all backed by the one database
/// (`service::Stores::from_backend`).
pub trait MetadataBackend:
    MetadataStore
    + IdentityStore
    + SecurityStore
    + TagRulesStore
    + JobStore
    + LifecycleStore
    + WebhookStore
    + ReplicationStore
    + ProxyStore
    + OidcStore
    + SessionStore
    + LabelStore
    + ChangeFeed
{
}

impl<T> MetadataBackend for T where
    T: MetadataStore
        + IdentityStore
        + SecurityStore
        + TagRulesStore
        + JobStore
        + LifecycleStore
        + WebhookStore
        + ReplicationStore
        + ProxyStore
        + OidcStore
        + SessionStore
        + LabelStore
        + ChangeFeed
{
}

#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    async fn repository_exists(&self, repo: &RepoName) -> Result<bool>;
    /// Repository names in lexical order after `after`, at most `limit`.
    async fn list_repositories(&self, after: Option<&str>, limit: u32) -> Result<Vec<String>>;

    /// Size of a blob the repository may serve.
    async fn repo_blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<Option<u64>>;
    /// Sizes of those of `digests` the repository may serve (one query).
    async fn repo_blob_sizes(
        &self,
        repo: &RepoName,
        digests: &[Digest],
    ) -> Result<HashMap<Digest, u64>>;
    /// Record a blob (if new) and let the repository serve it (creates the
    /// repository); counts as a use (`last_used_at`). False, linking nothing,
    /// while garbage collection is deleting the blob.
    async fn link_blob(&self, repo: &RepoName, digest: &Digest, size: u64) -> Result<bool>;
    /// Before an upload's bytes become the blob file: create the blob's row
    /// (linked nowhere) or mark it used, so GC leaves the file alone. False,
    /// changing nothing, while GC is deleting the blob (wait, then try again).
    async fn reserve_blob(&self, digest: &Digest, size: u64) -> Result<bool>;
    /// Mark a blob used now unless it was marked within `min_age` seconds (a
    /// pusher's HEAD: the blob it found must outlive the grace period).
    async fn touch_blob(&self, digest: &Digest, min_age: i64) -> Result<()>;
    /// Stop the repository serving a blob (a use: GC's grace period starts
    /// again); false if it did not.
    async fn unlink_blob(&self, repo: &RepoName, digest: &Digest) -> Result<bool>;

    /// Which of `digests` are manifests in the repository (one query).
    async fn existing_manifests(
        &self,
        repo: &RepoName,
        digests: &[Digest],
    ) -> Result<HashSet<Digest>>;
    /// Store a manifest, its references and optionally a tag, all or nothing.
    /// [`MetadataError::MissingReference`] when a blob is not linked to the
    /// repository (or is being deleted) or a child is not in it.
    async fn put_manifest(&self, manifest: NewManifest<'_>) -> Result<()>;
    async fn manifest_by_digest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        content: bool,
    ) -> Result<Option<StoredManifest>>;
    async fn manifest_by_tag(
        &self,
        repo: &RepoName,
        tag: &str,
        content: bool,
    ) -> Result<Option<StoredManifest>>;
    /// Delete a manifest and every tag pointing at it; false if unknown.
    async fn delete_manifest(&self, repo: &RepoName, digest: &Digest) -> Result<bool>;
    async fn delete_tag(&self, repo: &RepoName, tag: &str) -> Result<bool>;
    /// Tags in lexical order after `after`, at most `limit`.
    async fn list_tags(
        &self,
        repo: &RepoName,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>>;
    /// Manifests whose `subject` is `subject`, optionally of one artifact type.
    async fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>>;

    /// Repositories of the project named `project` (those whose first segment
    /// is exactly that name, `a_b` never matching `axb`), by name, with their
    /// artifact counts. Empty if there is no such project.
    async fn list_project_repositories(
        &self,
        project: &str,
        page: identity::PageReq,
    ) -> Result<(Vec<RepoSummary>, i64)>;
    /// Artifacts (manifests without a subject) of a repository, newest first,
    /// with sizes, tags and accessories (a fixed number of queries, whatever
    /// the page size); only those `labels` keeps, paged and counted in the
    /// database.
    async fn list_artifacts(
        &self,
        repo: &RepoName,
        page: identity::PageReq,
        labels: &labels::LabelMatch,
    ) -> Result<(Vec<Artifact>, i64)>;
    async fn artifact(&self, repo: &RepoName, digest: &Digest) -> Result<Option<Artifact>>;
    /// Tag an existing manifest; false if the manifest is unknown.
    async fn put_tag(&self, repo: &RepoName, tag: &str, digest: &Digest) -> Result<bool>;
    /// Tag existing manifests of one repository, many in one transaction (bulk
    /// imports: `wharf dev populate` writes a million tags). A tag named twice
    /// gets its last digest; tags naming a manifest the repository does not hold
    /// are skipped. Returns how many tags were set.
    async fn put_tags(&self, repo: &RepoName, tags: &[(String, Digest)]) -> Result<u64>;
    /// Everything in `batch`, all or nothing, in one transaction: the same rows
    /// (and the same trigger-kept counts) as the calls it stands for would write
    /// one by one. [`MetadataError::MissingReference`] names the first blob that
    /// could not be linked (garbage collection is deleting it) or reference a
    /// manifest lacks. Returns how many of `batch.tags` were set.
    async fn put_batch(&self, batch: &PushBatch<'_>) -> Result<u64>;
    /// Remove a repository: its manifests, tags and blob links.
    async fn delete_repository(&self, repo: &RepoName) -> Result<bool>;

    /// Adds pulls to manifests and their repositories, in one transaction.
    async fn record_pulls(&self, pulls: &[Pull]) -> Result<()>;

    async fn create_upload(&self, id: &str, repo: &RepoName) -> Result<()>;
    async fn upload(&self, id: &str) -> Result<Option<Upload>>;
    async fn touch_upload(&self, id: &str) -> Result<()>;
    async fn delete_upload(&self, id: &str) -> Result<()>;
    async fn count_uploads(&self) -> Result<u64>;
    /// Upload sessions not touched since `before` (unix seconds).
    async fn stale_uploads(&self, before: i64) -> Result<Vec<String>>;

    /// After a bulk load (`wharf dev populate`): leave the database as
    /// autovacuum would have left it after the same writes arriving over time.
    /// PostgreSQL: `VACUUM (ANALYZE)`, the planner's statistics (a freshly
    /// filled table looks empty until autovacuum's next pass) and the
    /// visibility map (without it every index-only scan reads the table too).
    /// SQLite plans from the schema alone here (no `sqlite_stat1`, as a registry
    /// that was never loaded in bulk has none), so it does nothing.
    async fn after_bulk_load(&self) -> Result<()>;
}

/// The project a repository belongs to: the segment before its first `/`.
/// A single-segment name (`alpine`) belongs to no project.
pub(crate) fn project_segment(repo: &RepoName) -> Option<&str> {
    repo.as_str().split_once('/').map(|(project, _)| project)
}

/// `tags` as two parallel lists of names and digests, a name given twice kept
/// once with its last digest (one statement may not write a row twice).
pub(super) fn tag_columns(tags: &[(String, Digest)]) -> (Vec<String>, Vec<String>) {
    let mut last: HashMap<&str, &Digest> = HashMap::with_capacity(tags.len());
    for (name, digest) in tags {
        last.insert(name, digest);
    }
    last.into_iter()
        .map(|(n, d)| (n.to_string(), d.to_string()))
        .unzip()
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
