//! Images read blob by blob from any content-addressed store: an OCI layout on disk, or a
//! registry's own blob store when Wharf scans what was pushed to it. One loader walks
//! index → manifest → config → layers, so every store gets the same checks.

use std::io::Read;

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::layer::{Hashing, apply_cached, apply_layer_recorded};
use super::oci_layout::{Descriptor, ImageConfig, IndexOrManifest, pick_platform};
use super::{ImageFs, LayerInfo, LoadOptions, LoadedImage};
use crate::{Error, Result, Warnings};

/// Largest manifest, index or config read (JSON documents; the spec suggests 4 MiB).
pub const MAX_JSON: u64 = 4 << 20;

/// Blobs by digest. Implementations must refuse digests that are not `alg:hex`.
pub trait BlobSource {
    /// A stream of the blob's bytes; the loader checks sha256 digests as it reads.
    fn open(&self, digest: &str) -> Result<Box<dyn Read + '_>>;
}

/// Reads a JSON blob of at most [`MAX_JSON`] bytes.
pub(crate) fn read_json<T: DeserializeOwned>(src: &dyn BlobSource, digest: &str) -> Result<T> {
    let mut buf = Vec::new();
    src.open(digest)?
        .take(MAX_JSON + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Image(format!("{digest}: {e}")))?;
    if buf.len() as u64 > MAX_JSON {
        return Err(Error::Image(format!(
            "{digest}: larger than {MAX_JSON} bytes"
        )));
    }
    serde_json::from_slice(&buf).map_err(|e| Error::Image(format!("{digest}: {e}")))
}

/// Loads the image whose manifest or index has `digest`, descending through indexes to
/// the wanted platform.
pub fn load(
    src: &dyn BlobSource,
    digest: &str,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> Result<LoadedImage> {
    let mut desc = Descriptor {
        media_type: String::new(),
        digest: digest.to_string(),
        size: None,
        annotations: Default::default(),
        platform: None,
    };
    for _ in 0..4 {
        let doc: IndexOrManifest = read_json(src, &desc.digest)?;
        let is_index = doc.manifests.is_some()
            || desc.media_type.contains("index")
            || desc.media_type.contains("manifest.list");
        if !is_index {
            return load_manifest(src, &desc.digest, doc, opts, warnings);
        }
        desc = pick_platform(&doc.manifests.unwrap_or_default(), opts, &desc.digest)?;
    }
    Err(Error::Image("indexes nested too deeply".into()))
}

fn load_manifest(
    src: &dyn BlobSource,
    digest: &str,
    doc: IndexOrManifest,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> Result<LoadedImage> {
    let config: ImageConfig = match &doc.config {
        Some(c) => read_json(src, &c.digest).unwrap_or_else(|e| {
            warnings.push(format!("image config unreadable: {e}"));
            ImageConfig::default()
        }),
        None => ImageConfig::default(),
    };
    let mut fs = ImageFs::default();
    for (i, l) in doc.layers.unwrap_or_default().iter().enumerate() {
        fs.layers.push(LayerInfo {
            digest: l.digest.clone(),
            size: l.size,
        });
        if !is_filesystem_layer(&l.media_type) {
            // An artifact's content (a cosign signature's payload, an attestation, an
            // SBOM), not a directory tree: nothing in it is installed.
            continue;
        }
        if apply_cached(&mut fs, &l.digest, i, opts, warnings) {
            continue;
        }
        let reader = match src.open(&l.digest) {
            Ok(r) => r,
            Err(e) => {
                warnings.push(format!("layer {}: missing blob: {e}", l.digest));
                continue;
            }
        };
        let mut hashing = Hashing {
            inner: reader,
            hasher: Sha256::new(),
        };
        let changes = apply_layer_recorded(&mut fs, &mut hashing, i, &l.digest, opts, warnings);
        // Finish hashing whatever the tar reader left unread (padding, trailing blocks).
        if std::io::copy(&mut hashing, &mut std::io::sink()).is_ok()
            && l.digest.starts_with("sha256:")
        {
            let got = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
            if got != l.digest {
                warnings.push(format!(
                    "layer {}: content digest is {got}; blob corrupt or tampered",
                    l.digest
                ));
            } else if let (Some(cache), Some(changes)) = (&opts.cache, changes) {
                // only what was read from bytes with this digest is stored under it
                cache.put(&l.digest, opts, &changes);
            }
        }
    }
    Ok(LoadedImage {
        fs,
        manifest_digest: Some(digest.to_string()),
        os: config.os,
        architecture: config.architecture,
    })
}

/// Whether a layer of this media type is a tar of files (OCI's `…image.layer.v1.tar`
/// with any compression, Docker's `…rootfs.diff.tar…`, a foreign or non-distributable
/// layer). No media type at all is read as a tar, as a layout without one means it.
fn is_filesystem_layer(media_type: &str) -> bool {
    media_type.is_empty()
        || media_type.contains("image.layer.")
        || media_type.contains("image.rootfs.")
        || media_type.ends_with(".tar")
        || media_type.contains(".tar+")
        || media_type.contains(".tar.")
}

/// Whether `digest` is `alg:hex` with nothing that could name a path.
pub fn valid_digest(digest: &str) -> bool {
    let Some((alg, hex)) = digest.split_once(':') else {
        return false;
    };
    !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::is_filesystem_layer;

    #[test]
    fn only_tar_layers_are_read_as_files() {
        for tar in [
            "",
            "application/vnd.oci.image.layer.v1.tar",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        ] {
            assert!(is_filesystem_layer(tar), "{tar}");
        }
        for other in [
            "application/vnd.dev.cosign.simplesigning.v1+json",
            "application/vnd.dsse.envelope.v1+json",
            "application/spdx+json",
            "application/vnd.cyclonedx+json",
            "application/vnd.in-toto+json",
        ] {
            assert!(!is_filesystem_layer(other), "{other}");
        }
    }
}
