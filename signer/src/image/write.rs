//! Writing signatures and attestations: cosign's `.sig`/`.att` tags, its OCI 1.1
//! signature referrers, attestation referrers and Sigstore bundles.

use std::collections::BTreeMap;

use p256::ecdsa::SigningKey;
use wharf_oci::media_types::annotations::{BUNDLE_CONTENT, BUNDLE_PREDICATE_TYPE, CREATED};
use wharf_oci::media_types::{EMPTY_BLOB, OCI_MANIFEST};
use wharf_oci::{Client, Descriptor, Manifest};

use super::{
    ATTESTATION_ARTIFACT_TYPE, BUNDLE_V03_MEDIA_TYPE, DSSE_MEDIA_TYPE, EMPTY_MEDIA_TYPE,
    IMAGE_CONFIG_MEDIA_TYPE, ImageError, Layout, PREDICATE_TYPE_ANNOTATION, SIG_ARTIFACT_TYPE,
    SIGNATURE_ANNOTATION, SIMPLESIGNING_MEDIA_TYPE, Stored, Target, now_rfc3339,
};
use crate::dsse::{self, Envelope, Statement};
use crate::payload::{self, SimpleSigning};

/// One signature layer to store: blob, media type and layer annotations.
struct LayerSpec {
    blob: Vec<u8>,
    media_type: &'static str,
    annotations: BTreeMap<String, String>,
}

/// Signs `target` with cosign's simple-signing payload and stores it in `layout`.
pub async fn sign(
    reg: &Client,
    target: &Target,
    key: &SigningKey,
    annotations: &BTreeMap<String, String>,
    layout: Layout,
) -> Result<Stored, ImageError> {
    let payload =
        SimpleSigning::new(&target.docker_reference(), target.digest(), annotations).to_bytes();
    let sig = payload::sign_b64(key, &payload);
    let layer = LayerSpec {
        blob: payload,
        media_type: SIMPLESIGNING_MEDIA_TYPE,
        annotations: [(SIGNATURE_ANNOTATION.to_string(), sig)].into(),
    };
    match layout {
        Layout::Tag => append_to_tag(reg, target, ".sig", layer).await,
        Layout::Referrers => {
            push_cosign_style_referrer(reg, target, layer, SIG_ARTIFACT_TYPE).await
        }
    }
}

/// Attests `predicate` (of `predicate_type`) about `target`: in-toto Statement v1 in DSSE.
pub async fn attest(
    reg: &Client,
    target: &Target,
    key: &SigningKey,
    predicate_type: &str,
    predicate: serde_json::Value,
    layout: Layout,
) -> Result<Stored, ImageError> {
    let statement = Statement::new(
        &target.docker_reference(),
        target.digest(),
        predicate_type,
        predicate,
    );
    let statement = serde_json::to_vec(&statement).expect("plain structs serialise");
    let envelope = Envelope::sign(key, dsse::INTOTO_PAYLOAD_TYPE, &statement);
    let layer = LayerSpec {
        blob: envelope.to_bytes(),
        media_type: DSSE_MEDIA_TYPE,
        // cosign sets an empty signature annotation on attestation layers (the signature
        // lives in the envelope) and records the predicate type for filtering.
        annotations: [
            (SIGNATURE_ANNOTATION.to_string(), String::new()),
            (
                PREDICATE_TYPE_ANNOTATION.to_string(),
                predicate_type.to_string(),
            ),
        ]
        .into(),
    };
    match layout {
        Layout::Tag => append_to_tag(reg, target, ".att", layer).await,
        Layout::Referrers => {
            push_referrer(
                reg,
                target,
                ATTESTATION_ARTIFACT_TYPE,
                vec![layer],
                BTreeMap::new(),
            )
            .await
        }
    }
}

/// Attests `predicate` about `target` as cosign v3 `attest --new-bundle-format` does: a
/// key-based Sigstore bundle v0.3 pushed as a referrer whose
/// `dev.sigstore.bundle.predicateType` annotation names the predicate type.
pub async fn attest_bundle(
    reg: &Client,
    target: &Target,
    key: &SigningKey,
    predicate_type: &str,
    predicate: serde_json::Value,
) -> Result<Stored, ImageError> {
    let bundle = crate::bundle::attest_image_bundle(
        key,
        &target.docker_reference(),
        target.digest(),
        predicate_type,
        predicate,
    );
    push_bundle(reg, target, bundle.to_bytes(), predicate_type).await
}

/// cosign's signature image config: a minimal image config listing the layers.
fn cosign_config(layers: &[Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    let history: Vec<serde_json::Value> = layers
        .iter()
        .map(|_| serde_json::json!({"created": "0001-01-01T00:00:00Z"}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": history,
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {}
    }))
    .expect("json value serialises")
}

/// Appends a layer to the `sha256-<hex><suffix>` manifest, creating it if needed.
/// An identical layer (same blob and annotations) is not added twice.
async fn append_to_tag(
    reg: &Client,
    target: &Target,
    suffix: &str,
    layer: LayerSpec,
) -> Result<Stored, ImageError> {
    let tag = target.tag(suffix)?;
    let mut layers = match reg.get_manifest_opt(&tag).await? {
        Some((body, _)) => {
            let m: Manifest =
                serde_json::from_slice(&body).map_err(|e| ImageError::BadSignatureManifest {
                    reference: tag.whole(),
                    reason: e.to_string(),
                })?;
            m.layers
        }
        None => Vec::new(),
    };
    let mut desc = reg.put_blob(&tag, &layer.blob, layer.media_type).await?;
    desc.annotations = Some(layer.annotations);
    if !layers.contains(&desc) {
        layers.push(desc);
    }
    let config = cosign_config(&layers);
    let config_desc = reg.put_blob(&tag, &config, IMAGE_CONFIG_MEDIA_TYPE).await?;
    let manifest = Manifest::new(config_desc, layers);
    let digest = reg
        .put_manifest(&tag, manifest.to_bytes(), OCI_MANIFEST)
        .await?;
    Ok(Stored {
        location: tag.whole(),
        manifest_digest: digest,
    })
}

/// cosign's experimental OCI 1.1 signature: the signature image with its config media type
/// set to the artifact type and a `subject`.
async fn push_cosign_style_referrer(
    reg: &Client,
    target: &Target,
    layer: LayerSpec,
    artifact_type: &str,
) -> Result<Stored, ImageError> {
    let mut desc = reg
        .put_blob(&target.pinned, &layer.blob, layer.media_type)
        .await?;
    desc.annotations = Some(layer.annotations);
    let layers = vec![desc];
    let config = cosign_config(&layers);
    let config_desc = reg.put_blob(&target.pinned, &config, artifact_type).await?;
    let manifest = Manifest {
        subject: Some(subject_descriptor(target)),
        ..Manifest::new(config_desc, layers)
    };
    let (stored, _) = reg.put_referrer(&target.pinned, &manifest).await?;
    Ok(Stored::by_digest(target, stored.digest))
}

fn subject_descriptor(target: &Target) -> Descriptor {
    Descriptor::new(
        target.descriptor.media_type.clone(),
        target.descriptor.size,
        target.descriptor.digest.clone(),
    )
}

/// cosign's `WriteReferrer`: empty config, `artifactType`, `subject`, creation annotation.
async fn push_referrer(
    reg: &Client,
    target: &Target,
    artifact_type: &str,
    layers: Vec<LayerSpec>,
    mut annotations: BTreeMap<String, String>,
) -> Result<Stored, ImageError> {
    let config_desc = reg
        .put_blob(&target.pinned, EMPTY_BLOB, EMPTY_MEDIA_TYPE)
        .await?;
    let mut descs = Vec::new();
    for l in layers {
        let mut d = reg.put_blob(&target.pinned, &l.blob, l.media_type).await?;
        if !l.annotations.is_empty() {
            d.annotations = Some(l.annotations);
        }
        descs.push(d);
    }
    annotations
        .entry(CREATED.into())
        .or_insert_with(now_rfc3339);
    let config = Descriptor {
        artifact_type: Some(artifact_type.into()),
        ..config_desc
    };
    let manifest = Manifest {
        artifact_type: Some(artifact_type.into()),
        subject: Some(subject_descriptor(target)),
        annotations: Some(annotations),
        ..Manifest::new(config, descs)
    };
    let (stored, _) = reg.put_referrer(&target.pinned, &manifest).await?;
    Ok(Stored::by_digest(target, stored.digest))
}

/// Pushes a Sigstore bundle as an OCI referrer, as cosign v3 does.
pub async fn push_bundle(
    reg: &Client,
    target: &Target,
    bundle: Vec<u8>,
    predicate_type: &str,
) -> Result<Stored, ImageError> {
    let annotations = [
        (BUNDLE_CONTENT.to_string(), "dsse-envelope".to_string()),
        (
            BUNDLE_PREDICATE_TYPE.to_string(),
            predicate_type.to_string(),
        ),
    ]
    .into();
    push_referrer(
        reg,
        target,
        BUNDLE_V03_MEDIA_TYPE,
        vec![LayerSpec {
            blob: bundle,
            media_type: BUNDLE_V03_MEDIA_TYPE,
            annotations: BTreeMap::new(),
        }],
        annotations,
    )
    .await
}
