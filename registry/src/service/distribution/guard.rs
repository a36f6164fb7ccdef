//! "May this write happen?": the questions the push and delete paths ask before
//! they change content, answered by whoever installed a [`WriteGuard`] (the
//! lifecycle service: tag immutability, quotas; the proxy cache, whose
//! projects take no pushes). Distribution defines the
//! question and never learns who answers it, so it does not depend on lifecycle.
//!
//! Guards are held weakly, like event subscribers: the guard's service usually
//! holds `Distribution` too, and the two must not keep each other alive.

use std::sync::{Arc, RwLock, Weak};

use crate::digest::Digest;
use crate::error::Result;
use crate::names::RepoName;

/// A manifest about to be stored, with what it references.
#[derive(Debug, Clone)]
pub struct ManifestWrite<'a> {
    pub digest: &'a Digest,
    /// The manifest's own bytes.
    pub size: u64,
    /// Configs and layers, with their sizes as the repository holds them.
    pub blobs: &'a [(Digest, u64)],
}

/// Content about to be removed.
#[derive(Debug, Clone, Copy)]
pub enum Removal<'a> {
    /// One tag (the artifact stays).
    Tag { tag: &'a str, digest: &'a Digest },
    /// A whole artifact and every tag on it.
    Artifact {
        digest: &'a Digest,
        tags: &'a [String],
    },
    /// A whole repository: every artifact and every tag in it.
    Repository { tags: &'a [String] },
}

/// Answers "may this write happen?"; an `Err` refuses it (usually
/// [`crate::error::RegistryError::WriteDenied`]). Every method allows by default.
#[async_trait::async_trait]
pub trait WriteGuard: Send + Sync {
    /// An upload session (or a mount) into `repo` is about to start: a guard that
    /// refuses every push to the repository says so before any byte is sent.
    async fn before_upload(&self, _repo: &RepoName) -> Result<()> {
        Ok(())
    }
    /// A new tag is about to be added through the management API.
    async fn before_tag_add(&self, _repo: &RepoName, _tag: &str, _digest: &Digest) -> Result<()> {
        Ok(())
    }
    /// A finished upload of `size` bytes is about to become a blob of `repo`.
    async fn before_blob_commit(
        &self,
        _repo: &RepoName,
        _digest: &Digest,
        _size: u64,
    ) -> Result<()> {
        Ok(())
    }
    /// A manifest is about to be stored in `repo` (pushed again or new).
    async fn before_manifest_put(&self, _repo: &RepoName, _m: &ManifestWrite<'_>) -> Result<()> {
        Ok(())
    }
    /// An existing tag is about to point at another digest.
    async fn before_tag_move(
        &self,
        _repo: &RepoName,
        _tag: &str,
        _from: &Digest,
        _to: &Digest,
    ) -> Result<()> {
        Ok(())
    }
    async fn before_delete(&self, _repo: &RepoName, _what: Removal<'_>) -> Result<()> {
        Ok(())
    }
}

/// The installed guards; every one must allow a write.
#[derive(Default)]
pub struct Guards(RwLock<Vec<Weak<dyn WriteGuard>>>);

impl Guards {
    pub fn install(&self, guard: Weak<dyn WriteGuard>) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(guard);
    }

    pub(super) fn live(&self) -> Vec<Arc<dyn WriteGuard>> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }
}
