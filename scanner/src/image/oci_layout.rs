//! OCI image layout directories (image-spec `image-layout.md`): `index.json`, `blobs/ALG/HEX`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::blobs::{self, BlobSource, MAX_JSON, valid_digest};
use super::{LoadOptions, LoadedImage, wanted_platform};
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
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IndexOrManifest {
    #[serde(default)]
    #[allow(dead_code)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
}

#[derive(Deserialize, Debug, Default)]
pub(crate) struct ImageConfig {
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub architecture: Option<String>,
}

/// Path of a blob, refusing digests that are not `alg:hex` (no path tricks).
fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf> {
    if !valid_digest(digest) {
        return Err(Error::Image(format!("bad digest {digest:?}")));
    }
    let (alg, hex) = digest.split_once(':').unwrap_or_default();
    Ok(dir.join("blobs").join(alg).join(hex))
}

/// The layout's `blobs/` directory as a [`BlobSource`].
struct LayoutBlobs<'a>(&'a Path);

impl BlobSource for LayoutBlobs<'_> {
    fn open(&self, digest: &str) -> Result<Box<dyn Read + '_>> {
        let path = blob_path(self.0, digest)?;
        let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Box::new(f))
    }
}

fn read_index(path: &Path) -> Result<IndexOrManifest> {
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
    let index = read_index(&dir.join("index.json"))?;
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
    blobs::load(&LayoutBlobs(dir), &chosen.digest, opts, warnings)
}

/// The entry of an index for the wanted platform (`--platform`, default linux/amd64).
pub(crate) fn pick_platform(
    list: &[Descriptor],
    opts: &LoadOptions,
    index_digest: &str,
) -> Result<Descriptor> {
    let (os, arch, variant) = wanted_platform(opts);
    list.iter()
        .find(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == os && p.architecture == arch && (variant.is_none() || p.variant == variant)
            })
        })
        .cloned()
        .ok_or_else(|| Error::Image(format!("no {os}/{arch} image in index {index_digest}")))
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
