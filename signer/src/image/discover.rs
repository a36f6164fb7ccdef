//! Finding signatures, attestations and bundles of an image in all three layouts, before
//! any verification.

use std::collections::BTreeMap;

use wharf_oci::media_types::SIGSTORE_BUNDLE_PREFIX;
use wharf_oci::reference::with_digest;
use wharf_oci::{Client, Descriptor, Manifest, Reference};

use super::{DSSE_MEDIA_TYPE, ImageError, SIMPLESIGNING_MEDIA_TYPE, Target};

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
    reg: &Client,
    target: &Target,
) -> Result<Vec<Result<Found, String>>, ImageError> {
    let sig_tag = target.tag(".sig")?;
    let att_tag = target.tag(".att")?;
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
        .map(|d| with_digest(&target.reference, &d.digest))
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
        m if m.starts_with(SIGSTORE_BUNDLE_PREFIX) => Some(FoundKind::Bundle { bundle: blob }),
        _ => None,
    }
}
