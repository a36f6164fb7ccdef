//! `docker save` tarballs: `manifest.json` names the config and the layer tars inside the
//! archive. One pass indexes the entries; each layer is then read in place (seek + take).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;

use super::fs::clean_path;
use sha2::{Digest as _, Sha256};

use super::layer::{Hashing, apply_cached, apply_layer_recorded};
use super::{ImageFs, LayerInfo, LoadOptions, LoadedImage};
use crate::{Error, Result, Warnings};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Deserialize, Default)]
struct Config {
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

const MAX_JSON: u64 = 4 << 20;

pub(crate) fn load(
    file: &Path,
    reference: Option<&str>,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> Result<LoadedImage> {
    let io = |e| Error::io(file, e);
    let mut f = File::open(file).map_err(io)?;
    // name -> (offset, size) of every regular file in the archive
    let mut index: HashMap<String, (u64, u64)> = HashMap::new();
    {
        let mut ar = tar::Archive::new(&mut f);
        for entry in ar.entries().map_err(io)? {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(format!("{}: archive truncated: {e}", file.display()));
                    break;
                }
            };
            if entry.header().entry_type().is_file()
                && let Some(p) = entry
                    .path()
                    .ok()
                    .and_then(|p| clean_path(&p.to_string_lossy()))
            {
                index.insert(p, (entry.raw_file_position(), entry.size()));
            }
        }
    }
    let mut read_member = |name: &str, max: u64| -> Result<Vec<u8>> {
        let key =
            clean_path(name).ok_or_else(|| Error::Image(format!("bad member name {name:?}")))?;
        let &(off, size) = index
            .get(&key)
            .ok_or_else(|| Error::Image(format!("{}: no member {name:?}", file.display())))?;
        if size > max {
            return Err(Error::Image(format!("{name}: {size} bytes is too large")));
        }
        f.seek(SeekFrom::Start(off)).map_err(io)?;
        let mut buf = Vec::with_capacity(size as usize);
        (&mut f).take(size).read_to_end(&mut buf).map_err(io)?;
        Ok(buf)
    };
    let manifest: Vec<ManifestEntry> =
        serde_json::from_slice(&read_member("manifest.json", MAX_JSON)?)
            .map_err(|e| Error::Image(format!("manifest.json: {e}")))?;
    let entry = match reference {
        Some(r) => manifest
            .iter()
            .find(|m| {
                m.repo_tags
                    .iter()
                    .flatten()
                    .any(|t| t == r || t.rsplit_once(':').map(|x| x.1) == Some(r))
            })
            .ok_or_else(|| Error::Image(format!("no image tagged {r:?} in {}", file.display())))?,
        None => manifest
            .first()
            .ok_or_else(|| Error::Image("manifest.json lists no image".into()))?,
    };
    let config: Config = read_member(&entry.config, MAX_JSON)
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| Error::Image(format!("config: {e}"))))
        .unwrap_or_else(|e| {
            warnings.push(format!("image config unreadable: {e}"));
            Config::default()
        });
    let diff_ids = config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.clone())
        .unwrap_or_default();
    let mut fs = ImageFs::default();
    for (i, layer) in entry.layers.iter().enumerate() {
        let digest = diff_ids.get(i).cloned().unwrap_or_else(|| layer.clone());
        let Some(&(off, size)) = clean_path(layer).and_then(|k| index.get(&k)) else {
            warnings.push(format!("layer {layer}: not in the archive"));
            fs.layers.push(LayerInfo { digest, size: None });
            continue;
        };
        fs.layers.push(LayerInfo {
            digest: digest.clone(),
            size: Some(size),
        });
        if apply_cached(&mut fs, &digest, i, opts, warnings) {
            continue;
        }
        f.seek(SeekFrom::Start(off)).map_err(io)?;
        let mut hashing = Hashing {
            inner: (&mut f).take(size),
            hasher: Sha256::new(),
        };
        let changes = apply_layer_recorded(&mut fs, &mut hashing, i, &digest, opts, warnings);
        // The cache key is the diff ID, the digest of the uncompressed tar: an entry is
        // stored only when the bytes read were that tar (`docker save` writes layers
        // uncompressed), never on the config's word alone.
        if let (Some(cache), Some(changes)) = (&opts.cache, changes)
            && digest.starts_with("sha256:")
            && std::io::copy(&mut hashing, &mut std::io::sink()).is_ok()
            && format!("sha256:{}", hex::encode(hashing.hasher.finalize())) == digest
        {
            cache.put(&digest, opts, &changes);
        }
    }
    let manifest_digest = None;
    Ok(LoadedImage {
        fs,
        manifest_digest,
        os: config.os,
        architecture: config.architecture,
    })
}
