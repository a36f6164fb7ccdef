//! Filesystem blob store. Layout under the root:
//!
//! ```text
//! blobs/<alg>/<first two hex>/<hex>   committed blobs, immutable
//! uploads/<uuid>                      upload sessions in progress
//! quarantine/<alg>/<hex>.<time>       corrupt blobs scrub moved aside
//! ```
//!
//! Blobs become visible only by `rename` of a complete, fsynced upload file,
//! so a crash at any point leaves either no blob or the whole blob.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::io::ReaderStream;

use super::{BlobStore, ByteStream, Result, StorageError, valid_upload_id};
use crate::digest::{Digest, Hasher};

const READ_CHUNK: usize = 256 * 1024;
/// Blobs up to this size are read in one go rather than mapped.
const SMALL_BLOB: u64 = 256 * 1024;
/// Slice size when serving blobs from their memory map.
const STREAM_CHUNK: u64 = 1024 * 1024;
const WRITE_BUFFER: usize = 1024 * 1024;

pub struct FsBlobStore {
    root: PathBuf,
    /// fsync files and directories before a blob becomes visible (power-loss safety).
    fsync: bool,
}

impl FsBlobStore {
    pub async fn open(root: impl Into<PathBuf>, fsync: bool) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join("blobs")).await?;
        fs::create_dir_all(root.join("uploads")).await?;
        Ok(FsBlobStore { root, fsync })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }

    fn upload_path(&self, id: &str) -> Result<PathBuf> {
        if !valid_upload_id(id) {
            return Err(StorageError::InvalidUploadId(id.to_string()));
        }
        Ok(self.root.join("uploads").join(id))
    }
}

async fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).await?.sync_all().await
}

fn not_found_as_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stream `len` bytes from `start` of a blob file, as slices of a read-only
/// memory map: the response writes straight from the page cache to the
/// socket, with no copy through our own buffers (distribution gets the same
/// from sendfile). Safe because blob files are
/// immutable once renamed into place and only ever unlinked (an unlinked
/// file stays mapped until the last slice is dropped).
fn stream_file(file: std::fs::File, start: u64, len: u64) -> io::Result<ByteStream> {
    if len == 0 {
        return Ok(Box::pin(futures_util::stream::empty()));
    }
    // SAFETY: see above — nothing ever writes to or truncates a committed blob.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(start)
            .len(len as usize)
            .map(&file)?
    };
    let _ = map.advise(memmap2::Advice::Sequential);
    let whole = bytes::Bytes::from_owner(map);
    // Pages are faulted in here, on the blocking pool, a few chunks ahead of
    // the socket: a cold blob never makes an async worker wait on the disk.
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<bytes::Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        for at in (0..len).step_by(STREAM_CHUNK as usize) {
            let chunk = whole.slice(at as usize..(at + STREAM_CHUNK).min(len) as usize);
            let touched = chunk.iter().step_by(4096).fold(0u8, |acc, b| acc ^ b);
            std::hint::black_box(touched);
            if tx.blocking_send(Ok(chunk)).is_err() {
                return; // the client went away
            }
        }
    });
    Ok(Box::pin(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
    )))
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        Ok(not_found_as_none(fs::metadata(self.blob_path(digest)).await)?.map(|m| m.len()))
    }

    async fn read(&self, digest: &Digest, range: Option<(u64, u64)>) -> Result<ByteStream> {
        let path = self.blob_path(digest);
        // One trip to the blocking pool: open, size, and (for small blobs) the bytes.
        let opened = tokio::task::spawn_blocking(
            move || -> io::Result<Option<(std::fs::File, u64, Option<bytes::Bytes>)>> {
                use std::io::{Read, Seek};
                let Some(mut file) = not_found_as_none(std::fs::File::open(path))? else {
                    return Ok(None);
                };
                let size = file.metadata()?.len();
                let (start, len) = match range {
                    Some((start, end)) if start <= end && end < size => (start, end - start + 1),
                    Some(_) => return Ok(Some((file, size, None))),
                    None => (0, size),
                };
                if len > SMALL_BLOB {
                    return Ok(Some((file, size, None)));
                }
                // Configs, manifests-as-blobs, small layers: one read beats setting up a map.
                file.seek(io::SeekFrom::Start(start))?;
                let mut buf = vec![0u8; len as usize];
                file.read_exact(&mut buf)?;
                Ok(Some((file, size, Some(bytes::Bytes::from(buf)))))
            },
        )
        .await
        .map_err(io::Error::other)??;
        let (file, size, small) =
            opened.ok_or_else(|| StorageError::BlobNotFound(digest.clone()))?;
        if let Some(bytes) = small {
            return Ok(Box::pin(futures_util::stream::once(
                async move { Ok(bytes) },
            )));
        }
        let (start, len) = match range {
            None => (0, size),
            Some((start, end)) => {
                if start > end || end >= size {
                    return Err(StorageError::Range { start, end, size });
                }
                (start, end - start + 1)
            }
        };
        // Mapping is a syscall, not I/O: the pages are read as the socket drains them.
        Ok(stream_file(file, start, len)?)
    }

    async fn delete(&self, digest: &Digest) -> Result<bool> {
        Ok(not_found_as_none(fs::remove_file(self.blob_path(digest)).await)?.is_some())
    }

    async fn quarantine(&self, digest: &Digest) -> Result<()> {
        let dir = self
            .root
            .join("quarantine")
            .join(digest.algorithm().as_str());
        fs::create_dir_all(&dir).await?;
        let stamp = super::super::metadata::now();
        let to = dir.join(format!("{}.{stamp}", digest.hex()));
        not_found_as_none(fs::rename(self.blob_path(digest), to).await)?;
        Ok(())
    }

    async fn create_upload(&self, id: &str) -> Result<()> {
        let path = self.upload_path(id)?;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(())
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>> {
        let path = self.upload_path(id)?;
        Ok(not_found_as_none(fs::metadata(path).await)?.map(|m| m.len()))
    }

    async fn append_upload(
        &self,
        id: &str,
        mut data: ByteStream,
        hasher: &mut Hasher,
    ) -> Result<u64> {
        let path = self.upload_path(id)?;
        let file = not_found_as_none(OpenOptions::new().write(true).open(&path).await)?
            .ok_or_else(|| StorageError::UploadNotFound(id.to_string()))?;
        let start = file.metadata().await?.len();
        let mut file = file;
        file.seek(io::SeekFrom::Start(start)).await?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut scratch = hasher.clone();
        let mut written = 0u64;
        let outcome: Result<()> = async {
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(StorageError::Body)?;
                scratch.update(&chunk);
                out.write_all(&chunk).await?;
                written += chunk.len() as u64;
            }
            out.flush().await?;
            Ok(())
        }
        .await;
        let file = out.into_inner();
        if let Err(e) = outcome {
            // All or nothing: cut back whatever part of this chunk reached the file.
            let _ = file.set_len(start).await;
            return Err(e);
        }
        *hasher = scratch;
        Ok(start + written)
    }

    async fn read_upload(&self, id: &str) -> Result<ByteStream> {
        let path = self.upload_path(id)?;
        let file = not_found_as_none(File::open(&path).await)?
            .ok_or_else(|| StorageError::UploadNotFound(id.to_string()))?;
        Ok(Box::pin(
            ReaderStream::with_capacity(file, READ_CHUNK).map_err(io::Error::other),
        ))
    }

    async fn commit_upload(&self, id: &str, digest: &Digest) -> Result<()> {
        let src = self.upload_path(id)?;
        let dst = self.blob_path(digest);
        if fs::metadata(&dst).await.is_ok() {
            // Same content already stored: keep the existing, immutable copy.
            fs::remove_file(&src).await?;
            return Ok(());
        }
        if self.fsync {
            let file = not_found_as_none(File::open(&src).await)?
                .ok_or_else(|| StorageError::UploadNotFound(id.to_string()))?;
            file.sync_all().await?;
        }
        let dir = dst.parent().expect("blob path has a parent");
        fs::create_dir_all(dir).await?;
        fs::rename(&src, &dst).await.map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StorageError::UploadNotFound(id.to_string())
            } else {
                e.into()
            }
        })?;
        if self.fsync {
            sync_dir(dir).await?;
        }
        Ok(())
    }

    async fn delete_upload(&self, id: &str) -> Result<()> {
        let path = self.upload_path(id)?;
        not_found_as_none(fs::remove_file(path).await)?;
        Ok(())
    }

    async fn list_uploads(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut dir = fs::read_dir(self.root.join("uploads")).await?;
        while let Some(entry) = dir.next_entry().await? {
            if let Some(name) = entry.file_name().to_str().filter(|n| valid_upload_id(n)) {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn upload_ids_cannot_escape_the_uploads_dir() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path(), false).await.unwrap();
        for id in [
            "../../etc/passwd",
            "..",
            "",
            "ABCDEF00-0000-4000-8000-000000000000",
        ] {
            assert!(
                matches!(
                    store.create_upload(id).await,
                    Err(StorageError::InvalidUploadId(_))
                ),
                "{id}"
            );
        }
    }
}
