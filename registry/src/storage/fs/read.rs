//! Serving a committed blob: a run of 2 MiB chunks made on the blocking pool a few
//! ahead of the socket, so a download holds a few MiB whatever the blob's size and
//! no async worker ever waits on the disk.
//!
//! Each chunk is read from wherever it is cheapest:
//! - **From the page cache** when all of it is there (`mincore` on a map that is not
//!   yet populated says so without reading anything): the chunk is a read-only
//!   memory map handed to the socket with no copy through our buffers, so a layer
//!   pulled again and again is served from memory, as Distribution's `sendfile`
//!   serves it.
//! - **From the disk with `O_DIRECT`** otherwise, into a page-aligned buffer.
//!   Uploads are written with `O_DIRECT` (see `append`), so a freshly pushed blob
//!   is not in the cache until [`cache_in_background`] has read it back; read
//!   through the cache (the faults of populating a map, or `POSIX_FADV_WILLNEED`
//!   read-ahead) it came at 100–370 MB/s on the machines
//!   we measured, where direct reads ran at 1.1–1.4 GB/s. Asking the cache with
//!   `preadv2(RWF_NOWAIT)` instead of `mincore` started the kernel's read-ahead on
//!   the chunk it asked about, so every cold chunk was read twice (99 MB/s).
//!
//! Where the file system refuses `O_DIRECT`, the chunks are mapped and populated,
//! with the kernel asked to read a few chunks ahead. Chunks end on 2 MiB
//! boundaries of the file, so only the first chunk of a range that starts mid-page
//! cannot be read directly.

use std::io;

use bytes::Bytes;

use crate::storage::ByteStream;

/// Bytes per chunk, and how many chunks are ready ahead of the socket: a download
/// holds at most about 4 × 2 MiB.
const STREAM_CHUNK: u64 = 2 * 1024 * 1024;
const STREAM_AHEAD: usize = 3;
/// Where `O_DIRECT` cannot be used: how far ahead of the chunk being read the
/// kernel is asked to read the blob into the page cache.
const READ_AHEAD: u64 = 4 * STREAM_CHUNK;
/// The alignment `O_DIRECT` wants of offsets, lengths and buffers.
const ALIGN: u64 = 4096;

/// Stream `len` bytes from `start` of a blob file. Safe to map because blob files
/// are immutable once renamed into place and only ever unlinked (an unlinked file
/// stays readable through its open handle and mapped until the last map is dropped).
pub(super) fn stream_file(file: std::fs::File, start: u64, len: u64) -> io::Result<ByteStream> {
    if len == 0 {
        return Ok(Box::pin(futures_util::stream::empty()));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(STREAM_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut reader = Chunks {
            file,
            direct: None,
            read_ahead_to: 0,
        };
        let end = start + len;
        let mut at = start;
        while at < end {
            let n = (end - at).min(STREAM_CHUNK - at % STREAM_CHUNK);
            let chunk = reader.read(at, n, end);
            let failed = chunk.is_err();
            if tx.blocking_send(chunk).is_err() || failed {
                return; // the client went away, or the read failed (the stream ends with it)
            }
            at += n;
        }
    });
    Ok(Box::pin(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
    )))
}

struct Chunks {
    file: std::fs::File,
    /// Whether `O_DIRECT` is set on this (private) open file: `None` until the first
    /// chunk that is not cached, `Some(false)` when the file system refused it.
    direct: Option<bool>,
    /// How far the kernel has been asked to read ahead (only without `O_DIRECT`).
    read_ahead_to: u64,
}

impl Chunks {
    fn read(&mut self, at: u64, n: u64, end: u64) -> io::Result<Bytes> {
        // Asking the cache costs a map of its own: only where a direct read could follow.
        if at.is_multiple_of(ALIGN)
            && self.direct != Some(false)
            && !self.cached(at, n)?
            && self.direct()
        {
            match read_direct(&self.file, at, n) {
                Ok(bytes) => {
                    // The next pull of this blob is served from memory: the kernel
                    // reads the chunk into the cache in the background meanwhile
                    // (what a read through the cache would have left there).
                    advise_will_need(&self.file, at, n);
                    return Ok(bytes);
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    tracing::debug!(error = %e, "O_DIRECT read refused; reading through the page cache");
                    self.direct = Some(false);
                }
                Err(e) => return Err(e),
            }
        }
        if self.direct == Some(false) {
            self.read_ahead(at, end);
        }
        // SAFETY: as above.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(at)
                .len(n as usize)
                .populate()
                .map(&self.file)
        }?;
        Ok(Bytes::from_owner(map))
    }

    /// Whether all of `[at, at+n)` is in the page cache: a map not yet populated,
    /// asked with `mincore`, so nothing is read.
    fn cached(&self, at: u64, n: u64) -> io::Result<bool> {
        // SAFETY: see `stream_file` — nothing ever writes to or truncates a committed blob.
        let probe = unsafe {
            memmap2::MmapOptions::new()
                .offset(at)
                .len(n as usize)
                .map(&self.file)
        }?;
        Ok(resident(&probe))
    }

    /// True when this file may be read with `O_DIRECT` (set on first use).
    fn direct(&mut self) -> bool {
        if self.direct.is_none() {
            let set = set_direct(&self.file);
            if let Err(e) = &set {
                tracing::debug!(error = %e, "O_DIRECT refused; reading through the page cache");
            }
            self.direct = Some(set.is_ok());
        }
        self.direct == Some(true)
    }

    fn read_ahead(&mut self, at: u64, end: u64) {
        let from = self.read_ahead_to.max(at);
        let to = (at + READ_AHEAD + STREAM_CHUNK).min(end);
        if from < to {
            advise_will_need(&self.file, from, to - from);
            self.read_ahead_to = to;
        }
    }
}

/// Read a blob just committed into the page cache, on the blocking pool and off
/// the request's path: uploads are written with `O_DIRECT`, so without this the
/// first pull of a fresh blob reads it from the disk (twice: past the cache, then
/// into it). The blob is read through the cache a chunk at a time, so that the
/// reading keeps the disk's pace and stops as soon as a body is being appended
/// (`appending` > 0): the disk is then the upload's, and the chunks not read yet
/// are cached by the first GET instead (docs/design.md, "Downloads from the page
/// cache").
pub(super) fn cache_in_background(
    path: std::path::PathBuf,
    appending: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::os::unix::fs::FileExt;
    tokio::task::spawn_blocking(move || {
        let Ok(file) = std::fs::File::open(&path) else {
            return;
        };
        let mut buf = vec![0u8; STREAM_CHUNK as usize];
        let mut at = 0;
        while appending.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            match file.read_at(&mut buf, at) {
                Ok(0) | Err(_) => return,
                Ok(n) => at += n as u64,
            }
        }
    });
}

/// `n` bytes at `at` (a multiple of [`ALIGN`]) read past the page cache into a
/// page-aligned anonymous map; the tail beyond `n` read to keep the length aligned
/// is cut off.
fn read_direct(file: &std::fs::File, at: u64, n: u64) -> io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buf = memmap2::MmapMut::map_anon(n.div_ceil(ALIGN) as usize * ALIGN as usize)?;
    let mut got = 0usize;
    while (got as u64) < n {
        // A short read leaves `got` unaligned only at the end of the file.
        match file.read_at(&mut buf[got..], at + got as u64)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            r => got += r,
        }
    }
    Ok(Bytes::from_owner(buf.make_read_only()?).slice(..n as usize))
}

/// Whether every page of a (not yet populated) map is in the page cache. On any
/// doubt it says yes, which keeps the chunk on the map path that always works.
#[cfg(target_os = "linux")]
fn resident(map: &memmap2::Mmap) -> bool {
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p > 0 => p as usize,
        _ => return true,
    };
    let addr = map.as_ptr() as usize;
    let base = addr & !(page - 1);
    let len = addr + map.len() - base;
    let mut pages = vec![0u8; len.div_ceil(page)];
    // SAFETY: [base, base+len) lies within the map (memmap2 maps from the page
    // below the offset), and `pages` has one byte per page of it.
    let r = unsafe { libc::mincore(base as *mut libc::c_void, len, pages.as_mut_ptr()) };
    r != 0 || pages.iter().all(|p| p & 1 == 1)
}

#[cfg(not(target_os = "linux"))]
fn resident(_map: &memmap2::Mmap) -> bool {
    true
}

#[cfg(target_os = "linux")]
fn set_direct(file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: plain fcntl calls on a descriptor we own; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_DIRECT) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_file: &std::fs::File) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Ask the kernel to read `[offset, offset+len)` into the page cache in the
/// background (`posix_fadvise(POSIX_FADV_WILLNEED)`), so populating the maps does
/// not wait on 128 KiB faults one after another.
#[cfg(target_os = "linux")]
fn advise_will_need(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on a file descriptor we own; no memory is passed.
    unsafe {
        libc::posix_fadvise(
            file.as_raw_fd(),
            offset as libc::off_t,
            len as libc::off_t,
            libc::POSIX_FADV_WILLNEED,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_will_need(_file: &std::fs::File, _offset: u64, _len: u64) {}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 4093) as u8).collect()
    }

    async fn collect(file: std::fs::File, start: u64, len: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = stream_file(file, start, len).unwrap();
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    /// Whole files and ranges at awkward offsets read back byte for byte, whether
    /// the chunks come from the cache or past it (the file is dropped from the cache
    /// between reads so both paths run).
    #[tokio::test]
    async fn every_byte_comes_back_from_either_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let data = pattern(5 * STREAM_CHUNK as usize + 12_345);
        std::fs::write(&path, &data).unwrap();
        let evict = || {
            let f = std::fs::File::open(&path).unwrap();
            f.sync_all().unwrap();
            #[cfg(target_os = "linux")]
            // SAFETY: a plain syscall on a descriptor we own.
            unsafe {
                use std::os::fd::AsRawFd;
                libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
            }
        };
        let cases = [
            (0, data.len() as u64),
            (1, data.len() as u64 - 1),
            (4096, 3 * STREAM_CHUNK),
            (STREAM_CHUNK - 10, 20),
            (data.len() as u64 - 100, 100),
            (12_345, 2 * STREAM_CHUNK + 77),
        ];
        for (start, len) in cases {
            for cold in [true, false] {
                if cold {
                    evict();
                }
                let file = std::fs::File::open(&path).unwrap();
                let got = collect(file, start, len).await;
                let want = &data[start as usize..(start + len) as usize];
                assert_eq!(got.len(), want.len(), "start {start} len {len} cold {cold}");
                assert!(
                    got == want,
                    "bytes differ: start {start} len {len} cold {cold}"
                );
            }
        }
    }
}
