//! Domain events: what happened to content, told to whoever subscribed. The
//! distribution service publishes pushes; security scans on push; the coming
//! lifecycle, replication and webhook services subscribe here instead of being
//! called from the push path by name.

use std::sync::{RwLock, Weak};

use crate::digest::Digest;
use crate::names::RepoName;

/// Something that happened to the registry's content.
#[derive(Debug, Clone)]
pub enum Event {
    /// A manifest was stored (by a client's PUT or by the registry itself).
    ArtifactPushed {
        repository: RepoName,
        digest: Digest,
        media_type: String,
        artifact_type: Option<String>,
        /// An accessory (signature, SBOM, attestation) of another artifact.
        has_subject: bool,
        /// The tag the push set, if it was pushed by tag.
        tag: Option<String>,
    },
    /// A manifest was served by a client's GET (webhooks' PULL_ARTIFACT).
    ArtifactPulled {
        repository: RepoName,
        digest: Digest,
        /// The tag it was asked for by, if any.
        tag: Option<String>,
    },
    /// A write was refused because it would take the project over its storage limit.
    QuotaExceeded {
        project: String,
        repository: RepoName,
        /// Bytes the project used, its limit, and the bytes the write asked for.
        used: u64,
        limit: u64,
        requested: u64,
    },
    /// A write took the project past the warning percentage of its storage limit
    /// (it was allowed).
    QuotaWarning {
        project: String,
        repository: RepoName,
        /// What was written (the blob or manifest that crossed the line).
        digest: Option<Digest>,
        /// Bytes the project uses with the write, its limit, the warning percentage.
        used: u64,
        limit: u64,
        percent: u8,
    },
    /// A retention run deleted an artifact (with these tags) from the repository.
    TagDeletedByRetention {
        repository: RepoName,
        digest: Digest,
        tags: Vec<String>,
        execution_id: i64,
    },
    /// A manifest was deleted (with its tags) by a client or the management API.
    ArtifactDeleted {
        repository: RepoName,
        digest: Digest,
    },
    /// A vulnerability scan of an artifact ended with a stored report.
    ScanFinished {
        repository: RepoName,
        digest: Digest,
        /// The highest severity found (`None` when nothing was).
        severity: String,
        /// Vulnerabilities found.
        total: u64,
    },
    /// A vulnerability scan of an artifact failed (the previous report, if any, stays).
    ScanFailed {
        repository: RepoName,
        digest: Digest,
        message: String,
    },
    /// A pending or running scan of an artifact was stopped by a user.
    ScanStopped {
        repository: RepoName,
        digest: Digest,
    },
    /// A tag was deleted; the manifest it named stays.
    TagDeleted { repository: RepoName, tag: String },
    /// A replication task ended: an artifact of `repository` (this registry's side of
    /// the copy) was copied to or from a remote, or deleted there.
    ReplicationTaskFinished {
        repository: RepoName,
        execution_id: i64,
        policy: String,
        /// `manual`, `scheduled` or `event_based`.
        trigger: String,
        /// `Succeed`, `Failed` or `Stopped`.
        status: String,
        resource_type: String,
        src_resource: String,
        dst_resource: String,
        override_tags: bool,
    },
    /// A garbage collection run ended (not a dry run).
    GcFinished {
        job_id: i64,
        manifests_deleted: u64,
        blobs_deleted: u64,
        bytes_freed: u64,
    },
}

/// Reacts to events. Called on the publisher's task, in subscription order:
/// keep it short (queue work, don't do it).
#[async_trait::async_trait]
pub trait Subscriber: Send + Sync {
    async fn on_event(&self, event: &Event);
}

/// The subscribers of one publisher. Held weakly: a service that subscribes
/// usually also holds the publisher, and the two must not keep each other alive.
#[derive(Default)]
pub struct Events(RwLock<Vec<Weak<dyn Subscriber>>>);

impl Events {
    pub fn subscribe(&self, subscriber: Weak<dyn Subscriber>) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(subscriber);
    }

    pub async fn publish(&self, event: &Event) {
        let live: Vec<_> = self
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for s in live {
            s.on_event(event).await;
        }
    }
}

/// Test helpers for code that publishes events.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Mutex;

    use super::{Event, Subscriber};

    /// Writes down every event it hears.
    #[derive(Default)]
    pub(crate) struct Heard(pub(crate) Mutex<Vec<Event>>);

    #[async_trait::async_trait]
    impl Subscriber for Heard {
        async fn on_event(&self, event: &Event) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    /// A request body of these bytes, in one chunk.
    pub(crate) fn body(bytes: &'static [u8]) -> crate::storage::ByteStream {
        Box::pin(futures_util::stream::once(async move {
            Ok(bytes::Bytes::from_static(bytes))
        }))
    }
}
