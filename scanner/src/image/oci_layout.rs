//! OCI image layout directories (image-spec `image-layout.md`): `index.json`, `blobs/ALG/HEX`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::layer::{Hashing, apply_layer};
use super::{ImageFs, LayerInfo, LoadOptions, LoadedImage, wanted_platform};
use crate::{Error, Result, Warnings};

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub platform: Option<Platform>,
}

#[derive(Deserialize, Debug, Clone)]
pub(crate) struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// Either an index or a manifest: both are read through this one shape.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct IndexOrManifest {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

#[derive(Deserialize, Debug, Default)]
pub(crate) struct ImageConfig {
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub architecture: Option<String>,
}

/// Largest manifest/index/config we read (JSON documents; the spec suggests 4 MiB).
const MAX_JSON: u64 = 4 << 20;

/// Path of a blob, refusing digests that are not `alg:hex` (no path tricks).
fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| Error::Image(format!("bad digest {digest:?}")))?;
    let ok = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(Error::Image(format!("bad digest {digest:?}")));
    }
    Ok(dir.join("blobs").join(alg).join(hex))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = Vec::new();
    f.take(MAX_JSON + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > MAX_JSON {
        return Err(Error::Image(format!(
            "{}: larger than {MAX_JSON} bytes",
            path.display()
        )));
    }
    serde_json::from_slice(&buf).map_err(|e| Error::Image(format!("{}: {e}", path.display())))
}

pub(crate) fn load(
    dir: &Path,
    reference: Option<&str>,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> Result<LoadedImage> {
    let index: IndexOrManifest = read_json(&dir.join("index.json"))?;
    let manifests = index.manifests.unwrap_or_default();
    let chosen = match reference {
        Some(r) => manifests
            .iter()
            .find(|d| {
                d.annotations
                    .get("org.opencontainers.image.ref.name")
                    .map(String::as_str)
                    == Some(r)
                    || d.digest == r
            })
            .ok_or_else(|| {
                let tags: Vec<_> = manifests
                    .iter()
                    .filter_map(|d| d.annotations.get("org.opencontainers.image.ref.name"))
                    .collect();
                Error::Image(format!(
                    "{}: no image tagged {r:?} (tags: {tags:?})",
                    dir.display()
                ))
            })?,
        None if manifests.len() == 1 => &manifests[0],
        None => {
            let tags: Vec<_> = manifests
                .iter()
                .filter_map(|d| d.annotations.get("org.opencontainers.image.ref.name"))
                .collect();
            return Err(Error::Image(format!(
                "{}: {} images in the layout; name one with oci:DIR:TAG (tags: {tags:?})",
                dir.display(),
                manifests.len()
            )));
        }
    };
    let mut desc = chosen.clone();
    // Descend through indexes (multi-platform images) to one manifest.
    for _ in 0..4 {
        let doc: IndexOrManifest = read_json(&blob_path(dir, &desc.digest)?)?;
        let is_index = doc.manifests.is_some()
            || desc.media_type.contains("index")
            || desc.media_type.contains("manifest.list");
        if !is_index {
            return load_manifest(dir, &desc, doc, opts, warnings);
        }
        let (os, arch, variant) = wanted_platform(opts);
        let list = doc.manifests.unwrap_or_default();
        let pick = list
            .iter()
            .find(|d| {
                d.platform.as_ref().is_some_and(|p| {
                    p.os == os
                        && p.architecture == arch
                        && (variant.is_none() || p.variant == variant)
                })
            })
            .ok_or_else(|| {
                Error::Image(format!("no {os}/{arch} image in index {}", desc.digest))
            })?;
        desc = pick.clone();
        let _ = doc.media_type;
    }
    Err(Error::Image("indexes nested too deeply".into()))
}

fn load_manifest(
    dir: &Path,
    desc: &Descriptor,
    doc: IndexOrManifest,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> Result<LoadedImage> {
    let config: ImageConfig = match &doc.config {
        Some(c) => read_json(&blob_path(dir, &c.digest)?).unwrap_or_else(|e| {
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
        let path = blob_path(dir, &l.digest)?;
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                warnings.push(format!("layer {}: missing blob: {e}", l.digest));
                continue;
            }
        };
        let mut hashing = Hashing {
            inner: file,
            hasher: Sha256::new(),
        };
        apply_layer(&mut fs, &mut hashing, i, &l.digest, &opts.limits, warnings);
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
            }
        }
    }
    Ok(LoadedImage {
        fs,
        manifest_digest: Some(desc.digest.clone()),
        os: config.os,
        architecture: config.architecture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_digests_are_refused() {
        let d = Path::new("/x");
        assert!(blob_path(d, "sha256:../../etc/passwd").is_err());
        assert!(blob_path(d, "sha256:").is_err());
        assert!(blob_path(d, "../x:abc").is_err());
        assert_eq!(
            blob_path(d, "sha256:abc123").unwrap(),
            Path::new("/x/blobs/sha256/abc123")
        );
    }
}
