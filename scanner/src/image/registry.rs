//! Images pulled from a registry (`host/repo:tag`, `host/repo@sha256:…`): manifest (through
//! indexes by platform), config and layers come over the network and go through the same
//! layer pipeline as an OCI layout, streamed — never a whole layer in memory or on disk.

use std::io::Read;

use super::layer::{apply_cached, apply_layer_recorded};
use super::oci_layout::{Descriptor, ImageConfig, IndexOrManifest, pick_platform};
use super::{ImageFs, LayerInfo, LoadOptions, LoadedImage};
use crate::{Error, Result, Warnings};
use wharf_oci::{BlockingClient, Reference, parse_remote_reference as parse_reference};

const MAX_CONFIG: u64 = 4 << 20;

pub(crate) fn load(
    reference: &str,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> Result<LoadedImage> {
    let r = parse_reference(reference)?;
    let client = BlockingClient::new(&opts.registry)?;
    let (mut body, mut digest) = manifest(&client, &r)?;
    for _ in 0..4 {
        let doc: IndexOrManifest = serde_json::from_slice(&body)
            .map_err(|e| Error::Image(format!("manifest {digest}: {e}")))?;
        if doc.manifests.is_none() {
            return load_manifest(&client, &r, digest, doc, opts, warnings);
        }
        let pick: Descriptor = pick_platform(&doc.manifests.unwrap_or_default(), opts, &digest)?;
        let by_digest = r.clone_with_digest(pick.digest.clone());
        (body, digest) = manifest(&client, &by_digest)?;
    }
    Err(Error::Image("indexes nested too deeply".into()))
}

/// A manifest's bytes and digest.
fn manifest(client: &BlockingClient, r: &Reference) -> Result<(Vec<u8>, String)> {
    let (body, desc) = client.get_manifest(r)?;
    Ok((body, desc.digest))
}

fn load_manifest(
    client: &BlockingClient,
    r: &Reference,
    digest: String,
    doc: IndexOrManifest,
    opts: &LoadOptions,
    warnings: &mut Warnings,
) -> Result<LoadedImage> {
    let config: ImageConfig = match &doc.config {
        Some(c) => client
            .get_blob_limited(r, &c.digest, MAX_CONFIG)
            .map_err(Error::from)
            .and_then(|b| serde_json::from_slice(&b).map_err(Error::from))
            .unwrap_or_else(|e| {
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
        if apply_cached(&mut fs, &l.digest, i, opts, warnings) {
            continue;
        }
        let mut reader = match client.blob_reader(r, &l.digest) {
            Ok(rd) => rd,
            Err(e) => {
                warnings.push(format!("layer {}: {e}", l.digest));
                continue;
            }
        };
        let changes = apply_layer_recorded(&mut fs, &mut reader, i, &l.digest, opts, warnings);
        // Drain the rest so the client's digest check runs on every byte.
        match std::io::copy(&mut reader, &mut std::io::sink()) {
            Err(e) => warnings.push(format!(
                "layer {}: {e}; blob corrupt, truncated or tampered",
                l.digest
            )),
            // the client checked every byte against the digest: safe to store under it
            Ok(_) => {
                if let (Some(cache), Some(changes)) = (&opts.cache, changes) {
                    cache.put(&l.digest, opts, &changes);
                }
            }
        }
        let _ = reader.read(&mut [0u8; 0]);
    }
    Ok(LoadedImage {
        fs,
        manifest_digest: Some(digest),
        os: config.os,
        architecture: config.architecture,
    })
}
