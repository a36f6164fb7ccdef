//! Streams one layer tar (plain, gzip or zstd) into the merged [`ImageFs`], keeping only the
//! entries analyzers want. Damaged or hostile entries become warnings; the stream is never
//! unpacked to disk.

use std::io::{self, BufRead, BufReader, Read};

use sha2::{Digest, Sha256};

use super::Limits;
use super::fs::{ImageFs, Node, clean_path};
use crate::Warnings;
use crate::analyzers::{self, Capture};

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
pub fn apply_layer<R: Read>(
    fs: &mut ImageFs,
    reader: R,
    layer: usize,
    name: &str,
    limits: &Limits,
    warnings: &mut Warnings,
) {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    let magic = match buffered.fill_buf() {
        Ok(b) => b.get(..4).unwrap_or(b).to_vec(),
        Err(e) => {
            warnings.push(format!("layer {name}: cannot read: {e}"));
            return;
        }
    };
    let decoded: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else if magic.starts_with(&super::zstd::MAGIC) {
        Box::new(super::zstd::MultiFrame::new(buffered))
    } else {
        Box::new(buffered)
    };
    let budget = Budget {
        inner: decoded,
        used: 0,
        max: limits.max_layer_bytes,
    };
    let mut archive = tar::Archive::new(budget);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            warnings.push(format!("layer {name}: not a tar stream: {e}"));
            return;
        }
    };
    let mut count = 0u64;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!(
                    "layer {name}: truncated or corrupt tar after {count} entries: {e}"
                ));
                return;
            }
        };
        count += 1;
        if count > limits.max_entries {
            warnings.push(format!(
                "layer {name}: more than {} entries; rest ignored",
                limits.max_entries
            ));
            return;
        }
        let raw_path = match entry.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) => {
                warnings.push(format!(
                    "layer {name}: entry with unreadable path skipped: {e}"
                ));
                continue;
            }
        };
        let Some(path) = clean_path(&raw_path) else {
            if raw_path.split('/').any(|c| c == "..") {
                warnings.push(format!(
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
            match dir {
                Some(d) => fs.opaque(d, layer),
                None => fs.opaque_root(layer),
            }
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let target = match dir {
                Some(d) => format!("{d}/{hidden}"),
                None => hidden.to_string(),
            };
            if clean_path(&target).as_deref() == Some(target.as_str()) {
                fs.whiteout(&target);
            } else {
                warnings.push(format!("layer {name}: bad whiteout {raw_path:?}"));
            }
            continue;
        }
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0);
        let size = header.size().unwrap_or(0);
        match kind {
            tar::EntryType::Directory => fs.replace(&path, Some(Node::Dir { layer })),
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                fs.replace(&path, Some(Node::Symlink { target, layer }));
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
                    Some(t) => {
                        let copy = match (fs.node(&t), analyzers::classify(&path, mode, size)) {
                            (Some(n @ (Node::File { .. } | Node::Binary { .. })), c)
                                if c != Capture::Skip =>
                            {
                                let mut n = n.clone();
                                set_layer(&mut n, layer);
                                Some(n)
                            }
                            _ => None,
                        };
                        fs.replace(&path, copy);
                    }
                    None => {
                        warnings.push(format!("layer {name}: hard link {raw_path:?} -> {target:?} points outside the image; skipped"));
                        fs.replace(&path, None);
                    }
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let node = match analyzers::classify(&path, mode, size) {
                    Capture::Skip => None,
                    Capture::Content => {
                        if size > limits.max_file_size {
                            warnings.push(format!("layer {name}: {path} is {size} bytes, over the {} byte limit; skipped", limits.max_file_size));
                            None
                        } else if fs.captured_bytes + size > limits.max_total_capture {
                            warnings.push(format!(
                                "layer {name}: {path} skipped: total captured data over {} bytes",
                                limits.max_total_capture
                            ));
                            None
                        } else {
                            let mut data = Vec::with_capacity(size as usize);
                            match (&mut entry).take(size).read_to_end(&mut data) {
                                Ok(_) => Some(Node::File { data, layer }),
                                Err(e) => {
                                    warnings.push(format!(
                                        "layer {name}: {path}: {e}; layer truncated"
                                    ));
                                    return;
                                }
                            }
                        }
                    }
                    Capture::Binary => match analyzers::binary::inspect_stream(
                        &path,
                        &mut entry,
                        size,
                        limits.max_binary_size,
                    ) {
                        Ok(Some(facts)) => Some(Node::Binary {
                            facts: Box::new(facts),
                            layer,
                        }),
                        Ok(None) => None,
                        Err(e) => {
                            warnings.push(format!("layer {name}: {path}: {e}; layer truncated"));
                            return;
                        }
                    },
                };
                fs.replace(&path, node);
            }
            // Devices, fifos, PAX/GNU metadata the tar crate did not fold in: no content.
            _ => fs.replace(&path, None),
        }
    }
}

fn set_layer(n: &mut Node, l: usize) {
    match n {
        Node::File { layer, .. }
        | Node::Binary { layer, .. }
        | Node::Symlink { layer, .. }
        | Node::Dir { layer } => *layer = l,
    }
}
