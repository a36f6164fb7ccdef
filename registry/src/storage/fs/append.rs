//! The write side of a filesystem upload: every monolithic PUT and chunked PATCH
//! body goes through [`append`]. Three stages on three threads, overlapping, so
//! that an upload runs at the speed of its slowest stage rather than the sum of
//! them all:
//!
//! 1. the connection's task only reads frames off the socket and queues them
//!    (at most [`PIPELINE_FRAMES`]);
//! 2. the hashing thread copies each frame into page-aligned blocks of
//!    [`BLOCK`] bytes and hashes the copy, [`PIECE`] by piece (the frame goes
//!    back to hyper);
//! 3. the writing thread writes each full block to the file with `O_DIRECT`,
//!    from that block straight to the disk, and hands the block back.
//!
//! Why `O_DIRECT`: on the machines we measured (VMs whose page cache other
//! processes keep busy) buffered writes of a 1 GiB upload ran anywhere from 57 to
//! 570 MB/s, throttled by the kernel's dirty-page accounting, while direct writes
//! of 1 MiB ran at the disk's 900–1,100 MB/s every time; they also spare the CPU
//! the copy into the page cache, CPU the hash needs (`scripts/bench-registry.sh`
//! prints both beside the upload figures). The blob is not left in the page
//! cache, which suits a registry: the next reader of a layer is usually another
//! machine.
//!
//! Only whole, aligned blocks go direct. The bytes before the first 4 KiB
//! boundary (a PATCH continuing an upload whose size is not a multiple of 4 KiB)
//! and the last, partial block go through the page cache; Linux keeps the two
//! kinds of write to one file coherent, and the fsync at commit covers both.
//! Where the file system refuses `O_DIRECT` (at open, or for a write's
//! alignment) the same blocks are written through the page cache, with the
//! kernel's writeback started every [`WRITEBACK_STEP`] so that the fsync at
//! commit waits for the last stretch only.
//!
//! Memory per upload: the queued frames (each at most hyper's read buffer, a few
//! hundred KiB) and [`BLOCKS`] blocks, about 5 MiB however fast the client sends.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::mpsc;

use bytes::Bytes;
use futures_util::StreamExt;
use memmap2::MmapMut;

use super::super::{ByteStream, Result, StorageError};
use super::not_found_as_none;
use crate::digest::Hasher;

/// Frames queued between the connection and the hashing thread (each at most
/// hyper's read buffer, about 400 KiB); the hashing thread keeps up with the
/// socket, so a short queue is enough and keeps an upload's memory low. (Two
/// frames and 512 KiB blocks saved 2.5 MiB of peak RSS but cost 20-40% of a 1 GiB
/// upload's speed: docs/design.md, "Peak memory of a 1 GiB upload".)
const PIPELINE_FRAMES: usize = 4;
/// The unit of a direct write: large enough that the disk sees few, long
/// requests (1 MiB runs as fast as 4 or 16 MiB here), small enough that
/// [`BLOCKS`] of them keep an upload's memory low.
pub(super) const BLOCK: usize = 1024 * 1024;
/// Blocks per upload: one filling, one being written, one queued.
const BLOCKS: usize = 3;
/// The hashing thread copies a frame into its block this many bytes at a time
/// and hashes each piece right after copying it, while the piece is still in
/// the core's L1/L2 cache. Hashing the frame where hyper left it ran at 1.1-1.3
/// GB/s here, copying and then hashing the copy at 1.5-1.6 (docs/design.md,
/// "Copy, then hash").
const PIECE: usize = 64 * 1024;
/// File offsets and lengths of direct writes are multiples of this (the page
/// size, which covers every disk's logical block size).
const ALIGN: u64 = 4096;
/// When writing through the page cache, the kernel's writeback is started every
/// this many bytes, so dirty pages never pile up.
const WRITEBACK_STEP: u64 = 8 * 1024 * 1024;

/// How an upload's bytes reach the file.
#[derive(Debug, Clone, Copy)]
pub(super) struct WriteOptions {
    /// Start writeback as the upload goes (the store fsyncs at commit).
    pub fsync: bool,
    /// Try `O_DIRECT` for whole blocks; false writes everything through the
    /// page cache (the fallback, also what the tests force to cover it).
    pub direct: bool,
}

/// The upload file, opened for buffered writes and, where the file system
/// allows it, a second time with `O_DIRECT`.
struct Target {
    buffered: File,
    direct: Option<File>,
    /// The file's size before this append: where a failed append cuts it back to.
    start: u64,
}

impl Target {
    fn open(path: &std::path::Path, options: WriteOptions) -> io::Result<Target> {
        let buffered = OpenOptions::new().write(true).open(path)?;
        let start = buffered.metadata()?.len();
        let direct = if options.direct {
            open_direct(path)
        } else {
            None
        };
        Ok(Target {
            buffered,
            direct,
            start,
        })
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &std::path::Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
    {
        Ok(file) => Some(file),
        Err(e) => {
            tracing::debug!(error = %e, "O_DIRECT refused; the upload is written through the page cache");
            None
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &std::path::Path) -> Option<File> {
    None
}

/// Append `data` to the upload file at `path`, feeding every byte to `hasher`;
/// the new size. All or nothing: if the stream or a write fails, the file is
/// cut back to its previous size and `hasher` is left untouched.
pub(super) async fn append(
    path: PathBuf,
    id: &str,
    mut data: ByteStream,
    hasher: &mut Hasher,
    options: WriteOptions,
) -> Result<u64> {
    let target = tokio::task::spawn_blocking(move || Target::open(&path, options))
        .await
        .map_err(io::Error::other)?;
    let target =
        not_found_as_none(target)?.ok_or_else(|| StorageError::UploadNotFound(id.to_string()))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(PIPELINE_FRAMES);
    let stages = tokio::task::spawn_blocking({
        let scratch = hasher.clone();
        move || {
            let outcome = hash_and_write(&target, scratch, rx, options.fsync);
            (target, outcome)
        }
    });
    // The network side only reads and hands frames on: the next frames arrive
    // while the other threads hash and write the earlier ones.
    let mut body_error = None;
    while let Some(chunk) = data.next().await {
        match chunk {
            Ok(chunk) => {
                if tx.send(chunk).await.is_err() {
                    break; // the stages failed; their error is below
                }
            }
            Err(e) => {
                body_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let (target, outcome) = stages.await.map_err(io::Error::other)?;
    let outcome = match body_error {
        Some(e) => Err(StorageError::Body(e)),
        None => outcome.map_err(StorageError::Io),
    };
    match outcome {
        Ok((scratch, end)) => {
            *hasher = scratch;
            Ok(end)
        }
        Err(e) => {
            // All or nothing: cut back whatever part of this body reached the file.
            let _ =
                tokio::task::spawn_blocking(move || target.buffered.set_len(target.start)).await;
            Err(e)
        }
    }
}

/// The hashing stage, on the calling (blocking) thread, with the writing stage
/// on a second thread started at the first full block (a small body never
/// starts one). Returns the hasher and the file's new size.
fn hash_and_write(
    target: &Target,
    mut hasher: Hasher,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
    fsync: bool,
) -> io::Result<(Hasher, u64)> {
    std::thread::scope(|scope| {
        let mut pos = target.start;
        let mut pool = Pool::default();
        // The block being filled, and the file offset it starts at.
        let mut filling: Option<(MmapMut, usize, u64)> = None;
        let mut writer = None;
        let mut sink = Some(Sink {
            buffered: &target.buffered,
            direct: target.direct.as_ref(),
            fsync,
            writeback_from: target.start,
        });
        let hashed = (|| -> io::Result<()> {
            while let Some(frame) = rx.blocking_recv() {
                let mut rest = &frame[..];
                while !rest.is_empty() {
                    let (block, fill, _) = match &mut filling {
                        Some(f) => f,
                        None if target.direct.is_some() && !pos.is_multiple_of(ALIGN) => {
                            // Up to the next 4 KiB boundary through the page cache,
                            // so that every block after it is aligned.
                            let n = ((ALIGN - pos % ALIGN) as usize).min(rest.len());
                            hasher.update(&rest[..n]);
                            target.buffered.write_all_at(&rest[..n], pos)?;
                            pos += n as u64;
                            rest = &rest[n..];
                            continue;
                        }
                        None => filling.insert((pool.take()?, 0, pos)),
                    };
                    // Copy first, then hash the copy while it is in this core's
                    // cache: the frame was written by another core, and the copy
                    // fetches it from there much faster than the hash's own reads.
                    let n = (BLOCK - *fill).min(rest.len()).min(PIECE);
                    let piece = &mut block[*fill..*fill + n];
                    piece.copy_from_slice(&rest[..n]);
                    hasher.update(piece);
                    *fill += n;
                    pos += n as u64;
                    rest = &rest[n..];
                    if *fill == BLOCK {
                        let (block, _, at) = filling.take().expect("a block is filling");
                        let blocks = match &writer {
                            Some((blocks, _)) => blocks,
                            None => {
                                let (to_writer, blocks) = mpsc::sync_channel(BLOCKS);
                                let (back, returned) = mpsc::channel();
                                pool.returned = Some(returned);
                                let mut sink = sink.take().expect("one writer per append");
                                let handle = scope.spawn(move || sink.write_blocks(blocks, back));
                                &writer.insert((to_writer, handle)).0
                            }
                        };
                        if blocks.send((block, at)).is_err() {
                            return Err(writer_stopped()); // its own error is below
                        }
                    }
                }
            }
            Ok(())
        })();
        let written = match writer {
            Some((blocks, handle)) => {
                drop(blocks);
                handle
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("the upload writer panicked")))
            }
            None => Ok(()),
        };
        // The writer's error is the cause of a hashing stage's `writer_stopped`.
        written?;
        hashed?;
        // The last, partial block (and all of a body smaller than a block).
        if let Some((block, fill, at)) = filling {
            target.buffered.write_all_at(&block[..fill], at)?;
        }
        Ok((hasher, pos))
    })
}

fn writer_stopped() -> io::Error {
    io::Error::other("the upload writer stopped")
}

/// Blocks for one append: allocated as needed up to [`BLOCKS`], then reused as
/// the writer hands them back. Anonymous maps: page-aligned, as `O_DIRECT` wants.
#[derive(Default)]
struct Pool {
    allocated: usize,
    returned: Option<mpsc::Receiver<MmapMut>>,
}

impl Pool {
    fn take(&mut self) -> io::Result<MmapMut> {
        if let Some(Ok(block)) = self.returned.as_ref().map(|r| r.try_recv()) {
            return Ok(block);
        }
        if self.allocated < BLOCKS {
            self.allocated += 1;
            return MmapMut::map_anon(BLOCK);
        }
        // All blocks are with the writer: wait for one. The writer holds the only
        // sender, so this ends when it returns a block or stops.
        match &self.returned {
            Some(returned) => returned.recv().map_err(|_| writer_stopped()),
            None => Err(writer_stopped()),
        }
    }
}

/// Where the writing thread puts whole blocks.
struct Sink<'a> {
    buffered: &'a File,
    direct: Option<&'a File>,
    fsync: bool,
    /// Bytes from here on were written through the page cache without their
    /// writeback having been started yet.
    writeback_from: u64,
}

impl Sink<'_> {
    fn write_blocks(
        &mut self,
        blocks: mpsc::Receiver<(MmapMut, u64)>,
        back: mpsc::Sender<MmapMut>,
    ) -> io::Result<()> {
        for (block, at) in blocks {
            self.write(&block, at)?;
            let _ = back.send(block); // the hashing stage may have stopped already
        }
        Ok(())
    }

    fn write(&mut self, data: &[u8], at: u64) -> io::Result<()> {
        if let Some(direct) = self.direct {
            match direct.write_all_at(data, at) {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    // The file system takes O_DIRECT at open but not these writes
                    // (its block size is larger than ours, or it does not really
                    // support it): the rest goes through the page cache.
                    tracing::debug!(error = %e, "O_DIRECT write refused; writing through the page cache");
                    self.direct = None;
                }
                Err(e) => return Err(e),
            }
        }
        self.buffered.write_all_at(data, at)?;
        let end = at + data.len() as u64;
        if self.fsync && end - self.writeback_from >= WRITEBACK_STEP {
            start_writeback(
                self.buffered,
                self.writeback_from,
                end - self.writeback_from,
            );
            self.writeback_from = end;
        }
        Ok(())
    }
}

/// Ask the kernel to start writing `[offset, offset+len)` to disk now, without
/// waiting (Linux's `sync_file_range(SYNC_FILE_RANGE_WRITE)`); elsewhere a no-op.
/// Only an early start: durability still comes from the fsync at commit.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on a file descriptor we own; no memory is passed.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Algorithm;

    /// Deterministic bytes that differ at every offset within a block's reach.
    fn bytes(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    /// A body cut into frames of the given sizes (cycled), optionally ending in an error.
    fn body(data: &[u8], frames: &[usize], fail: bool) -> ByteStream {
        let mut items = Vec::new();
        let (mut at, mut i) = (0, 0);
        while at < data.len() {
            let n = frames[i % frames.len()].min(data.len() - at);
            items.push(Ok(Bytes::copy_from_slice(&data[at..at + n])));
            at += n;
            i += 1;
        }
        if fail {
            items.push(Err(io::Error::new(io::ErrorKind::ConnectionReset, "cut")));
        }
        Box::pin(futures_util::stream::iter(items))
    }

    /// Appends of sizes that start and end off every boundary (4 KiB, a block),
    /// in frames of awkward sizes, through `O_DIRECT` and through the page cache:
    /// the file holds exactly the bytes sent, in order, and the running hash is
    /// the hash of those bytes.
    #[tokio::test]
    async fn appends_keep_every_byte_in_order_on_both_write_paths() {
        let parts = [
            1,
            4095,
            5000,
            BLOCK + 3,
            3 * BLOCK + 4097,
            2 * BLOCK,
            BLOCK - 1,
            17,
        ];
        for direct in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("upload");
            std::fs::File::create(&path).unwrap();
            let options = WriteOptions {
                fsync: true,
                direct,
            };
            let mut hasher = Algorithm::Sha256.hasher();
            let mut sent = Vec::new();
            for (i, len) in parts.into_iter().enumerate() {
                let data = bytes(len, i as u32 + 1);
                let frames = [65_536 + 3, 7, 400_000, 1];
                let end = append(
                    path.clone(),
                    "id",
                    body(&data, &frames, false),
                    &mut hasher,
                    options,
                )
                .await
                .unwrap();
                sent.extend_from_slice(&data);
                assert_eq!(end, sent.len() as u64, "direct={direct} part {i}");
            }
            assert!(
                std::fs::read(&path).unwrap() == sent,
                "direct={direct}: file differs from what was sent"
            );
            let mut whole = Algorithm::Sha256.hasher();
            whole.update(&sent);
            assert_eq!(hasher.finish(), whole.finish(), "direct={direct}");
        }
    }

    /// A body that fails after several blocks have reached the disk leaves the
    /// file and the hash as they were before it.
    #[tokio::test]
    async fn a_failed_body_leaves_the_upload_as_it_was() {
        for direct in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("upload");
            let before = bytes(BLOCK + 1234, 9);
            std::fs::write(&path, &before).unwrap();
            let mut hasher = Algorithm::Sha256.hasher();
            hasher.update(&before);
            let options = WriteOptions {
                fsync: false,
                direct,
            };
            let cut = append(
                path.clone(),
                "id",
                body(&bytes(5 * BLOCK + 99, 3), &[300_000], true),
                &mut hasher,
                options,
            )
            .await;
            assert!(
                matches!(cut, Err(StorageError::Body(_))),
                "direct={direct}: {cut:?}"
            );
            assert!(
                std::fs::read(&path).unwrap() == before,
                "direct={direct}: file changed"
            );
            let mut expected = Algorithm::Sha256.hasher();
            expected.update(&before);
            assert_eq!(hasher.finish(), expected.finish(), "direct={direct}");
        }
    }

    #[tokio::test]
    async fn an_upload_file_that_is_gone_is_an_unknown_upload() {
        let dir = tempfile::tempdir().unwrap();
        let mut hasher = Algorithm::Sha256.hasher();
        let options = WriteOptions {
            fsync: false,
            direct: true,
        };
        let got = append(
            dir.path().join("gone"),
            "gone",
            body(b"x", &[1], false),
            &mut hasher,
            options,
        )
        .await;
        assert!(matches!(got, Err(StorageError::UploadNotFound(id)) if id == "gone"));
    }
}
