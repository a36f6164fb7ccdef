//! The seam through which content this registry does not hold (yet) is fetched
//! from elsewhere: a proxy cache project's upstream. Distribution asks the
//! installed [`PullThrough`] on every manifest read and on a blob miss, and never
//! learns where the content comes from; the proxy service answers, and stores
//! what it fetched back through Distribution's ordinary write path.
//!
//! Held weakly, like guards and event subscribers: the proxy holds
//! `Distribution` too.

use std::sync::{Arc, RwLock, Weak};

use crate::digest::Digest;
use crate::error::Result;
use crate::metadata::StoredManifest;
use crate::names::{Reference, RepoName};
use crate::storage::ByteStream;

/// Answers reads that the repository's own content does not (or should not) answer.
#[async_trait::async_trait]
pub trait PullThrough: Send + Sync {
    /// A manifest read of `repo` by `reference`; `local` is what the repository
    /// holds. `Some` answers the read instead (fetched content, or a newer one
    /// for a tag); `None` leaves it to the local content (or to "not found").
    async fn manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
        local: Option<&StoredManifest>,
    ) -> Result<Option<StoredManifest>>;

    /// A blob `repo` does not hold: its size and bytes from elsewhere, or `None`.
    /// The stream fails (rather than ends) if the bytes do not match `digest`.
    async fn blob(&self, repo: &RepoName, digest: &Digest) -> Result<Option<(u64, ByteStream)>>;
}

/// The installed pull-through, if any.
#[derive(Default)]
pub struct PullThroughSlot(RwLock<Option<Weak<dyn PullThrough>>>);

impl PullThroughSlot {
    pub fn install(&self, p: Weak<dyn PullThrough>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(p);
    }

    pub(super) fn get(&self) -> Option<Arc<dyn PullThrough>> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(Weak::upgrade)
    }
}
