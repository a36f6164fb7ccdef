//! The vulnerability DB as an OCI artifact, so registries (and air-gapped Wharfs replicating
//! them) carry it like any image.
//!
//! Wharf's own DB: an OCI image manifest with `artifactType` [`WHARF_ARTIFACT_TYPE`], the
//! empty config, and one layer [`WHARF_LAYER`]: the SQLite file (a `VACUUM INTO` snapshot)
//! gzip-compressed, annotated with its schema version and uncompressed digest and size.
//!
//! Trivy's DB: exactly what Trivy pulls from `--db-repository`: config
//! [`TRIVY_CONFIG`], one layer [`TRIVY_LAYER`] titled `db.tar.gz`, a tar.gz of `trivy.db`
//! and `metadata.json`.
//!
//! Pulls stream to a temporary file beside the destination while checking the layer's size
//! and digest and the uncompressed digest; only a verified, openable database is renamed
//! into place.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Db, SCHEMA_VERSION};
use crate::{Error, Result, Warnings};
use wharf_oci::media_types::{EMPTY_BLOB, OCI_MANIFEST};
use wharf_oci::{
    BlockingClient, Reference, RegistryOptions, parse_remote_reference as parse_reference,
};

pub const WHARF_ARTIFACT_TYPE: &str = "application/vnd.wharf.vulndb.v1";
pub const WHARF_LAYER: &str = "application/vnd.wharf.vulndb.v1.sqlite+gzip";
pub const EMPTY_CONFIG: &str = wharf_oci::media_types::EMPTY;
pub const TRIVY_CONFIG: &str = "application/vnd.aquasec.trivy.config.v1+json";
pub const TRIVY_LAYER: &str = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip";
const TITLE: &str = wharf_oci::media_types::annotations::TITLE;
const ANN_SCHEMA: &str = "dev.wharf.vulndb.schema-version";
const ANN_DIGEST: &str = "dev.wharf.vulndb.uncompressed-digest";
const ANN_SIZE: &str = "dev.wharf.vulndb.uncompressed-size";
/// Largest database layer accepted on pull (compressed or not).
pub const MAX_DB: u64 = 16 << 30;

/// Progress of a transfer: (bytes done, bytes total).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// What a push published.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pushed {
    pub reference: String,
    pub manifest_digest: String,
    pub layer_digest: String,
    pub layer_size: u64,
}

/// Pushes Wharf's SQLite DB at `db_path` to `reference`.
pub fn push_wharf(
    db_path: &Path,
    reference: &str,
    opts: &RegistryOptions,
    progress: Progress,
) -> Result<Pushed> {
    let r = parse_reference(reference)?;
    let db = Db::open_existing(db_path)?;
    let updated = db.info()?.updated_at;
    let tmp = tempfile_in(db_path.parent().unwrap_or(Path::new(".")), "snapshot")?;
    let _ = std::fs::remove_file(&tmp.0);
    // A consistent, compact copy even while another process writes (WAL mode).
    db.conn
        .execute("VACUUM INTO ?1", rusqlite::params![tmp.0.to_string_lossy()])?;
    drop(db);
    let (raw_digest, raw_size) = hash_file(&tmp.0)?;
    // Compressed to a second temporary file (memory stays bounded), hashed as it is written.
    let gz = tempfile_in(db_path.parent().unwrap_or(Path::new(".")), "layer")?;
    let (ldigest, layer_size) = {
        let out = std::fs::File::create(&gz.0).map_err(|e| Error::io(&gz.0, e))?;
        let mut enc = GzEncoder::new(HashingWriter::new(out), Compression::default());
        let mut f = std::fs::File::open(&tmp.0).map_err(|e| Error::io(&tmp.0, e))?;
        copy_with_progress(&mut f, &mut enc, raw_size, progress)
            .map_err(|e| Error::io(&gz.0, e))?;
        let w = enc.finish().map_err(|e| Error::io(&gz.0, e))?;
        w.finish().map_err(|e| Error::io(&gz.0, e))?
    };
    drop(tmp);
    let client = BlockingClient::new(opts)?;
    let config = EMPTY_BLOB;
    let cdigest = client.put_blob(&r, config, EMPTY_CONFIG)?.digest;
    client.put_blob_file(&r, &gz.0, &ldigest, layer_size)?;
    drop(gz);
    let mut annotations = serde_json::Map::new();
    if let Some(u) = updated {
        annotations.insert("org.opencontainers.image.created".into(), json!(u));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": WHARF_ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_CONFIG, "digest": cdigest, "size": config.len(), "data": "e30="},
        "layers": [{
            "mediaType": WHARF_LAYER,
            "digest": ldigest,
            "size": layer_size,
            "annotations": {
                TITLE: "vuln.db.gz",
                ANN_SCHEMA: SCHEMA_VERSION.to_string(),
                ANN_DIGEST: raw_digest,
                ANN_SIZE: raw_size.to_string(),
            }
        }],
        "annotations": annotations,
    });
    finish_push(&client, &r, reference, manifest, ldigest, layer_size)
}

/// Exports Wharf's DB in Trivy's format and pushes it as Trivy's DB artifact.
pub fn push_trivy(
    db_path: &Path,
    reference: &str,
    opts: &RegistryOptions,
    warnings: &mut Warnings,
) -> Result<Pushed> {
    let r = parse_reference(reference)?;
    let db = Db::open_existing(db_path)?;
    let dir = TempDir::new(db_path.parent().unwrap_or(Path::new(".")))?;
    db.export_trivy(&dir.0, warnings)?;
    drop(db);
    let gz = dir.0.join("db.tar.gz");
    let out = std::fs::File::create(&gz).map_err(|e| Error::io(&gz, e))?;
    let mut tar = tar::Builder::new(GzEncoder::new(
        HashingWriter::new(out),
        Compression::default(),
    ));
    for name in ["trivy.db", "metadata.json"] {
        let p = dir.0.join(name);
        let mut f = std::fs::File::open(&p).map_err(|e| Error::io(&p, e))?;
        let mut h = tar::Header::new_gnu();
        h.set_size(f.metadata().map_err(|e| Error::io(&p, e))?.len());
        h.set_mode(0o644);
        h.set_mtime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        h.set_cksum();
        tar.append_data(&mut h, name, &mut f)
            .map_err(|e| Error::io(&p, e))?;
    }
    let (ldigest, layer_size) = tar
        .into_inner()
        .and_then(|enc| enc.finish())
        .and_then(|w| w.finish())
        .map_err(|e| Error::io(&gz, e))?;
    let client = BlockingClient::new(opts)?;
    let config = EMPTY_BLOB;
    let cdigest = client.put_blob(&r, config, TRIVY_CONFIG)?.digest;
    client.put_blob_file(&r, &gz, &ldigest, layer_size)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": TRIVY_CONFIG, "digest": cdigest, "size": config.len()},
        "layers": [{
            "mediaType": TRIVY_LAYER,
            "digest": ldigest,
            "size": layer_size,
            "annotations": {TITLE: "db.tar.gz"}
        }],
    });
    finish_push(&client, &r, reference, manifest, ldigest, layer_size)
}

fn finish_push(
    client: &BlockingClient,
    r: &Reference,
    reference: &str,
    manifest: Value,
    layer_digest: String,
    layer_size: u64,
) -> Result<Pushed> {
    let body = serde_json::to_vec(&manifest)?;
    let manifest_digest = wharf_oci::sha256_digest(&body);
    client.put_manifest(r, body, OCI_MANIFEST)?;
    Ok(Pushed {
        reference: reference.to_string(),
        manifest_digest,
        layer_digest,
        layer_size,
    })
}

/// Pulls Wharf's DB from `reference` into `dest`: verified and complete, or not at all.
pub fn pull_wharf(
    reference: &str,
    dest: &Path,
    opts: &RegistryOptions,
    progress: Progress,
) -> Result<Pushed> {
    let r = parse_reference(reference)?;
    let client = BlockingClient::new(opts)?;
    let (body, manifest) = client.get_manifest(&r)?;
    let manifest_digest = manifest.digest;
    let m: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::Registry(format!("{reference}: manifest is not JSON: {e}")))?;
    let layer = check_manifest(reference, &m)?;
    let digest = layer["digest"].as_str().unwrap_or_default().to_string();
    let size = layer["size"].as_u64().unwrap_or(0);
    let want_raw = layer["annotations"][ANN_DIGEST].as_str().map(String::from);
    let raw_limit = layer["annotations"][ANN_SIZE]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(MAX_DB)
        .min(MAX_DB);

    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = tempfile_in(dir, "pull")?;
    let unpacked = fetch_verified(&client, &r, reference, &digest, size, progress, |layer| {
        unpack(layer, &tmp.0, raw_limit)
    })?;
    let raw_hash = unpacked.map_err(|e| Error::Registry(format!("{reference}: {e}")))?;
    if let Some(want) = want_raw
        && want != raw_hash
    {
        return Err(Error::Registry(format!(
            "{reference}: uncompressed database digest mismatch: annotation says {want}, received {raw_hash}; nothing written"
        )));
    }
    // Opening checks that it is a Wharf DB of the schema this build reads.
    Db::open_existing(&tmp.0)?;
    tmp.persist(dest)?;
    Ok(Pushed {
        reference: reference.to_string(),
        manifest_digest,
        layer_digest: digest,
        layer_size: size,
    })
}

/// The default source of `wharf db update`: Trivy's public DB artifact.
pub const DEFAULT_UPDATE_REF: &str = "ghcr.io/aquasecurity/trivy-db:2";

/// Which format an artifact held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    Wharf,
    Trivy,
}

/// What `update` pulled.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Updated {
    pub format: Format,
    pub pulled: Pushed,
    /// Advisories in the new database (Trivy's: as imported).
    pub advisories: u64,
}

/// `wharf db update` and the server's periodic refresh: pulls a vulnerability DB artifact,
/// Wharf's own or Trivy's (told apart by the manifest), verifies it and replaces `dest`
/// with it whole. Trivy's `trivy.db` is imported into a fresh database beside `dest`
/// first, so a refused or damaged download leaves the old database in place.
pub fn update(
    reference: &str,
    dest: &Path,
    opts: &RegistryOptions,
    progress: Progress,
    warnings: &mut Warnings,
) -> Result<Updated> {
    let r = parse_reference(reference)?;
    let client = BlockingClient::new(opts)?;
    let (body, _) = client.get_manifest(&r)?;
    let m: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::Registry(format!("{reference}: manifest is not JSON: {e}")))?;
    if !is_trivy(&m) {
        let pulled = pull_wharf(reference, dest, opts, progress)?;
        let advisories = Db::open_existing(dest)?.info()?.advisories as u64;
        return Ok(Updated {
            format: Format::Wharf,
            pulled,
            advisories,
        });
    }
    let (pulled, stats) = pull_trivy(&client, &r, reference, &m, dest, progress, warnings)?;
    Ok(Updated {
        format: Format::Trivy,
        pulled,
        advisories: stats.advisories,
    })
}

fn is_trivy(m: &Value) -> bool {
    m["config"]["mediaType"] == TRIVY_CONFIG
        || m["layers"]
            .as_array()
            .is_some_and(|ls| ls.iter().any(|l| l["mediaType"] == TRIVY_LAYER))
}

/// Trivy's DB artifact: its `db.tar.gz` layer streamed through a digest check into a
/// temporary directory (only `trivy.db` and `metadata.json` taken, each bounded), imported
/// into a new database beside `dest`, then renamed over it.
fn pull_trivy(
    client: &BlockingClient,
    r: &Reference,
    reference: &str,
    m: &Value,
    dest: &Path,
    progress: Progress,
    warnings: &mut Warnings,
) -> Result<(Pushed, super::import::ImportStats)> {
    let refuse = |msg: String| Error::Registry(format!("{reference}: {msg}"));
    let layers: Vec<&Value> = m["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["mediaType"] == TRIVY_LAYER)
        .collect();
    let [layer] = layers.as_slice() else {
        return Err(refuse(format!(
            "has {} layers of type {TRIVY_LAYER}; Trivy's DB artifact has exactly one",
            layers.len()
        )));
    };
    let digest = layer["digest"].as_str().unwrap_or_default().to_string();
    let size = match layer["size"].as_u64() {
        Some(s) if s <= MAX_DB => s,
        _ => return Err(refuse(format!("layer size missing or over {MAX_DB} bytes"))),
    };
    if !digest
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(refuse(format!(
            "layer digest {digest:?} is not a sha256 digest"
        )));
    }
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let unpacked_dir = TempDir::new(dir)?;
    let unpacked = fetch_verified(client, r, reference, &digest, size, progress, |layer| {
        untar_trivy(layer, &unpacked_dir.0, MAX_DB)
    })?;
    unpacked.map_err(refuse)?;
    let tmp = tempfile_in(dir, "update")?;
    let stats = {
        let mut db = Db::open(&tmp.0)?;
        let stats = db.import_trivy(&unpacked_dir.0, warnings, &mut |_, _| {})?;
        // one file, no -wal beside it, before it is renamed
        db.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        stats
    };
    for ext in ["-wal", "-shm"] {
        let mut p = tmp.0.as_os_str().to_owned();
        p.push(ext);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    tmp.persist(dest)?;
    let body = serde_json::to_vec(m)?;
    Ok((
        Pushed {
            reference: reference.to_string(),
            manifest_digest: wharf_oci::sha256_digest(&body),
            layer_digest: digest,
            layer_size: size,
        },
        stats,
    ))
}

/// Gunzips and untars `r`, writing `trivy.db` and `metadata.json` (at most `limit` bytes
/// each) into `dir`; every other entry is skipped. Both must be there.
fn untar_trivy(
    r: &mut (impl Read + ?Sized),
    dir: &Path,
    limit: u64,
) -> std::result::Result<(), String> {
    let mut archive = tar::Archive::new(GzDecoder::new(r));
    let entries = archive
        .entries()
        .map_err(|e| format!("reading the database layer: {e}"))?;
    let mut found = [false; 2];
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading the database layer: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("reading the database layer: {e}"))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let Some(i) = ["trivy.db", "metadata.json"]
            .iter()
            .position(|n| *n == path)
        else {
            continue;
        };
        if entry.size() > limit {
            return Err(format!("{path} is larger than {limit} bytes"));
        }
        let out_path = dir.join(&path);
        let mut out =
            std::fs::File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
        std::io::copy(&mut (&mut entry).take(limit), &mut out)
            .map_err(|e| format!("reading {path} from the database layer: {e}"))?;
        found[i] = true;
    }
    match found {
        [true, true] => Ok(()),
        [false, _] => Err("the layer holds no trivy.db".into()),
        _ => Err("the layer holds no metadata.json".into()),
    }
}

/// Streams the layer blob `digest` (`size` bytes) through `read` while hashing it. Whatever
/// `read` does, the rest of the blob is still read and hashed, so a tampered layer is
/// reported as a digest mismatch rather than as corrupt gzip; `read`'s own result counts
/// only once the digest matched.
fn fetch_verified<T>(
    client: &BlockingClient,
    r: &Reference,
    reference: &str,
    digest: &str,
    size: u64,
    progress: Progress,
    read: impl FnOnce(&mut dyn Read) -> std::result::Result<T, String>,
) -> Result<std::result::Result<T, String>> {
    let blob = client.blob_reader(r, digest)?;
    let mut hashing = Hashing {
        inner: blob.take(size + 1),
        hasher: Sha256::new(),
        n: 0,
        total: size,
        progress,
    };
    let result = read(&mut hashing);
    // (the client also checks the digest at the end of the stream and fails the read)
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| {
        Error::Registry(format!(
            "{reference}: reading the database layer {digest}: {e}; nothing written"
        ))
    })?;
    let got = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
    if hashing.n != size || got != digest {
        return Err(Error::Registry(format!(
            "{reference}: layer digest mismatch: manifest says {digest} ({size} bytes), received {got} ({} bytes); nothing written",
            hashing.n
        )));
    }
    Ok(result)
}

/// Gunzips `r` into `dest` (at most `limit` bytes), fsyncs it; returns the unpacked digest.
fn unpack(
    r: &mut (impl Read + ?Sized),
    dest: &Path,
    limit: u64,
) -> std::result::Result<String, String> {
    let mut out = std::fs::File::create(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut gz = GzDecoder::new(r);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut n: u64 = 0;
    loop {
        let k = gz
            .read(&mut buf)
            .map_err(|e| format!("reading the database layer: {e}"))?;
        if k == 0 {
            break;
        }
        n += k as u64;
        if n > limit {
            return Err(format!(
                "the database layer unpacks to more than {limit} bytes"
            ));
        }
        h.update(&buf[..k]);
        out.write_all(&buf[..k])
            .map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    out.sync_all()
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

/// The one database layer of a Wharf DB manifest; anything else is refused by name.
fn check_manifest<'m>(reference: &str, m: &'m Value) -> Result<&'m Value> {
    let refuse = |msg: String| Err(Error::Registry(format!("{reference}: {msg}")));
    if m["mediaType"].as_str().is_some_and(|t| t != OCI_MANIFEST) || m["manifests"].is_array() {
        return refuse(format!(
            "is a {}, not a vulnerability DB artifact (an OCI image manifest)",
            m["mediaType"].as_str().unwrap_or("index")
        ));
    }
    let layers = m["layers"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let config_type = m["config"]["mediaType"].as_str().unwrap_or("");
    if config_type == TRIVY_CONFIG || layers.iter().any(|l| l["mediaType"] == TRIVY_LAYER) {
        return refuse("is Trivy's DB artifact; `wharf db pull` reads Wharf's own (push one with `wharf db push`)".into());
    }
    let at = m["artifactType"].as_str().unwrap_or(config_type);
    if at != WHARF_ARTIFACT_TYPE {
        return refuse(format!(
            "unknown artifact type {at:?} (expected {WHARF_ARTIFACT_TYPE})"
        ));
    }
    let [layer] = layers else {
        return refuse(format!(
            "has {} layers; a Wharf DB artifact has exactly one",
            layers.len()
        ));
    };
    if layer["mediaType"] != WHARF_LAYER {
        return refuse(format!(
            "layer media type {} (expected {WHARF_LAYER})",
            layer["mediaType"]
        ));
    }
    let schema = layer["annotations"][ANN_SCHEMA].as_str().unwrap_or("");
    if schema != SCHEMA_VERSION.to_string() {
        return refuse(format!(
            "database schema version {schema:?}; this wharf reads version {SCHEMA_VERSION}"
        ));
    }
    match layer["size"].as_u64() {
        Some(s) if s <= MAX_DB => {}
        _ => return refuse(format!("layer size missing or over {MAX_DB} bytes")),
    }
    let d = layer["digest"].as_str().unwrap_or("");
    if !d
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return refuse(format!("layer digest {d:?} is not a sha256 digest"));
    }
    Ok(layer)
}

/// A file writer that hashes and counts what it writes.
struct HashingWriter {
    out: std::fs::File,
    hasher: Sha256,
    n: u64,
}

impl HashingWriter {
    fn new(out: std::fs::File) -> Self {
        HashingWriter {
            out,
            hasher: Sha256::new(),
            n: 0,
        }
    }

    /// Syncs the file; returns the digest and size of what was written.
    fn finish(self) -> std::io::Result<(String, u64)> {
        self.out.sync_all()?;
        Ok((
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.n,
        ))
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.out.write(buf)?;
        self.hasher.update(&buf[..k]);
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A reader that hashes and counts what passes through, reporting progress.
struct Hashing<'p, R> {
    inner: R,
    hasher: Sha256,
    n: u64,
    total: u64,
    progress: Progress<'p>,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.hasher.update(&buf[..k]);
        self.n += k as u64;
        (self.progress)(self.n, self.total);
        Ok(k)
    }
}

fn copy_with_progress(
    r: &mut impl Read,
    w: &mut impl Write,
    total: u64,
    progress: Progress,
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 256 << 10];
    let mut n = 0;
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            return Ok(n);
        }
        w.write_all(&buf[..k])?;
        n += k as u64;
        progress(n, total);
    }
}

fn hash_file(p: &Path) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = std::io::Read::read(&mut f, &mut buf).map_err(|e| Error::io(p, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((format!("sha256:{}", hex::encode(h.finalize())), n))
}

/// A temporary file beside its destination, removed unless persisted.
struct TempFile(PathBuf);

fn tempfile_in(dir: &Path, what: &str) -> Result<TempFile> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let p = dir.join(format!(
        ".wharf-{what}-{}-{}.tmp",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(TempFile(p))
}

impl TempFile {
    fn persist(self, dest: &Path) -> Result<()> {
        // a stale WAL/SHM of the database being replaced must not be applied to the new one
        for ext in ["-wal", "-shm"] {
            let mut s = dest.as_os_str().to_owned();
            s.push(ext);
            let _ = std::fs::remove_file(PathBuf::from(s));
        }
        std::fs::rename(&self.0, dest).map_err(|e| Error::io(dest, e))?;
        std::mem::forget(self);
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A temporary directory, removed with its contents on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(parent: &Path) -> Result<Self> {
        let t = tempfile_in(parent, "export")?;
        let p = t.0.clone();
        drop(t);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
