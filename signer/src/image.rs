//! Signing, attesting and verifying images in a registry, in cosign's layouts.
//!
//! Two layouts are written and read:
//! - cosign's tag scheme: an image manifest tagged `sha256-<hex>.sig` (or `.att`) in the
//!   image's repository, one layer per signature, new signatures appended;
//! - OCI 1.1 referrers: a manifest whose `subject` is the image, found through the
//!   referrers API or the referrers tag schema.

use std::collections::BTreeMap;

use oci_client::Reference;
use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::Serialize;

use crate::dsse::{self, Envelope, Statement};
use crate::payload::{self, SimpleSigning};
use crate::registry::{self, Descriptor, Manifest, Registry, RegistryError};

pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// Config media type (= artifact type) of cosign's OCI 1.1 signature referrers.
pub const SIG_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// Artifact type of attestation referrers (cosign's `WriteAttestationsReferrer`).
pub const ATTESTATION_ARTIFACT_TYPE: &str = dsse::INTOTO_PAYLOAD_TYPE;
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const IMAGE_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// Where signatures are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// cosign's `sha256-<hex>.sig` / `.att` tags.
    Tag,
    /// OCI 1.1 referrers (manifest with `subject`).
    Referrers,
}

/// Errors of image-level operations.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("malformed signature manifest {reference}: {reason}")]
    BadSignatureManifest { reference: String, reason: String },
}

/// An image resolved to its digest: what signatures refer to.
#[derive(Debug, Clone)]
pub struct Target {
    /// The reference as given (tag or digest).
    pub reference: Reference,
    /// The same image pinned by digest.
    pub pinned: Reference,
    /// Descriptor of the image manifest (media type, size, digest).
    pub descriptor: Descriptor,
}

impl Target {
    pub fn digest(&self) -> &str {
        &self.descriptor.digest
    }

    /// Repository name as cosign puts it in `docker-reference` (registry/repository).
    pub fn docker_reference(&self) -> String {
        format!(
            "{}/{}",
            self.reference.registry(),
            self.reference.repository()
        )
    }

    fn tag(&self, suffix: &str) -> Reference {
        Reference::with_tag(
            self.reference.registry().to_string(),
            self.reference.repository().to_string(),
            format!("{}{suffix}", self.digest().replacen(':', "-", 1)),
        )
    }
}

/// Resolves `image` to its digest: tags are looked up once, so every later step
/// signs and verifies exactly the same manifest.
pub async fn resolve(reg: &Registry, image: &str) -> Result<Target, ImageError> {
    let reference = Registry::parse_reference(image)?;
    let (_, descriptor) = reg.get_manifest(&reference).await?;
    if let Some(d) = reference.digest()
        && d != descriptor.digest
    {
        return Err(RegistryError::DigestMismatch {
            reference: reference.whole(),
            digest: d.to_string(),
        }
        .into());
    }
    let pinned = Reference::with_digest(
        reference.registry().to_string(),
        reference.repository().to_string(),
        descriptor.digest.clone(),
    );
    Ok(Target {
        reference,
        pinned,
        descriptor,
    })
}

/// What `sign` stored.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    /// Tag or digest reference of the manifest that now holds the signature.
    pub location: String,
    pub manifest_digest: String,
}

/// One signature layer to store: blob, media type and layer annotations.
struct LayerSpec {
    blob: Vec<u8>,
    media_type: &'static str,
    annotations: BTreeMap<String, String>,
}

/// Signs `target` with cosign's simple-signing payload and stores it in `layout`.
pub async fn sign(
    reg: &Registry,
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
    reg: &Registry,
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
    reg: &Registry,
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
    reg: &Registry,
    target: &Target,
    suffix: &str,
    layer: LayerSpec,
) -> Result<Stored, ImageError> {
    let tag = target.tag(suffix);
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
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(registry::OCI_MANIFEST.into()),
        artifact_type: None,
        config: config_desc,
        layers,
        subject: None,
        annotations: None,
    };
    let body = serde_json::to_vec(&manifest).expect("plain structs serialise");
    let digest = reg.put_manifest(&tag, body, registry::OCI_MANIFEST).await?;
    Ok(Stored {
        location: tag.whole(),
        manifest_digest: digest,
    })
}

/// cosign's experimental OCI 1.1 signature: the signature image with its config media type
/// set to the artifact type and a `subject`.
async fn push_cosign_style_referrer(
    reg: &Registry,
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
        schema_version: 2,
        media_type: Some(registry::OCI_MANIFEST.into()),
        artifact_type: None,
        config: config_desc,
        layers,
        subject: Some(subject_descriptor(target)),
        annotations: None,
    };
    let stored = reg.put_referrer(&target.pinned, &manifest).await?;
    Ok(Stored::by_digest(target, stored.digest))
}

impl Stored {
    /// A referrer, addressed by digest in the target's repository.
    fn by_digest(target: &Target, digest: String) -> Stored {
        Stored {
            location: format!(
                "{}/{}@{}",
                target.reference.registry(),
                target.reference.repository(),
                digest
            ),
            manifest_digest: digest,
        }
    }
}

fn subject_descriptor(target: &Target) -> Descriptor {
    Descriptor {
        media_type: target.descriptor.media_type.clone(),
        size: target.descriptor.size,
        digest: target.descriptor.digest.clone(),
        annotations: None,
        artifact_type: None,
    }
}

/// cosign's `WriteReferrer`: empty config, `artifactType`, `subject`, creation annotation.
async fn push_referrer(
    reg: &Registry,
    target: &Target,
    artifact_type: &str,
    layers: Vec<LayerSpec>,
    mut annotations: BTreeMap<String, String>,
) -> Result<Stored, ImageError> {
    let config_desc = reg
        .put_blob(&target.pinned, b"{}", EMPTY_MEDIA_TYPE)
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
        .entry("org.opencontainers.image.created".into())
        .or_insert_with(now_rfc3339);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(registry::OCI_MANIFEST.into()),
        artifact_type: Some(artifact_type.into()),
        config: Descriptor {
            artifact_type: Some(artifact_type.into()),
            ..config_desc
        },
        layers: descs,
        subject: Some(subject_descriptor(target)),
        annotations: Some(annotations),
    };
    let stored = reg.put_referrer(&target.pinned, &manifest).await?;
    Ok(Stored::by_digest(target, stored.digest))
}

/// Pushes a Sigstore bundle as an OCI referrer, as cosign v3 does.
pub async fn push_bundle(
    reg: &Registry,
    target: &Target,
    bundle: Vec<u8>,
    predicate_type: &str,
) -> Result<Stored, ImageError> {
    let annotations = [
        (
            "dev.sigstore.bundle.content".to_string(),
            "dsse-envelope".to_string(),
        ),
        (
            "dev.sigstore.bundle.predicateType".to_string(),
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

/// Seconds-precision UTC timestamp (RFC 3339), now.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------------------------------
// Discovery

/// A signature-like object found for an image, before any verification.
#[derive(Debug, Clone)]
pub struct Found {
    /// Where it was found (tag or referrer manifest), for messages.
    pub source: String,
    pub kind: FoundKind,
}

#[derive(Debug, Clone)]
pub enum FoundKind {
    /// A simple-signing payload and its layer annotations (signature, certificate, bundle).
    SimpleSigning {
        payload: Vec<u8>,
        annotations: BTreeMap<String, String>,
    },
    /// A DSSE envelope (attestation).
    Dsse { envelope: Vec<u8> },
    /// A Sigstore bundle (cosign v3).
    Bundle { bundle: Vec<u8> },
}

/// Collects every signature, attestation and bundle attached to `target`, in both layouts.
/// Unreadable items are reported as `Err` entries rather than aborting the search.
/// Lookups and blob reads run concurrently: on a registry they are round-trip bound.
pub async fn discover(
    reg: &Registry,
    target: &Target,
) -> Result<Vec<Result<Found, String>>, ImageError> {
    let sig_tag = target.tag(".sig");
    let att_tag = target.tag(".att");
    let (sig, att, referrers) = futures_util::future::join3(
        reg.get_manifest_opt(&sig_tag),
        reg.get_manifest_opt(&att_tag),
        reg.referrers(&target.pinned, None),
    )
    .await;
    let mut manifests: Vec<(Reference, String, Result<Vec<u8>, String>)> = Vec::new();
    for (tag, m) in [(sig_tag, sig?), (att_tag, att?)] {
        if let Some((body, _)) = m {
            manifests.push((tag.clone(), tag.whole(), Ok(body)));
        }
    }
    let referrer_refs: Vec<Reference> = referrers?
        .iter()
        .map(|d| {
            Reference::with_digest(
                target.reference.registry().to_string(),
                target.reference.repository().to_string(),
                d.digest.clone(),
            )
        })
        .collect();
    let fetched =
        futures_util::future::join_all(referrer_refs.iter().map(|r| reg.get_manifest(r))).await;
    for (r, m) in referrer_refs.into_iter().zip(fetched) {
        let source = format!("referrer {}", r.digest().unwrap_or_default());
        manifests.push((r, source, m.map(|(b, _)| b).map_err(|e| e.to_string())));
    }

    // Every signature layer of every manifest, then all blob reads at once.
    let mut out = Vec::new();
    let mut wanted: Vec<(Reference, String, Descriptor)> = Vec::new();
    for (at, source, body) in manifests {
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                out.push(Err(format!("{source}: {e}")));
                continue;
            }
        };
        match serde_json::from_slice::<Manifest>(&body) {
            Ok(m) => {
                for layer in m.layers {
                    if kind_of(&layer, Vec::new()).is_some() {
                        wanted.push((at.clone(), source.clone(), layer));
                    }
                }
            }
            Err(e) => out.push(Err(format!("{source}: not an image manifest: {e}"))),
        }
    }
    let blobs =
        futures_util::future::join_all(wanted.iter().map(|(at, _, l)| reg.get_blob(at, l))).await;
    for ((_, source, layer), blob) in wanted.into_iter().zip(blobs) {
        match blob {
            Ok(blob) => out.push(Ok(Found {
                source,
                kind: kind_of(&layer, blob).expect("filtered above"),
            })),
            Err(e) => out.push(Err(format!("{source}: {e}"))),
        }
    }
    Ok(out)
}

impl FoundKind {
    /// Attestations are DSSE layers and bundles of any statement but cosign's image
    /// signature (the bundle's claim decides the route; verification then checks it).
    pub fn is_attestation(&self) -> bool {
        match self {
            Self::Dsse { .. } => true,
            Self::Bundle { bundle } => crate::bundle::is_attestation(bundle),
            Self::SimpleSigning { .. } => false,
        }
    }

    /// What `verify-attestation` looks at: attestations, and also signature bundles when
    /// their predicate type is explicitly asked for (as cosign v3 selects bundle
    /// referrers by their predicate type).
    pub fn is_attestation_for(&self, predicate_type: Option<&str>) -> bool {
        match (self, predicate_type) {
            (Self::Bundle { bundle }, Some(t)) => {
                crate::bundle::claimed_predicate_type(bundle).as_deref() == Some(t)
                    || self.is_attestation()
            }
            _ => self.is_attestation(),
        }
    }
}

/// Classifies a layer by media type; `None` for layers that are not signatures
/// (SBOMs and other accessories are not ours to judge).
fn kind_of(layer: &Descriptor, blob: Vec<u8>) -> Option<FoundKind> {
    match layer.media_type.as_str() {
        SIMPLESIGNING_MEDIA_TYPE => Some(FoundKind::SimpleSigning {
            payload: blob,
            annotations: layer.annotations.clone().unwrap_or_default(),
        }),
        DSSE_MEDIA_TYPE => Some(FoundKind::Dsse { envelope: blob }),
        m if m.starts_with("application/vnd.dev.sigstore.bundle") => {
            Some(FoundKind::Bundle { bundle: blob })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Verification

/// Outcome of verifying everything found for an image.
#[derive(Debug, Default)]
pub struct Report {
    /// Verified payloads (simple-signing documents, or statements for bundles), as JSON.
    pub verified: Vec<serde_json::Value>,
    /// Why each other candidate was rejected: (source, reason).
    pub rejected: Vec<(String, String)>,
    /// What verified candidates carried but was deliberately not used (verbose output).
    pub notes: Vec<String>,
}

impl Report {
    /// One line per rejected candidate, for the "no valid signature" error.
    pub fn explain(&self) -> String {
        if self.rejected.is_empty() {
            return "no signatures found".into();
        }
        self.rejected
            .iter()
            .map(|(s, r)| format!("  {s}: {r}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Statement predicate type cosign v3 uses for image signatures in bundles.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Verifies the simple-signing signatures (both layouts) of `target` with `key`.
pub async fn verify_signatures(
    reg: &Registry,
    target: &Target,
    key: &VerifyingKey,
    required: &BTreeMap<String, String>,
) -> Result<Report, ImageError> {
    let found = discover(reg, target).await?;
    Ok(verify_found_signatures(
        &found,
        target.digest(),
        key,
        required,
    ))
}

/// Pure part of [`verify_signatures`]: checks already-fetched candidates.
pub fn verify_found_signatures(
    found: &[Result<Found, String>],
    digest: &str,
    key: &VerifyingKey,
    required: &BTreeMap<String, String>,
) -> Report {
    let mut report = Report::default();
    for f in found {
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                report.rejected.push(("registry".into(), e.clone()));
                continue;
            }
        };
        if f.kind.is_attestation() {
            continue; // attestations are checked by verify-attestation
        }
        let result = match &f.kind {
            FoundKind::SimpleSigning {
                payload,
                annotations,
            } => verify_simple_signing(payload, annotations, digest, key, required),
            FoundKind::Bundle { bundle } => {
                crate::bundle::verify_bundle_with_key(bundle, digest, key, required)
            }
            FoundKind::Dsse { .. } => continue,
        };
        match result {
            Ok(v) => report.verified.push(v),
            Err(e) => report.rejected.push((f.source.clone(), e)),
        }
    }
    report
}

fn verify_simple_signing(
    payload: &[u8],
    annotations: &BTreeMap<String, String>,
    digest: &str,
    key: &VerifyingKey,
    required: &BTreeMap<String, String>,
) -> Result<serde_json::Value, String> {
    let sig = annotations
        .get(SIGNATURE_ANNOTATION)
        .ok_or_else(|| format!("layer has no {SIGNATURE_ANNOTATION} annotation"))?;
    payload::verify_b64(key, payload, sig).map_err(|e| e.to_string())?;
    let doc = SimpleSigning::parse(payload).map_err(|e| e.to_string())?;
    doc.check(digest, required).map_err(|e| e.to_string())?;
    serde_json::from_slice(payload).map_err(|e| e.to_string())
}

/// Verifies attestations of `target` with `key` (`.att` tag, DSSE referrers and v3
/// bundle referrers), optionally only of one predicate type.
/// Verified entries are the in-toto statements.
pub async fn verify_attestations(
    reg: &Registry,
    target: &Target,
    key: &VerifyingKey,
    predicate_type: Option<&str>,
) -> Result<Report, ImageError> {
    let found = discover(reg, target).await?;
    Ok(verify_found_attestations(
        &found,
        target.digest(),
        key,
        predicate_type,
    ))
}

/// Pure part of [`verify_attestations`].
pub fn verify_found_attestations(
    found: &[Result<Found, String>],
    digest: &str,
    key: &VerifyingKey,
    predicate_type: Option<&str>,
) -> Report {
    let mut report = Report::default();
    for f in found {
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                report.rejected.push(("registry".into(), e.clone()));
                continue;
            }
        };
        if !f.kind.is_attestation_for(predicate_type) {
            continue;
        }
        let result = match &f.kind {
            FoundKind::Dsse { envelope } => {
                verify_attestation_envelope(envelope, digest, key, predicate_type)
            }
            FoundKind::Bundle { bundle } => crate::bundle::verify_attestation_bundle_with_key(
                bundle,
                digest,
                key,
                predicate_type,
            ),
            FoundKind::SimpleSigning { .. } => continue,
        };
        match result {
            Ok(v) => report.verified.push(v),
            Err(e) => report.rejected.push((f.source.clone(), e)),
        }
    }
    report
}

/// Checks one DSSE attestation: signature, payload type, subject digest, predicate type.
pub fn verify_attestation_envelope(
    envelope: &[u8],
    digest: &str,
    key: &VerifyingKey,
    predicate_type: Option<&str>,
) -> Result<serde_json::Value, String> {
    let env = Envelope::parse(envelope).map_err(|e| e.to_string())?;
    let payload = env.verify(key).map_err(|e| e.to_string())?;
    if env.payload_type != dsse::INTOTO_PAYLOAD_TYPE {
        return Err(dsse::DsseError::WrongPayloadType(env.payload_type).to_string());
    }
    let statement =
        dsse::check_attestation(&payload, digest, predicate_type).map_err(|e| e.to_string())?;
    serde_json::to_value(&statement).map_err(|e| e.to_string())
}
