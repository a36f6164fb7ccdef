//! A layer's bytes handed from one thread to another in large chunks.
//!
//! Inflating a gzip layer is most of an inventory's time (a 51 MB Debian base layer is
//! 121 MB of tar), and gzip can only be inflated in order, by one thread. Everything else
//! (reading and hashing the blob before it; walking the tar, keeping files, looking for
//! build info and secrets after it) then runs beside it on other cores instead of
//! before and after it, chunk by chunk. [`PipeReader`] hands its chunks out as they are
//! (`BufRead`) and seeks forward by dropping bytes it already holds, so neither the
//! inflater's input nor the bodies the tar walker skips are copied again.

use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

/// Bytes per hand-over: large enough that a layer of 100 MB is a few hundred hand-overs.
const CHUNK: usize = 256 * 1024;
/// Chunks inflated ahead of the reader (memory held: about `(DEPTH + 2) * CHUNK`).
const DEPTH: usize = 4;

struct Chunk {
    buf: Box<[u8]>,
    len: usize,
}

/// Runs `consume` on a second thread over everything `source` yields, while `source` is
/// read on the calling thread (so it need not be `Send`: a tar entry of a docker archive,
/// a blob stream). A read error of `source` reaches `consume` after the bytes before it.
/// Once `consume` returns, `source` is read no further.
/// `stage` names the thread (`ps -T`, profilers).
pub(crate) fn pipelined<T: Send>(
    stage: &str,
    source: &mut dyn Read,
    consume: impl FnOnce(&mut PipeReader) -> T + Send,
) -> T {
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel(DEPTH);
        let (back, spare) = channel();
        let worker = std::thread::Builder::new().name(stage.into());
        // Failing to start a thread is as fatal here as in `Scope::spawn`.
        let worker = worker
            .spawn_scoped(s, move || {
                let mut reader = PipeReader {
                    rx,
                    back,
                    cur: None,
                    off: 0,
                    pos: 0,
                    failed: None,
                };
                consume(&mut reader)
            })
            .expect("cannot start a thread");
        pump(source, &tx, &spare);
        drop(tx);
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Fills chunks from `source` and sends them until it ends, fails, or nobody listens.
fn pump(source: &mut dyn Read, tx: &SyncSender<io::Result<Chunk>>, spare: &Receiver<Box<[u8]>>) {
    loop {
        let mut buf = spare
            .try_recv()
            .unwrap_or_else(|_| vec![0u8; CHUNK].into_boxed_slice());
        let mut len = 0;
        let mut failure = None;
        while len < buf.len() {
            match source.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let full = len == buf.len();
        if len > 0 && tx.send(Ok(Chunk { buf, len })).is_err() {
            return;
        }
        if let Some(e) = failure {
            let _ = tx.send(Err(e));
            return;
        }
        if !full {
            return;
        }
    }
}

/// The receiving end: a forward-only stream (`Seek` accepts only `SeekFrom::Current(n ≥ 0)`).
pub(crate) struct PipeReader {
    rx: Receiver<io::Result<Chunk>>,
    back: Sender<Box<[u8]>>,
    cur: Option<Chunk>,
    off: usize,
    pos: u64,
    /// The source's error, repeated to any later read.
    failed: Option<(io::ErrorKind, String)>,
}

impl PipeReader {
    /// The unread part of the current chunk, fetching the next one when it is used up;
    /// empty at the end of the stream.
    fn available(&mut self) -> io::Result<&[u8]> {
        if self.cur.as_ref().is_some_and(|c| self.off == c.len) {
            let done = self.cur.take().map(|c| c.buf);
            if let Some(buf) = done {
                // The sender may be gone already; the buffer is then simply dropped.
                let _ = self.back.send(buf);
            }
        }
        if self.cur.is_none() {
            if let Some((kind, msg)) = &self.failed {
                return Err(io::Error::new(*kind, msg.clone()));
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = Some(chunk);
                    self.off = 0;
                }
                Ok(Err(e)) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
                Err(_) => return Ok(&[]),
            }
        }
        Ok(self
            .cur
            .as_ref()
            .map(|c| &c.buf[self.off..c.len])
            .unwrap_or_default())
    }

    fn advance(&mut self, n: usize) {
        self.off += n;
        self.pos += n as u64;
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.available()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.advance(n);
        Ok(n)
    }
}

impl BufRead for PipeReader {
    /// The current chunk, as it is: the inflater reads compressed bytes straight from it.
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.available()
    }

    fn consume(&mut self, n: usize) {
        let held = self.cur.as_ref().map_or(0, |c| c.len - self.off);
        self.advance(n.min(held));
    }
}

impl Seek for PipeReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let mut left = match pos {
            SeekFrom::Current(n) if n >= 0 => n as u64,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "a layer stream only skips forward",
                ));
            }
        };
        while left > 0 {
            let avail = self.available()?.len();
            if avail == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "unexpected EOF during skip",
                ));
            }
            let n = avail.min(usize::try_from(left).unwrap_or(usize::MAX));
            self.advance(n);
            left -= n as u64;
        }
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields `data` in uneven pieces, then fails if `fail` is set.
    struct Source {
        data: Vec<u8>,
        at: usize,
        fail: bool,
    }

    impl Read for Source {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return if self.fail {
                    Err(io::Error::other("inflate failed"))
                } else {
                    Ok(0)
                };
            }
            let n = buf.len().min(7919).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn everything_arrives_in_order_across_chunks() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 123] {
            let want = data(len);
            let mut src = Source {
                data: want.clone(),
                at: 0,
                fail: false,
            };
            let got = pipelined("test", &mut src, |r| {
                let mut v = Vec::new();
                r.read_to_end(&mut v).map(|_| v)
            })
            .unwrap();
            assert!(got == want, "length {len}");
        }
    }

    #[test]
    fn skips_land_where_reads_would() {
        let want = data(3 * CHUNK + 10);
        let mut src = Source {
            data: want.clone(),
            at: 0,
            fail: false,
        };
        let (pos, byte, tail_err) = pipelined("test", &mut src, |r| {
            let pos = r.seek(SeekFrom::Current(CHUNK as i64 + 5)).unwrap();
            let mut b = [0u8; 1];
            r.read_exact(&mut b).unwrap();
            // past the end: an error, as a truncated archive must give
            let tail = r.seek(SeekFrom::Current(3 * CHUNK as i64)).unwrap_err();
            (pos, b[0], tail.kind())
        });
        assert_eq!(pos, CHUNK as u64 + 5);
        assert_eq!(byte, want[CHUNK + 5]);
        assert_eq!(tail_err, io::ErrorKind::UnexpectedEof);
        assert!(
            pipelined("test", &mut io::empty(), |r| r.seek(SeekFrom::Start(0))).is_err(),
            "only forward skips"
        );
    }

    #[test]
    fn a_source_error_follows_the_bytes_before_it() {
        let want = data(CHUNK + 100);
        let mut src = Source {
            data: want.clone(),
            at: 0,
            fail: true,
        };
        let (got, err) = pipelined("test", &mut src, |r| {
            let mut v = vec![0u8; want.len()];
            r.read_exact(&mut v).unwrap();
            let e = r.read(&mut [0u8; 8]).unwrap_err();
            let again = r.read(&mut [0u8; 8]).unwrap_err();
            assert_eq!(again.to_string(), e.to_string());
            (v, e.to_string())
        });
        assert!(got == want);
        assert_eq!(err, "inflate failed");
    }

    #[test]
    fn a_reader_that_stops_early_stops_the_source() {
        // an endless source: the pump must end once the reader is gone
        let mut endless = io::repeat(1);
        let first = pipelined("test", &mut endless, |r| {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).unwrap();
            b
        });
        assert_eq!(first, [1; 4]);
    }
}
