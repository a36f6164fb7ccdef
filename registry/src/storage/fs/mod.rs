//! Filesystem blob store. Layout under the root:
//!
//! ```text
//! blobs/<alg>/<first two hex>/<hex>   committed blobs, immutable
//! uploads/<uuid>                      upload sessions in progress
//! quarantine/<alg>/<hex>.<time>       corrupt blobs scrub moved aside
//! ```
//!
//! Blobs become visible only by `rename` of a complete, fsynced upload file,
//! so a crash at any point leaves either no blob or the whole blob. How an
//! upload's bytes are hashed and written: `append`.

mod append;

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::fs::{self, File, OpenOptions};
use tokio_util::io::ReaderStream;

use super::{BlobStore, ByteStream, Result, StorageError, valid_upload_id};
use crate::digest::{Algorithm, Digest, Hasher};

const READ_CHUNK: usize = 256 * 1024;
/// Blobs up to this size are read in one go rather than streamed.
const SMALL_BLOB: u64 = 256 * 1024;
/// Bytes per read when serving a large blob, and how many chunks are ready
/// ahead of the socket: a download holds at most about 4 × 2 MiB.
const STREAM_CHUNK: u64 = 2 * 1024 * 1024;
const STREAM_AHEAD: usize = 3;

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

/// Stream `len` bytes from `start` of a blob file, [`STREAM_CHUNK`] at a time,
/// each chunk read on the blocking pool a few chunks ahead of the socket (a cold
/// blob never makes an async worker wait on the disk), so a download holds a few
/// MiB whatever the blob's size. A chunk in the page cache is copied from it (a
/// read told not to wait for the disk, `RWF_NOWAIT`); one that is not is read
/// with `O_DIRECT` straight into its buffer. Uploads are written with `O_DIRECT`
/// (`append`) and leave nothing cached, and on the machines we measure cold reads
/// through the page cache ran at 370 MB/s (kernel readahead) or 100 MB/s (faulting
/// in memory maps), direct reads of 2 MiB at 1.4 GB/s. Blob files are immutable
/// once renamed into place and only ever unlinked (an unlinked file stays readable
/// through its open handle).
fn stream_file(file: std::fs::File, path: PathBuf, start: u64, len: u64) -> io::Result<ByteStream> {
    if len == 0 {
        return Ok(Box::pin(futures_util::stream::empty()));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(STREAM_AHEAD);
    tokio::task::spawn_blocking(move || {
        // A second handle for direct reads (the same file: blobs are never replaced).
        let mut direct = open_direct_read(&path);
        let mut at = start;
        let end = start + len;
        while at < end {
            let n = (end - at).min(STREAM_CHUNK) as usize;
            let chunk = read_chunk(&file, &mut direct, at, n);
            let failed = chunk.is_err();
            if tx.blocking_send(chunk).is_err() || failed {
                return; // the client went away, or the read failed (the stream ends with it)
            }
            at += n as u64;
        }
    });
    Ok(Box::pin(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
    )))
}

/// `n` bytes at `at`: from the page cache if they are all there, else with
/// `O_DIRECT` (when `at` is aligned and the file system takes it), else a plain read.
fn read_chunk(
    file: &std::fs::File,
    direct: &mut Option<std::fs::File>,
    at: u64,
    n: usize,
) -> io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let aligned = n.next_multiple_of(append::ALIGN as usize);
    // Page-aligned, as O_DIRECT wants; unmapped when the response drops the chunk.
    let mut buf = memmap2::MmapMut::map_anon(aligned)?;
    if !read_cached(file, &mut buf[..n], at) {
        let direct_read = match direct {
            Some(d) if at.is_multiple_of(append::ALIGN) => read_direct(d, &mut buf, at, n),
            _ => Ok(false),
        };
        match direct_read {
            Ok(true) => {}
            Ok(false) => file.read_exact_at(&mut buf[..n], at)?,
            Err(e) => {
                tracing::debug!(error = %e, "O_DIRECT read refused; reading through the page cache");
                *direct = None;
                file.read_exact_at(&mut buf[..n], at)?;
            }
        }
    }
    Ok(Bytes::from_owner(buf).slice(..n))
}

/// Fill `buf` from the page cache only: true if every byte was there.
#[cfg(target_os = "linux")]
fn read_cached(file: &std::fs::File, buf: &mut [u8], at: u64) -> bool {
    use std::os::fd::AsRawFd;
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: one iovec over `buf`, which is valid for writes of its length.
    let got = unsafe {
        libc::preadv2(
            file.as_raw_fd(),
            &iov,
            1,
            at as libc::off_t,
            libc::RWF_NOWAIT,
        )
    };
    got == buf.len() as isize
}

#[cfg(not(target_os = "linux"))]
fn read_cached(_file: &std::fs::File, _buf: &mut [u8], _at: u64) -> bool {
    false
}

/// Read `n` bytes at the aligned offset `at` into the aligned `buf` with
/// `O_DIRECT`. Ok(false) if the file ended early or a read came back short of an
/// aligned length (the caller reads plainly instead); Err if refused.
fn read_direct(direct: &std::fs::File, buf: &mut [u8], at: u64, n: usize) -> io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let mut got = 0;
    while got < n {
        let r = direct.read_at(&mut buf[got..], at + got as u64)?;
        got += r;
        if r == 0 || (got < n && !got.is_multiple_of(append::ALIGN as usize)) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(target_os = "linux")]
fn open_direct_read(path: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct_read(_path: &Path) -> Option<std::fs::File> {
    None
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        Ok(not_found_as_none(fs::metadata(self.blob_path(digest)).await)?.map(|m| m.len()))
    }

    async fn read(&self, digest: &Digest, range: Option<(u64, u64)>) -> Result<ByteStream> {
        let path = self.blob_path(digest);
        let opening = path.clone();
        // One trip to the blocking pool: open, size, and (for small blobs) the bytes.
        let opened = tokio::task::spawn_blocking(
            move || -> io::Result<Option<(std::fs::File, u64, Option<bytes::Bytes>)>> {
                use std::io::{Read, Seek};
                let Some(mut file) = not_found_as_none(std::fs::File::open(opening))? else {
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
        // The chunks are read on the blocking pool, a few ahead of the socket.
        Ok(stream_file(file, path, start, len)?)
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

    async fn append_upload(&self, id: &str, data: ByteStream, hasher: &mut Hasher) -> Result<u64> {
        let path = self.upload_path(id)?;
        let options = append::WriteOptions {
            fsync: self.fsync,
            direct: true,
        };
        append::append(path, id, data, hasher, options).await
    }

    async fn resume_hash(&self, id: &str, algorithm: Algorithm) -> Result<Hasher> {
        let path = self.upload_path(id)?;
        let file = not_found_as_none(File::open(&path).await)?
            .ok_or_else(|| StorageError::UploadNotFound(id.to_string()))?;
        let mut hasher = algorithm.hasher();
        let mut data = ReaderStream::with_capacity(file, READ_CHUNK);
        while let Some(chunk) = data.next().await {
            hasher.update(&chunk?);
        }
        Ok(hasher)
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
