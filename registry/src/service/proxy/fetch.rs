//! The pull-through: what a proxy cache project answers on reads Distribution's
//! own content does not answer.
//!
//! - A manifest miss is fetched from the upstream (digest checked), answered at
//!   once, and completed in the background: its blobs stored (unless a client's
//!   pull is storing them already), then the manifest and its tag through
//!   `Distribution::put_manifest`. An index is stored once every platform it
//!   lists is cached; until then it is fetched again, and platforms are fetched
//!   only when pulled. Meanwhile its bytes are kept beside the content
//!   (`ProxyStore::put_cached_index`, not a manifest row: a manifest row exists only
//!   when what it references does), and served by tag or digest when the upstream
//!   is down, so the platforms that were pulled stay pullable; one never pulled is
//!   then a 503 `UNAVAILABLE`, as any other miss with the upstream down.
//! - A cached tag is served as is for the TTL after the upstream last confirmed it;
//!   after that a HEAD asks for its digest, and a moved tag is fetched anew. An
//!   upstream that is down, slow or rate-limiting (429) gets the cached tag served
//!   (stale), with a warning in the log.
//! - A blob miss is streamed to the client while it is stored: one copy of the
//!   upstream's bytes goes to the client, one into an upload that is committed only
//!   if the digest verifies. A concurrent pull of a blob being stored streams it
//!   from the upstream without storing it again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, stream};

use super::{ProxyCache, fill};
use crate::digest::Digest;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::metadata::StoredManifest;
use crate::metadata::proxy::CachedIndex;
use crate::names::{Reference, RepoName};
use crate::service::distribution::PullThrough;
use crate::service::metrics::Metrics;
use crate::storage::ByteStream;

/// Chunks buffered between the upstream and a slow client (the store waits too).
const TEE_CHUNKS: usize = 16;
/// How long completing a manifest waits for a blob another pull is storing.
const WAIT_FOR_OTHER_STORE: Duration = Duration::from_secs(600);

/// A proxied repository at its upstream.
#[derive(Clone)]
pub(super) struct Upstream {
    pub client: super::UpstreamClient,
    /// The repository's name at the upstream.
    pub repository: String,
}

impl Upstream {
    /// `host/repository` followed by `:tag` or `@digest`.
    fn reference(&self, suffix: &str) -> std::result::Result<wharf_oci::Reference, Fail> {
        let image = format!("{}/{}{suffix}", self.client.0.host, self.repository);
        wharf_oci::Client::parse_reference(&image).map_err(|e| Fail::Down(e.to_string()))
    }

    fn at(reference: &Reference) -> String {
        match reference {
            Reference::Tag(t) => format!(":{}", t.as_str()),
            Reference::Digest(d) => format!("@{d}"),
        }
    }
}

/// Why the upstream did not give what was asked.
#[derive(Debug)]
enum Fail {
    NotFound(String),
    /// Unreachable, timed out, rate-limited, refused the credentials, sent garbage.
    Down(String),
}

impl Fail {
    fn into_error(self, up: &Upstream, what: String, unknown: ErrorCode) -> RegistryError {
        match self {
            Fail::NotFound(_) => RegistryError::new(
                unknown,
                format!(
                    "{what} is not cached and the upstream registry {} does not have it",
                    up.client.0.url
                ),
            ),
            Fail::Down(why) => RegistryError::new(
                ErrorCode::Unavailable,
                format!(
                    "{what} is not cached and the upstream registry {} is unreachable: {why}",
                    up.client.0.url
                ),
            ),
        }
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::NotFound(m) | Fail::Down(m) => f.write_str(m),
        }
    }
}

/// A digest being stored; released when dropped.
struct Storing {
    set: Arc<Mutex<HashSet<Digest>>>,
    digest: Digest,
}

impl Storing {
    fn claim(set: &Arc<Mutex<HashSet<Digest>>>, digest: &Digest) -> Option<Storing> {
        let fresh = set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest.clone());
        fresh.then(|| Storing {
            set: set.clone(),
            digest: digest.clone(),
        })
    }

    fn busy(set: &Mutex<HashSet<Digest>>, digest: &Digest) -> bool {
        set.lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(digest)
    }
}

impl Drop for Storing {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.digest);
    }
}

/// Every item of `src`, also sent to `tx` while its receiver listens; a receiver
/// that went away (the client hung up) leaves the stream going (the store finishes).
fn tee(src: ByteStream, tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>) -> ByteStream {
    Box::pin(stream::unfold(
        (src, Some(tx)),
        |(mut src, mut tx)| async move {
            let item = src.next().await?;
            if let Some(sender) = &tx {
                let copy = match &item {
                    Ok(b) => Ok(b.clone()),
                    Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                };
                if sender.send(copy).await.is_err() {
                    tx = None;
                }
            }
            Some((item, (src, tx)))
        },
    ))
}

impl ProxyCache {
    /// One upstream request, bounded by the upstream timeout.
    async fn ask<T>(
        &self,
        request: impl std::future::Future<Output = wharf_oci::Result<T>>,
    ) -> std::result::Result<T, Fail> {
        match tokio::time::timeout(self.options.upstream_timeout, request).await {
            Err(_) => Err(Fail::Down(format!(
                "no answer within {} s",
                self.options.upstream_timeout.as_secs_f32()
            ))),
            Ok(Err(e)) if e.is_not_found() => Err(Fail::NotFound(e.to_string())),
            Ok(Err(e)) => Err(Fail::Down(e.to_string())),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// Whether the upstream confirmed the cached tag within the TTL: this process's
    /// memory first, then the store (what another replica, or this one before a
    /// restart, recorded), so a restart does not send every tag's check at once.
    async fn confirmed_recently(&self, repo: &RepoName, tag: &str) -> bool {
        if self.options.tag_ttl.is_zero() {
            return false;
        }
        let key = (repo.as_str().to_string(), tag.to_string());
        let remembered = self
            .confirmed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .is_some_and(|at| at.elapsed() < self.options.tag_ttl);
        if remembered {
            return true;
        }
        let at = match self.store.tag_checked_at(repo.as_str(), tag).await {
            Ok(Some(at)) => at,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(repository = %repo, tag, error = %e, "proxy cache: reading when the tag was checked");
                return false;
            }
        };
        let age = Duration::from_secs(crate::metadata::now().saturating_sub(at).max(0) as u64);
        if age >= self.options.tag_ttl {
            return false;
        }
        if let Some(then) = Instant::now().checked_sub(age) {
            self.remember(key, then);
        }
        true
    }

    fn remember(&self, key: (String, String), at: Instant) {
        let mut map = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(key, at);
    }

    /// The upstream confirmed `repo:tag` now: remembered here and in the store.
    async fn confirm(&self, repo: &RepoName, tag: &str) {
        self.remember((repo.as_str().to_string(), tag.to_string()), Instant::now());
        let stored = match self.access.project(super::project_of(repo)).await {
            Ok(p) => {
                self.store
                    .set_tag_checked(p.id, repo.as_str(), tag, crate::metadata::now())
                    .await
            }
            Err(e) => {
                tracing::debug!(repository = %repo, error = %e, "proxy cache: no project to record the tag check in");
                return;
            }
        };
        if let Err(e) = stored {
            tracing::warn!(repository = %repo, tag, error = %e, "proxy cache: recording the tag check");
        }
    }

    /// The manifest from the upstream; its completion (blobs, then the manifest
    /// itself) starts in the background.
    async fn fetch_manifest(
        &self,
        repo: &RepoName,
        up: &Upstream,
        reference: &Reference,
    ) -> std::result::Result<StoredManifest, Fail> {
        let remote = up.reference(&Upstream::at(reference))?;
        let (body, desc) = self.ask(up.client.1.get_manifest(&remote)).await?;
        let digest: Digest = desc
            .digest
            .parse()
            .map_err(|e| Fail::Down(format!("the upstream named digest {}: {e}", desc.digest)))?;
        let body = Bytes::from(body);
        if let Some(me) = self.me.upgrade() {
            let key = (repo.as_str().to_string(), digest.clone());
            let fresh = self
                .completing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.clone());
            if fresh {
                let (repo, reference, up) = (repo.clone(), reference.clone(), up.clone());
                let (body, media_type) = (body.clone(), desc.media_type.clone());
                tokio::spawn(async move {
                    let done = me.complete(&repo, &reference, &up, body, &media_type).await;
                    me.completing
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&key);
                    me.count(if done.is_ok() { "stored" } else { "not_stored" });
                    if let Err(e) = done {
                        tracing::warn!(repository = %repo, %reference, error = %e, "proxy cache: manifest fetched from the upstream was not cached");
                    }
                });
            }
        }
        Ok(StoredManifest {
            digest,
            media_type: desc.media_type,
            size: body.len() as u64,
            content: Some(body),
        })
    }

    /// Stores a fetched manifest once what it references is cached.
    async fn complete(
        &self,
        repo: &RepoName,
        reference: &Reference,
        up: &Upstream,
        body: Bytes,
        media_type: &str,
    ) -> Result<()> {
        let parsed = crate::manifest::parse(&body, Some(media_type)).map_err(|e| {
            RegistryError::new(ErrorCode::ManifestInvalid, format!("manifest invalid: {e}"))
        })?;
        if !parsed.children.is_empty() {
            let children: Vec<Digest> = parsed.children.iter().map(|d| d.digest.clone()).collect();
            let present = self
                .distribution
                .meta()
                .existing_manifests(repo, &children)
                .await?;
            if children.iter().any(|c| !present.contains(c)) {
                tracing::debug!(repository = %repo, %reference, "proxy cache: index kept aside until every platform it lists was pulled");
                self.keep_partial_index(repo, reference, &body, media_type)
                    .await;
                return Ok(());
            }
        }
        // Give the client's own blob pulls (which stream as they store) the first go.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for desc in &parsed.blobs {
            self.ensure_blob(repo, up, &desc.digest).await?;
        }
        let digest = Digest::sha256_of(&body).to_string();
        fill(
            self.distribution
                .put_manifest(repo, reference, Some(media_type), body),
        )
        .await?;
        if let Reference::Tag(t) = reference {
            self.confirm(repo, t.as_str()).await;
        }
        if !parsed.children.is_empty()
            && let Err(e) = self.store.drop_cached_index(repo.as_str(), &digest).await
        {
            tracing::warn!(repository = %repo, %reference, error = %e, "proxy cache: forgetting the partial index");
        }
        tracing::info!(repository = %repo, %reference, "proxy cache: stored from the upstream");
        Ok(())
    }

    /// Keeps an index not every platform of which is cached, for when the upstream
    /// is down (see the module's comment). A failure only costs that fallback.
    async fn keep_partial_index(
        &self,
        repo: &RepoName,
        reference: &Reference,
        body: &Bytes,
        media_type: &str,
    ) {
        let Ok(text) = std::str::from_utf8(body) else {
            return;
        };
        let index = CachedIndex {
            reference: match reference {
                Reference::Tag(t) => t.as_str().to_string(),
                Reference::Digest(d) => d.to_string(),
            },
            digest: Digest::sha256_of(body).to_string(),
            media_type: media_type.to_string(),
            body: text.to_string(),
            fetched_at: crate::metadata::now(),
        };
        let kept = match self.access.project(super::project_of(repo)).await {
            Ok(p) => {
                self.store
                    .put_cached_index(p.id, repo.as_str(), &index)
                    .await
            }
            Err(e) => {
                tracing::debug!(repository = %repo, error = %e, "proxy cache: no project to keep the index in");
                return;
            }
        };
        if let Err(e) = kept {
            tracing::warn!(repository = %repo, %reference, error = %e, "proxy cache: keeping the partial index");
        }
    }

    /// The partial index kept for `reference`, as a manifest to serve (stale).
    async fn partial_index(
        &self,
        repo: &RepoName,
        reference: &Reference,
    ) -> Option<StoredManifest> {
        let key = match reference {
            Reference::Tag(t) => t.as_str().to_string(),
            Reference::Digest(d) => d.to_string(),
        };
        let kept = match self.store.cached_index(repo.as_str(), &key).await {
            Ok(k) => k?,
            Err(e) => {
                tracing::warn!(repository = %repo, %reference, error = %e, "proxy cache: reading the partial index");
                return None;
            }
        };
        let digest: Digest = kept.digest.parse().ok()?;
        let body = Bytes::from(kept.body.into_bytes());
        // What the row says must be what it holds: a digest names its bytes.
        if Digest::sha256_of(&body) != digest {
            return None;
        }
        Some(StoredManifest {
            digest,
            media_type: kept.media_type,
            size: body.len() as u64,
            content: Some(body),
        })
    }

    /// Makes `repo` hold `digest`: already there, stored by another pull (waited
    /// for), or fetched and stored here.
    async fn ensure_blob(&self, repo: &RepoName, up: &Upstream, digest: &Digest) -> Result<()> {
        let started = Instant::now();
        loop {
            let meta = self.distribution.meta();
            if meta.repo_blob_size(repo, digest).await?.is_some() {
                return Ok(());
            }
            if Storing::busy(&self.storing, digest) {
                if started.elapsed() > WAIT_FOR_OTHER_STORE {
                    return Err(RegistryError::Internal(format!(
                        "blob {digest} is still being stored by another pull"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let Some(_claim) = Storing::claim(&self.storing, digest) else {
                continue;
            };
            let what = format!("blob {repo}@{digest}");
            let (size, body) = self
                .open_blob(up, digest)
                .await
                .map_err(|f| f.into_error(up, what, ErrorCode::BlobUnknown))?;
            return fill(
                self.distribution
                    .upload_monolithic(repo, digest, body, Some(size), None),
            )
            .await;
        }
    }

    async fn open_blob(
        &self,
        up: &Upstream,
        digest: &Digest,
    ) -> std::result::Result<(u64, ByteStream), Fail> {
        let remote = up.reference(&format!("@{digest}"))?;
        let (size, body) = self
            .ask(up.client.1.blob_stream_sized(&remote, &digest.to_string()))
            .await?;
        let size = size.ok_or_else(|| Fail::Down("the upstream sent no Content-Length".into()))?;
        Ok((size, body))
    }
}

#[async_trait::async_trait]
impl PullThrough for ProxyCache {
    async fn manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
        local: Option<&StoredManifest>,
    ) -> Result<Option<StoredManifest>> {
        match (reference, local) {
            // Content-addressed: what is cached never goes stale.
            (Reference::Digest(_), Some(_)) => return Ok(None),
            (Reference::Tag(t), Some(_)) if self.confirmed_recently(repo, t.as_str()).await => {
                return Ok(None);
            }
            _ => {}
        }
        let Some(up) = self.upstream(repo).await? else {
            return Ok(None);
        };
        let Some(cached) = local else {
            let what = format!("manifest {repo}{}", Upstream::at(reference));
            return match self.fetch_manifest(repo, &up, reference).await {
                Ok(m) => {
                    self.count("fetched");
                    Ok(Some(m))
                }
                Err(f) => {
                    if matches!(f, Fail::Down(_)) {
                        if let Some(kept) = self.partial_index(repo, reference).await {
                            tracing::warn!(repository = %repo, %reference, error = %f, "proxy cache: upstream unreachable, serving the index kept for its cached platforms (stale)");
                            self.count("stale");
                            return Ok(Some(kept));
                        }
                        self.count("unavailable");
                    }
                    Err(f.into_error(&up, what, ErrorCode::ManifestUnknown))
                }
            };
        };
        let Reference::Tag(tag) = reference else {
            return Ok(None);
        };
        let remote = match up.reference(&Upstream::at(reference)) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(repository = %repo, %tag, error = %e, "proxy cache: serving the cached tag");
                return Ok(None);
            }
        };
        match self.ask(up.client.1.manifest_digest(&remote)).await {
            Ok(Some(d)) if d == cached.digest.to_string() => {
                self.confirm(repo, tag.as_str()).await;
                Ok(None)
            }
            Ok(None) => {
                tracing::warn!(repository = %repo, %tag, "proxy cache: the tag is gone upstream, serving the cached tag");
                self.count("stale");
                Ok(None)
            }
            Ok(Some(moved)) => match self.fetch_manifest(repo, &up, reference).await {
                Ok(m) => {
                    tracing::info!(repository = %repo, %tag, from = %cached.digest, to = %moved, "proxy cache: the tag moved upstream");
                    self.count("moved");
                    Ok(Some(m))
                }
                Err(e) => {
                    tracing::warn!(repository = %repo, %tag, error = %e, "proxy cache: upstream unreachable, serving the cached tag (stale)");
                    self.count("stale");
                    Ok(None)
                }
            },
            Err(e) => {
                tracing::warn!(repository = %repo, %tag, error = %e, "proxy cache: upstream unreachable, serving the cached tag (stale)");
                self.count("stale");
                Ok(None)
            }
        }
    }

    async fn blob(&self, repo: &RepoName, digest: &Digest) -> Result<Option<(u64, ByteStream)>> {
        let Some(up) = self.upstream(repo).await? else {
            return Ok(None);
        };
        let what = format!("blob {repo}@{digest}");
        let (size, body) = self
            .open_blob(&up, digest)
            .await
            .map_err(|f| f.into_error(&up, what, ErrorCode::BlobUnknown))?;
        let Some(claim) = Storing::claim(&self.storing, digest) else {
            // Another pull stores it: this one only streams it.
            return Ok(Some((size, body)));
        };
        let (tx, rx) = tokio::sync::mpsc::channel(TEE_CHUNKS);
        let stored = tee(body, tx);
        let distribution = self.distribution.clone();
        let metrics = self.metrics.clone();
        let (repo, digest) = (repo.clone(), digest.clone());
        tokio::spawn(async move {
            let _claim = claim;
            match fill(distribution.upload_monolithic(&repo, &digest, stored, Some(size), None))
                .await
            {
                Ok(()) => {
                    tracing::debug!(repository = %repo, %digest, "proxy cache: blob stored")
                }
                Err(e) => {
                    Metrics::outcome(&metrics.proxy_cache, "not_stored");
                    tracing::warn!(repository = %repo, %digest, error = %e, "proxy cache: blob from the upstream was not cached")
                }
            }
        });
        let to_client: ByteStream = Box::pin(stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        Ok(Some((size, to_client)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(n: usize) -> ByteStream {
        Box::pin(stream::iter(
            (0..n).map(|i| Ok(Bytes::from(vec![i as u8; 1000]))),
        ))
    }

    /// The client's copy is the same bytes; a client that hangs up halfway leaves
    /// the store's copy whole.
    #[tokio::test]
    async fn the_tee_feeds_the_store_whatever_the_client_does() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let stored = tokio::spawn(async move {
            let mut all = Vec::new();
            let mut s = tee(chunks(50), tx);
            while let Some(c) = s.next().await {
                all.extend_from_slice(&c.unwrap());
            }
            all
        });
        let mut client = Vec::new();
        for _ in 0..10 {
            client.extend_from_slice(&rx.recv().await.unwrap().unwrap());
        }
        drop(rx);
        let stored = stored.await.unwrap();
        assert_eq!(stored.len(), 50_000);
        assert_eq!(&stored[..10_000], &client[..]);
    }

    /// An upstream failure (a digest mismatch at the end) reaches both copies.
    #[tokio::test]
    async fn an_upstream_error_reaches_the_client_too() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let failing: ByteStream = Box::pin(stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("digest mismatch")),
        ]));
        let mut s = tee(failing, tx);
        assert!(s.next().await.unwrap().is_ok());
        assert!(s.next().await.unwrap().is_err());
        assert!(s.next().await.is_none());
        assert!(rx.recv().await.unwrap().is_ok());
        let err = rx.recv().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("digest mismatch"));
        assert!(rx.recv().await.is_none());
    }
}
