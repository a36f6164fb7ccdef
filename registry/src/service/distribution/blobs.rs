//! Reading and deleting blobs that a repository may serve.

use bytes::Bytes;

use super::Distribution;
use crate::digest::Digest;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::names::RepoName;
use crate::service::not_found;
use crate::storage::{ByteStream, StorageError};

/// Blobs this process marked used lately. HEAD storms (every layer of every
/// push, every pull) must not each become a write: a blob is marked at most
/// once per [`RecentUses::SECONDS`] here, and the store skips the write too
/// when another process marked it as recently. The grace period of GC is far
/// longer than this, so the mark is never stale when it matters.
#[derive(Default)]
pub(super) struct RecentUses(
    std::sync::Mutex<std::collections::HashMap<Digest, std::time::Instant>>,
);

impl RecentUses {
    pub const SECONDS: i64 = 10;
    /// Entries kept at most (the map is cleared when full: bounded memory).
    const MAX: usize = 100_000;

    fn first_in_a_while(&self, digest: &Digest) -> bool {
        let now = std::time::Instant::now();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(digest) {
            Some(at) if now.duration_since(*at).as_secs() < Self::SECONDS as u64 => false,
            _ => {
                if map.len() >= Self::MAX {
                    map.clear();
                }
                map.insert(digest.clone(), now);
                true
            }
        }
    }
}

/// A `Range: bytes=…` request, before the blob's size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `start-` or `start-end` (inclusive).
    From(u64, Option<u64>),
    /// `-n`: the last n bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parse one `bytes=` range; anything else (several ranges, other units)
    /// is ignored and the whole blob is sent, as RFC 9110 allows.
    pub fn parse(header: &str) -> Option<ByteRange> {
        let spec = header.trim().strip_prefix("bytes=")?;
        if spec.contains(',') {
            return None;
        }
        let (a, b) = spec.split_once('-')?;
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() {
            return b.parse().ok().map(ByteRange::Suffix);
        }
        let start = a.parse().ok()?;
        let end = if b.is_empty() {
            None
        } else {
            Some(b.parse().ok()?)
        };
        Some(ByteRange::From(start, end))
    }

    /// The inclusive range within a blob of `size` bytes, or `None` if unsatisfiable.
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        match self {
            ByteRange::From(start, end) => {
                let end = end.unwrap_or(u64::MAX).min(size.checked_sub(1)?);
                (start <= end).then_some((start, end))
            }
            ByteRange::Suffix(0) => None,
            ByteRange::Suffix(n) => Some((size.saturating_sub(n), size.checked_sub(1)?)),
        }
    }
}

pub enum BlobBody {
    Whole {
        size: u64,
        stream: ByteStream,
    },
    Partial {
        size: u64,
        start: u64,
        end: u64,
        stream: ByteStream,
    },
    Unsatisfiable {
        size: u64,
    },
}

impl Distribution {
    /// The size of a blob as the repository serves it. Manifests are blobs too
    /// (clients may fetch them by digest through the blob endpoint).
    ///
    /// A HEAD that finds a blob marks it used: a pusher that finds the blob
    /// skips its upload and names it in a manifest moments later, so GC must
    /// not take it in between (see [`RecentUses`] for why not every time).
    pub async fn blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<u64> {
        if let Some(size) = self.meta.repo_blob_size(repo, digest).await? {
            if self.recent_uses.first_in_a_while(digest) {
                self.meta.touch_blob(digest, RecentUses::SECONDS).await?;
            }
            return Ok(size);
        }
        match self.meta.manifest_by_digest(repo, digest, false).await? {
            Some(m) => Ok(m.size),
            None => match self.pull_through_blob(repo, digest).await? {
                // The answer of a HEAD: the size; the stream is dropped unread.
                Some((size, _)) => Ok(size),
                None => Err(not_found(ErrorCode::BlobUnknown, format!("blob {digest}"))),
            },
        }
    }

    /// Where the client may fetch a blob straight from the blob store (a
    /// pre-signed URL, `--storage-redirect`), if the store hands such URLs out
    /// and the repository holds the blob. `None`: serve it with [`Self::read_blob`]
    /// (manifests fetched as blobs and proxy-cache content always are).
    pub async fn blob_url(&self, repo: &RepoName, digest: &Digest) -> Result<Option<String>> {
        if !self.blobs.redirects() || self.meta.repo_blob_size(repo, digest).await?.is_none() {
            return Ok(None);
        }
        Ok(self.blobs.blob_url(digest).await?)
    }

    /// Stream a blob, or the requested range of it.
    pub async fn read_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<BlobBody> {
        if let Some(size) = self.meta.repo_blob_size(repo, digest).await? {
            let span = match range.map(|r| r.resolve(size)) {
                Some(None) => return Ok(BlobBody::Unsatisfiable { size }),
                Some(Some(span)) => Some(span),
                None => None,
            };
            let stream = self.blobs.read(digest, span).await.map_err(|e| match e {
                StorageError::BlobNotFound(_) => RegistryError::Internal(format!(
                    "blob {digest} is recorded for {repo} but missing from the blob store"
                )),
                other => other.into(),
            })?;
            return Ok(match span {
                None => BlobBody::Whole { size, stream },
                Some((start, end)) => BlobBody::Partial {
                    size,
                    start,
                    end,
                    stream,
                },
            });
        }
        let Some(m) = self.meta.manifest_by_digest(repo, digest, true).await? else {
            // Fetched content is sent whole: a Range on it is ignored, as RFC 9110 allows.
            return match self.pull_through_blob(repo, digest).await? {
                Some((size, stream)) => Ok(BlobBody::Whole { size, stream }),
                None => Err(not_found(ErrorCode::BlobUnknown, format!("blob {digest}"))),
            };
        };
        let content = m.content.unwrap_or_default();
        let size = content.len() as u64;
        let once =
            |b: Bytes| -> ByteStream { Box::pin(futures_util::stream::once(async { Ok(b) })) };
        Ok(match range.map(|r| r.resolve(size)) {
            None => BlobBody::Whole {
                size,
                stream: once(content),
            },
            Some(None) => BlobBody::Unsatisfiable { size },
            Some(Some((start, end))) => BlobBody::Partial {
                size,
                start,
                end,
                stream: once(content.slice(start as usize..=end as usize)),
            },
        })
    }

    async fn pull_through_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<(u64, ByteStream)>> {
        match self.pull_through.get() {
            Some(p) => p.blob(repo, digest).await,
            None => Ok(None),
        }
    }

    /// Stop the repository serving the blob. The bytes stay until garbage
    /// collection finds nothing else uses them.
    pub async fn delete_blob(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        if self.meta.unlink_blob(repo, digest).await? {
            Ok(())
        } else {
            Err(not_found(ErrorCode::BlobUnknown, format!("blob {digest}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn ranges_parse_and_resolve_like_rfc_9110() {
        assert_eq!(
            ByteRange::parse("bytes=0-9"),
            Some(ByteRange::From(0, Some(9)))
        );
        assert_eq!(ByteRange::parse("bytes=5-"), Some(ByteRange::From(5, None)));
        assert_eq!(ByteRange::parse("bytes=-3"), Some(ByteRange::Suffix(3)));
        assert_eq!(ByteRange::parse("bytes=0-1,4-5"), None);
        assert_eq!(ByteRange::parse("items=0-1"), None);
        assert_eq!(ByteRange::From(0, Some(9)).resolve(100), Some((0, 9)));
        assert_eq!(ByteRange::From(90, Some(200)).resolve(100), Some((90, 99)));
        assert_eq!(ByteRange::From(100, None).resolve(100), None);
        assert_eq!(ByteRange::From(5, Some(4)).resolve(100), None);
        assert_eq!(ByteRange::Suffix(3).resolve(100), Some((97, 99)));
        assert_eq!(ByteRange::Suffix(300).resolve(100), Some((0, 99)));
        assert_eq!(ByteRange::From(0, None).resolve(0), None);
    }
}
