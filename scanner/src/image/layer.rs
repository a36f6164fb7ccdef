//! Streams one layer tar (plain, gzip or zstd) into the merged [`ImageFs`], keeping only the
//! entries analyzers want. Damaged or hostile entries become warnings; the stream is never
//! unpacked to disk.

use std::io::{self, BufRead, Read, Seek, SeekFrom};

use sha2::{Digest, Sha256};

use super::delta::{Applier, Change, Kept};
use super::fs::{ImageFs, Node, clean_path};
use super::pipe::pipelined;
use super::{Limits, LoadOptions};
use crate::Warnings;
use crate::analyzers::{self, Capture};
use crate::secret::{self, SecretFinding};

/// Counts decompressed bytes and fails once a layer exceeds its budget (gzip bombs).
struct Budget<R> {
    inner: R,
    used: u64,
    max: u64,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.used += n as u64;
        if self.used > self.max {
            return Err(io::Error::other(format!(
                "layer exceeds {} bytes uncompressed; rest ignored",
                self.max
            )));
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for Budget<R> {
    /// Skipped bytes count as read: only forward skips are accepted.
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let SeekFrom::Current(n @ 0..) = pos else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a layer stream only skips forward",
            ));
        };
        self.used += n as u64;
        if self.used > self.max {
            return Err(io::Error::other(format!(
                "layer exceeds {} bytes uncompressed; rest ignored",
                self.max
            )));
        }
        self.inner.seek(pos)
    }
}

/// Hashes the compressed bytes as they stream past, to check the blob digest.
pub(crate) struct Hashing<R> {
    pub inner: R,
    pub hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Applies one layer. `name` labels warnings.
///
/// Three stages run side by side (see `pipe`): this thread reads the blob (and whatever
/// `reader` does as it reads: hashing, a registry's digest check), a second inflates it,
/// a third walks the tar. An uncompressed layer skips the middle stage.
pub fn apply_layer<R: Read>(
    fs: &mut ImageFs,
    reader: R,
    layer: usize,
    name: &str,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) {
    let mut to = Applier::new(fs, layer, name, opts, warnings, false);
    read_layer(&mut to, reader, name, opts);
}

/// [`apply_layer`], also returning the layer's changes when there is a layer cache
/// (`None` without one, or when they depend on the layers below: see [`Applier`]). The
/// caller stores them once the bytes read are known to match the layer's digest.
pub(crate) fn apply_layer_recorded<R: Read>(
    fs: &mut ImageFs,
    reader: R,
    layer: usize,
    name: &str,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> Option<Vec<Change>> {
    let mut to = Applier::new(fs, layer, name, opts, warnings, opts.cache.is_some());
    read_layer(&mut to, reader, name, opts);
    to.into_log()
}

/// Applies the layer with `digest` from the layer cache, if it holds it; the blob is then
/// not read at all (the cache trusts the digest: see `cache`). `digest` also names the
/// layer in warnings, as it did when the entry was made.
pub(crate) fn apply_cached(
    fs: &mut ImageFs,
    digest: &str,
    layer: usize,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> bool {
    let Some(changes) = opts.cache.as_ref().and_then(|c| c.get(digest, opts)) else {
        return false;
    };
    Applier::new(fs, layer, digest, opts, warnings, false).replay(changes);
    true
}

fn read_layer<R: Read>(to: &mut Applier<'_>, mut reader: R, name: &str, opts: &LoadOptions) {
    let max = opts.limits.max_layer_bytes;
    pipelined("layer-decode", &mut reader, |raw| {
        let magic = match raw.fill_buf() {
            Ok(b) => b.get(..4).unwrap_or(b).to_vec(),
            Err(e) => {
                to.warn(format!("layer {name}: cannot read: {e}"));
                return;
            }
        };
        let decoded: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::bufread::MultiGzDecoder::new(raw))
        } else if magic.starts_with(&super::zstd::MAGIC) {
            Box::new(super::zstd::MultiFrame::new(raw))
        } else {
            let mut plain = Budget {
                inner: raw,
                used: 0,
                max,
            };
            return walk_tar(to, &mut plain, name, opts);
        };
        let mut budget = Budget {
            inner: decoded,
            used: 0,
            max,
        };
        pipelined("layer-tar", &mut budget, |stream| {
            walk_tar(to, stream, name, opts)
        });
    });
}

/// Applies the entries of one layer's tar stream through `to`.
fn walk_tar(to: &mut Applier<'_>, stream: &mut (impl Read + Seek), name: &str, opts: &LoadOptions) {
    let limits = &opts.limits;
    let mut archive = tar::Archive::new(stream);
    // Seeking skips the bodies nobody wants without copying them (the stream only seeks
    // forward, which is all the tar reader asks of it).
    let entries = match archive.entries_with_seek() {
        Ok(e) => e,
        Err(e) => {
            to.warn(format!("layer {name}: not a tar stream: {e}"));
            return;
        }
    };
    let mut count = 0u64;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                to.warn(format!(
                    "layer {name}: truncated or corrupt tar after {count} entries: {e}"
                ));
                return;
            }
        };
        count += 1;
        if count > limits.max_entries {
            to.warn(format!(
                "layer {name}: more than {} entries; rest ignored",
                limits.max_entries
            ));
            return;
        }
        let raw_path = match entry.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) => {
                to.warn(format!(
                    "layer {name}: entry with unreadable path skipped: {e}"
                ));
                continue;
            }
        };
        let Some(path) = clean_path(&raw_path) else {
            if raw_path.split('/').any(|c| c == "..") {
                to.warn(format!(
                    "layer {name}: entry {raw_path:?} escapes the root; skipped"
                ));
            }
            continue;
        };
        // Whiteouts.
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (Some(d), b),
            None => (None, path.as_str()),
        };
        if base == ".wh..wh..opq" {
            to.change(Change::Opaque(dir.unwrap_or_default().to_string()));
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let target = match dir {
                Some(d) => format!("{d}/{hidden}"),
                None => hidden.to_string(),
            };
            if clean_path(&target).as_deref() == Some(target.as_str()) {
                to.change(Change::Whiteout(target));
            } else {
                to.warn(format!("layer {name}: bad whiteout {raw_path:?}"));
            }
            continue;
        }
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0);
        let size = header.size().unwrap_or(0);
        match kind {
            tar::EntryType::Directory => to.change(Change::Put {
                path,
                kept: Some(Kept::Dir),
            }),
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                to.change(Change::Put {
                    path,
                    kept: Some(Kept::Symlink(target)),
                });
            }
            tar::EntryType::Link => {
                // A hard link names another entry of the archive; it must stay in the tree.
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match clean_path(&target) {
                    Some(target) => to.change(Change::HardLink {
                        path,
                        target,
                        mode,
                        size,
                    }),
                    None => {
                        to.warn(format!("layer {name}: hard link {raw_path:?} -> {target:?} points outside the image; skipped"));
                        to.change(Change::Put { path, kept: None });
                    }
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let label = format!("layer {name}: {path}");
                let captured = to.fs.captured_bytes;
                if captured + size > limits.max_total_capture
                    && size <= limits.max_file_size
                    && analyzers::classify(&path, mode, size) == Capture::Content
                {
                    // dropped for what the layers below took: not this layer's own answer
                    to.incomplete();
                }
                let mut file_warnings = Warnings::default();
                let read = read_regular(
                    &label,
                    &path,
                    mode,
                    size,
                    &mut entry,
                    0,
                    captured,
                    opts,
                    &mut file_warnings,
                );
                for w in file_warnings.messages {
                    to.warn(w);
                }
                match read {
                    Ok((node, secrets)) => {
                        to.change(Change::Put {
                            path: path.clone(),
                            kept: node.map(Kept::from_node),
                        });
                        if !secrets.is_empty() {
                            to.change(Change::Secrets {
                                path,
                                findings: secrets,
                            });
                        }
                    }
                    Err(e) => {
                        to.warn(format!("{label}: {e}; layer truncated"));
                        return;
                    }
                }
            }
            // Devices, fifos, PAX/GNU metadata the tar crate did not fold in: no content.
            _ => to.change(Change::Put { path, kept: None }),
        }
    }
}

/// Reads one regular file as far as anyone wants it: the bytes an analyzer keeps (or the
/// facts found in a binary), and the secrets in it when `opts.secrets` asks for them.
/// Only a text file the secret scanner reads is held whole, and only while it is scanned.
/// `label` prefixes warnings. An error means the stream itself failed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_regular(
    label: &str,
    path: &str,
    mode: u32,
    size: u64,
    reader: &mut dyn Read,
    layer: usize,
    captured: u64,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> io::Result<(Option<Node>, Vec<SecretFinding>)> {
    let limits = &opts.limits;
    let capture = analyzers::classify(path, mode, size);
    let keep = capture == Capture::Content && {
        if size > limits.max_file_size {
            warnings.push(format!(
                "{label}: {size} bytes, over the {} byte limit; skipped",
                limits.max_file_size
            ));
            false
        } else if captured + size > limits.max_total_capture {
            warnings.push(format!(
                "{label}: skipped: total captured data over {} bytes",
                limits.max_total_capture
            ));
            false
        } else {
            true
        }
    };
    let scanner = secret::Scanner::builtin;
    let secrets = opts.secrets && scanner().wants(path, size) && {
        if size > secret::MAX_FILE_SIZE {
            warnings.push(format!(
                "{label}: {size} bytes, not read for secrets (over {} bytes)",
                secret::MAX_FILE_SIZE
            ));
            false
        } else {
            true
        }
    };
    if secrets {
        let mut data = Vec::with_capacity(size.min(secret::HEAD_SIZE as u64) as usize);
        reader
            .take(secret::HEAD_SIZE as u64)
            .read_to_end(&mut data)?;
        if !secret::is_binary(&data) {
            // text: read whole, scan; an executable script has no embedded package data
            data.reserve(size as usize - data.len());
            reader
                .take(size - data.len() as u64)
                .read_to_end(&mut data)?;
            let found = scanner().scan(&data);
            let node = keep.then_some(Node::File { data, layer });
            return Ok((node, found));
        }
        let mut rest = io::Cursor::new(data).chain(reader);
        return Ok((
            capture_node(capture, keep, path, size, &mut rest, layer, limits)?,
            Vec::new(),
        ));
    }
    Ok((
        capture_node(capture, keep, path, size, reader, layer, limits)?,
        Vec::new(),
    ))
}

/// What an analyzer keeps of a file: its bytes, or the package data found in a binary.
fn capture_node(
    capture: Capture,
    keep: bool,
    path: &str,
    size: u64,
    reader: &mut dyn Read,
    layer: usize,
    limits: &Limits,
) -> io::Result<Option<Node>> {
    match capture {
        Capture::Content if keep => {
            let mut data = Vec::with_capacity(size as usize);
            reader.take(size).read_to_end(&mut data)?;
            Ok(Some(Node::File { data, layer }))
        }
        Capture::Binary => {
            Ok(
                analyzers::binary::inspect_stream(path, reader, size, limits.max_binary_size)?.map(
                    |facts| Node::Binary {
                        facts: Box::new(facts),
                        layer,
                    },
                ),
            )
        }
        Capture::Content | Capture::Skip => Ok(None),
    }
}
