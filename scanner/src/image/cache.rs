//! The layer cache: what the tar walk made of each layer (the changes it applies to the
//! merged view: kept files, binary facts, whiteouts, secrets, warnings; see `delta`), kept
//! on disk so a layer analysed once is never read again — the same base layer under
//! thousands of images is inflated and walked once. Trivy's `fs` scan cache does the same,
//! keyed by layer ID and analyzer versions.
//!
//! **A hit trusts the digest.** The key is the layer's content address (the compressed
//! blob digest for OCI layouts and registries, the diff ID for `docker save` archives)
//! plus [`ANALYSIS_VERSION`], the crate version, a hash of the crate's sources and the
//! options that decide what is kept
//! ([`Limits`](super::Limits), secrets or not). On a hit the blob is not opened at all, so a
//! blob of an `oci:` layout on disk is not re-hashed: a layout whose blob no longer matches
//! its name gets the analysis of the blob that did. Trivy behaves the same. What guards the
//! cache itself is that an entry is only ever written after the bytes just read hashed to
//! the digest it is stored under, so a lying manifest or config cannot plant an analysis
//! under another layer's digest. In the registry the digests are content addresses it
//! verified at push. (That is why blobs are keyed by their compressed digest rather than
//! by the config's diff ID, as Trivy does: checking a diff ID on a miss would mean hashing
//! every inflated byte, the bodies the walk skips included.)
//!
//! One file per entry (`<key>` = hex SHA-256 of the key material): a header (magic, payload
//! length, SHA-256 of the payload) and the payload (postcard). Written to a temporary file
//! and renamed into place, so readers (other scans, other processes) see whole entries or
//! none; an entry that is short, corrupt or for another digest is a miss (logged at debug
//! and removed), never data. The total size is bounded: the least recently used entries
//! (by modification time, which a hit refreshes) go first.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::LoadOptions;
use super::blobs::valid_digest;
use super::delta::Change;

/// Default bound on the cache's total size.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// Bump whenever what is kept of a layer could change for the same bytes: the walk's
/// filter (`analyzers::classify`, `read_regular`), binary inspection, the secret rules,
/// the [`Change`] encoding. The crate version and a hash of the crate's sources are part
/// of the key as well, so a forgotten bump costs a cold cache, never a stale answer.
pub const ANALYSIS_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"WHLAYER1";
/// Magic, payload length (u64 LE), SHA-256 of the payload.
const HEADER: usize = 8 + 8 + 32;
/// Temporary files older than this are left over by a killed writer.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// Counts since the cache was opened (for logs, benchmarks and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Layers taken from the cache (their blobs were not read).
    pub hits: u64,
    /// Layers looked up and not found (or found unusable), then read.
    pub misses: u64,
    /// Entries written.
    pub stored: u64,
}

/// A directory of layer analyses, bounded in size. Shared by concurrent scans
/// (`Arc<LayerCache>` in [`LoadOptions`]) and safe to share between processes.
#[derive(Debug)]
pub struct LayerCache {
    dir: PathBuf,
    max_bytes: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    stored: AtomicU64,
    seq: AtomicU64,
}

#[derive(Serialize)]
struct EntryRef<'a> {
    digest: &'a str,
    changes: &'a [Change],
}

#[derive(Deserialize)]
struct Entry {
    digest: String,
    changes: Vec<Change>,
}

/// `$XDG_CACHE_HOME/wharf`, else `~/.cache/wharf` (Trivy's is `~/.cache/trivy`).
pub fn default_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("wharf")
}

/// Where a cache directory (`--cache-dir`) keeps layer analyses.
pub fn layers_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("layers")
}

/// Removes every entry of the cache at `dir` (and `dir` if it is then empty). Returns the
/// number of files and bytes removed; a missing directory is an empty cache.
pub fn clear(dir: &Path) -> io::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let list = match fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(e),
    };
    for e in list {
        let e = e?;
        if !is_entry_name(&e.file_name().to_string_lossy()) && !is_temp_name(&e) {
            continue; // not ours: left alone
        }
        let len = e.metadata().map(|m| m.len()).unwrap_or(0);
        match fs::remove_file(e.path()) {
            Ok(()) => {
                files += 1;
                bytes += len;
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    let _ = fs::remove_dir(dir);
    Ok((files, bytes))
}

fn is_entry_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_temp_name(e: &fs::DirEntry) -> bool {
    e.file_name().to_string_lossy().starts_with(".tmp-")
}

impl LayerCache {
    /// Opens (creating) the cache at `dir`, bounded to `max_bytes` in all.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> io::Result<LayerCache> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(LayerCache {
            dir,
            max_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            seq: AtomicU64::new(0),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stats(&self) -> Stats {
        Stats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
        }
    }

    /// Largest single entry stored: one huge layer must not push out everything else.
    fn max_entry(&self) -> u64 {
        self.max_bytes / 8
    }

    /// The entry file of a layer as `opts` would analyse it.
    fn path(&self, digest: &str, opts: &LoadOptions) -> PathBuf {
        let mut h = Sha256::new();
        h.update(b"wharf-scanner layer cache\0");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update([0]);
        // the crate's own sources (build.rs): any change to them starts a fresh cache
        h.update(env!("WHARF_SCANNER_SOURCE_HASH").as_bytes());
        h.update(ANALYSIS_VERSION.to_le_bytes());
        let l = &opts.limits;
        for v in [
            l.max_file_size,
            l.max_total_capture,
            l.max_binary_size,
            l.max_layer_bytes,
            l.max_entries,
        ] {
            h.update(v.to_le_bytes());
        }
        h.update([u8::from(opts.secrets)]);
        h.update(digest.as_bytes());
        self.dir.join(hex::encode(h.finalize()))
    }

    /// The changes of the layer with `digest`, if an intact entry holds them.
    pub(crate) fn get(&self, digest: &str, opts: &LoadOptions) -> Option<Vec<Change>> {
        if !valid_digest(digest) {
            return None;
        }
        let path = self.path(digest, opts);
        let found = match fs::read(&path) {
            Ok(bytes) => decode(&bytes, digest),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%digest, "layer cache miss");
                return None;
            }
            Err(e) => Err(e.to_string()),
        };
        match found {
            Ok(changes) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%digest, "layer cache hit: blob not read");
                // recently used: eviction goes by modification time
                if let Ok(f) = File::options().write(true).open(&path) {
                    let _ = f.set_modified(SystemTime::now());
                }
                Some(changes)
            }
            Err(why) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%digest, path = %path.display(), "layer cache entry unusable ({why}); reading the layer");
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores the changes of the layer with `digest`. Callers store only what they read
    /// from bytes that hashed to `digest`. Failures are logged, never the scan's.
    pub(crate) fn put(&self, digest: &str, opts: &LoadOptions, changes: &[Change]) {
        if !valid_digest(digest) {
            return;
        }
        let payload = match postcard::to_stdvec(&EntryRef { digest, changes }) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(%digest, "layer cache: cannot encode: {e}");
                return;
            }
        };
        let size = (HEADER + payload.len()) as u64;
        if size > self.max_entry() {
            tracing::debug!(%digest, size, "layer cache: entry larger than an eighth of the cache; not stored");
            return;
        }
        let path = self.path(digest, opts);
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&(payload.len() as u64).to_le_bytes())?;
            f.write_all(&Sha256::digest(&payload))?;
            f.write_all(&payload)?;
            drop(f);
            fs::rename(&tmp, &path)
        })();
        match written {
            Ok(()) => {
                self.stored.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%digest, size, "layer cache: stored");
                self.evict();
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                tracing::warn!(%digest, dir = %self.dir.display(), "layer cache: cannot store: {e}");
            }
        }
    }

    /// Removes least recently used entries until the cache fits its bound (and temporary
    /// files a killed writer left behind).
    fn evict(&self) {
        let Ok(list) = fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        for e in list.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            let modified = meta.modified().unwrap_or(now);
            if is_temp_name(&e) {
                if now.duration_since(modified).unwrap_or_default() > STALE_TEMP {
                    let _ = fs::remove_file(e.path());
                }
                continue;
            }
            if is_entry_name(&e.file_name().to_string_lossy()) {
                entries.push((modified, meta.len(), e.path()));
            }
        }
        let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
        if total <= self.max_bytes {
            return;
        }
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                tracing::debug!(path = %path.display(), "layer cache: evicted");
            }
            total -= len;
        }
    }
}

/// An entry's changes, or why it cannot be used.
fn decode(bytes: &[u8], digest: &str) -> Result<Vec<Change>, String> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err("not an entry of this format".into());
    }
    let declared = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let payload = &bytes[HEADER..];
    if declared != payload.len() as u64 {
        return Err(format!("truncated: {} of {declared} bytes", payload.len()));
    }
    if Sha256::digest(payload)[..] != bytes[16..HEADER] {
        return Err("checksum mismatch".into());
    }
    let entry: Entry = postcard::from_bytes(payload).map_err(|e| e.to_string())?;
    if entry.digest != digest {
        return Err(format!("entry is for {}", entry.digest));
    }
    Ok(entry.changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::delta::Kept;

    const A: &str = "sha256:aaaa";
    const B: &str = "sha256:bbbb";
    const C: &str = "sha256:cccc";

    fn changes(n: usize) -> Vec<Change> {
        vec![Change::Put {
            path: "var/lib/dpkg/status".into(),
            kept: Some(Kept::File(vec![b'x'; n])),
        }]
    }

    fn set_age(cache: &LayerCache, digest: &str, secs_ago: u64) {
        let f = File::options()
            .write(true)
            .open(cache.path(digest, &LoadOptions::default()))
            .unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs_ago))
            .unwrap();
    }

    #[test]
    fn round_trip_and_options_are_part_of_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
        let opts = LoadOptions::default();
        assert!(cache.get(A, &opts).is_none());
        cache.put(A, &opts, &changes(10));
        let got = cache.get(A, &opts).expect("hit");
        assert!(
            matches!(&got[..], [Change::Put { kept: Some(Kept::File(d)), .. }] if d.len() == 10)
        );
        let secrets = LoadOptions {
            secrets: true,
            ..Default::default()
        };
        assert!(cache.get(A, &secrets).is_none(), "secrets change the key");
        assert!(cache.get(B, &opts).is_none());
        assert_eq!(
            cache.stats(),
            Stats {
                hits: 1,
                misses: 3,
                stored: 1
            }
        );
    }

    #[test]
    fn damaged_entries_are_misses_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
        let opts = LoadOptions::default();
        let path = cache.path(A, &opts);
        // truncated
        cache.put(A, &opts, &changes(1000));
        let full = fs::read(&path).unwrap();
        fs::write(&path, &full[..full.len() - 1]).unwrap();
        assert!(cache.get(A, &opts).is_none());
        assert!(!path.exists(), "an unusable entry is removed");
        // one byte flipped in the payload, length intact
        let mut flipped = full.clone();
        *flipped.last_mut().unwrap() ^= 1;
        fs::write(&path, &flipped).unwrap();
        assert!(cache.get(A, &opts).is_none());
        // an intact entry of another layer copied under this one's name
        cache.put(B, &opts, &changes(5));
        fs::copy(cache.path(B, &opts), &path).unwrap();
        assert!(cache.get(A, &opts).is_none());
        // garbage, and an empty file
        fs::write(&path, b"nonsense").unwrap();
        assert!(cache.get(A, &opts).is_none());
        fs::write(&path, b"").unwrap();
        assert!(cache.get(A, &opts).is_none());
        // intact again
        fs::write(&path, &full).unwrap();
        assert!(cache.get(A, &opts).is_some());
    }

    #[test]
    fn the_least_recently_used_entries_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let opts = LoadOptions::default();
        // room for two entries of ~1 KiB (and one entry may be an eighth of the bound)
        let probe = LayerCache::open(dir.path().join("probe"), DEFAULT_MAX_BYTES).unwrap();
        probe.put(A, &opts, &changes(1000));
        let one = fs::metadata(probe.path(A, &opts)).unwrap().len();
        let cache = LayerCache::open(dir.path().join("c"), 8 * one).unwrap();
        // entries of one eighth each: eight fit
        for (i, d) in ["sha256:01", "sha256:02", "sha256:03", "sha256:04"]
            .iter()
            .enumerate()
        {
            cache.put(d, &opts, &changes(1000));
            set_age(&cache, d, 100 - i as u64);
        }
        cache.put(A, &opts, &changes(1000));
        set_age(&cache, A, 50);
        cache.put(B, &opts, &changes(1000));
        set_age(&cache, B, 40);
        cache.put(C, &opts, &changes(1000));
        set_age(&cache, C, 30);
        // sha256:01 is the oldest; using it makes it the newest
        assert!(cache.get("sha256:01", &opts).is_some());
        // three more: over the bound by three entries
        for d in ["sha256:05", "sha256:06", "sha256:07"] {
            cache.put(d, &opts, &changes(1000));
        }
        let present = |d: &str| cache.path(d, &opts).exists();
        assert!(present("sha256:01"), "recently used stays");
        assert!(
            !present("sha256:02") && !present("sha256:03"),
            "least recently used go"
        );
        let total: u64 = fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(total <= 8 * one, "{total} > {}", 8 * one);
        // an entry over an eighth of the bound is not stored at all
        cache.put("sha256:08", &opts, &changes(2000));
        assert!(!present("sha256:08"));
    }

    #[test]
    fn clear_removes_entries_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::open(dir.path().join("layers"), DEFAULT_MAX_BYTES).unwrap();
        let opts = LoadOptions::default();
        cache.put(A, &opts, &changes(10));
        cache.put(B, &opts, &changes(10));
        fs::write(cache.dir().join("README"), b"mine").unwrap();
        let (files, bytes) = clear(cache.dir()).unwrap();
        assert_eq!(files, 2);
        assert!(bytes > 20);
        assert!(cache.get(A, &opts).is_none());
        assert!(cache.dir().join("README").exists());
        assert_eq!(clear(&dir.path().join("none")).unwrap(), (0, 0));
    }
}
