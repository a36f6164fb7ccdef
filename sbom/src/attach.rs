//! SBOMs as OCI 1.1 referrers (distribution-spec "Pushing Manifests with Subject",
//! image-spec "Guidelines for Artifact Usage"): an image manifest whose `artifactType` is the
//! SBOM media type, config the empty descriptor, one layer the document, `subject` the image.
//! Registries without the referrers API get the referrers tag schema (`sha256-<hex>` index,
//! written by [`wharf_oci::Client::put_referrer`]).
//! Fetching also reads cosign's legacy `sha256-<hex>.sbom` tag.

use serde_json::Value;
use wharf_oci::media_types::{DOCKER_LIST, EMPTY, EMPTY_BLOB, OCI_INDEX, annotations};
use wharf_oci::reference::{with_digest, with_tag};
use wharf_oci::{BlockingClient, Descriptor, Index, Manifest, Reference, parse_remote_reference};

use crate::read::MAX_SBOM;
use crate::{Error, Format, Result};

pub use wharf_oci::Via;

/// The empty JSON config blob `{}` (image-spec descriptor.md "Guidance for an Empty Descriptor").
pub const EMPTY_MEDIA_TYPE: &str = EMPTY;

#[derive(Debug, Clone)]
pub struct Attached {
    /// Digest of the image manifest the SBOM is attached to.
    pub subject: String,
    /// Digest of the referrer (artifact) manifest.
    pub manifest: String,
    pub via: Via,
}

/// The descriptor of the manifest `reference` names, descending an index to `platform`
/// (`os/arch[/variant]`, default linux/amd64) — SBOMs describe one platform's image.
/// The reference returned is pinned to that manifest's digest.
pub fn resolve_subject(
    client: &BlockingClient,
    reference: &str,
    platform: Option<&str>,
) -> Result<(Reference, Descriptor)> {
    let r = parse_remote_reference(reference)?;
    let (mut body, mut desc) = client.get_manifest(&r)?;
    for _ in 0..4 {
        if desc.media_type != OCI_INDEX && desc.media_type != DOCKER_LIST {
            return Ok((with_digest(&r, &desc.digest), desc));
        }
        let index: Index = serde_json::from_slice(&body)
            .map_err(|e| Error::BadDocument(format!("manifest {}: {e}", desc.digest)))?;
        let want = platform.unwrap_or("linux/amd64");
        let pick = index
            .manifests
            .iter()
            .find(|m| m.platform.as_ref().is_some_and(|p| p.matches(want)))
            .ok_or_else(|| Error::NotFound(format!("{reference} for platform {want}")))?;
        (body, desc) = client.get_manifest(&with_digest(&r, &pick.digest))?;
    }
    Err(Error::BadDocument("indexes nested too deeply".into()))
}

/// Pushes `sbom` as a referrer of the image `reference` names.
pub fn attach(
    client: &BlockingClient,
    reference: &str,
    platform: Option<&str>,
    sbom: &[u8],
    format: Format,
) -> Result<Attached> {
    let (subject_ref, subject) = resolve_subject(client, reference, platform)?;
    let mut config = client.put_blob(&subject_ref, EMPTY_BLOB, EMPTY)?;
    config.data = Some("e30=".into());
    let mut layer = client.put_blob(&subject_ref, sbom, format.media_type())?;
    let file = match format {
        Format::SpdxJson => "sbom.spdx.json",
        Format::CycloneDxJson => "sbom.cdx.json",
    };
    layer.annotations = Some([(annotations::TITLE.to_string(), file.to_string())].into());
    let subject_digest = subject.digest.clone();
    let manifest = Manifest {
        artifact_type: Some(format.media_type().to_string()),
        subject: Some(subject),
        ..Manifest::new(config, vec![layer])
    };
    let (desc, via) = client.put_referrer(&subject_ref, &manifest)?;
    Ok(Attached {
        subject: subject_digest,
        manifest: desc.digest,
        via,
    })
}

/// An SBOM found for an image.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub format: Format,
    pub document: Vec<u8>,
    /// Where it was found: `referrer sha256:…` or `tag sha256-….sbom`.
    pub source: String,
}

fn sbom_format(media: &str) -> Option<Format> {
    let m = media.to_ascii_lowercase();
    if m.contains("spdx") && m.contains("json") {
        Some(Format::SpdxJson)
    } else if m.contains("cyclonedx") && m.contains("json") {
        Some(Format::CycloneDxJson)
    } else {
        None
    }
}

/// Reads the SBOM attached to an image: referrers (API or tag schema) first, then cosign's
/// legacy `sha256-<hex>.sbom` tag. `want` restricts the format.
pub fn fetch(
    client: &BlockingClient,
    reference: &str,
    platform: Option<&str>,
    want: Option<Format>,
) -> Result<Fetched> {
    let (subject_ref, subject) = resolve_subject(client, reference, platform)?;
    let subject_digest = subject.digest;
    let mut digests: Vec<String> = client
        .referrers(&subject_ref, None)?
        .into_iter()
        .map(|d| d.digest)
        .collect();
    digests.sort();
    for d in digests {
        let (body, _) = client.get_manifest(&with_digest(&subject_ref, &d))?;
        // Indexes and other non-image referrers are not SBOMs.
        let Ok(m) = serde_json::from_slice::<Manifest>(&body) else {
            continue;
        };
        let Some(fmt) = sbom_format(m.effective_artifact_type()) else {
            continue;
        };
        if want.is_some_and(|w| w != fmt) {
            continue;
        }
        if let Some(layer) = m.layers.first() {
            let document = client.get_blob_limited(&subject_ref, &layer.digest, MAX_SBOM)?;
            return Ok(Fetched {
                format: fmt,
                document,
                source: format!("referrer {d}"),
            });
        }
    }
    // cosign's legacy scheme: the SBOM is the first layer of the image tagged `<alg>-<hex>.sbom`.
    let tag = wharf_oci::referrers::tag_with_suffix(&subject_digest, ".sbom")?;
    if let Some((body, _)) = client.get_manifest_opt(&with_tag(&subject_ref, &tag))? {
        let m: Value =
            serde_json::from_slice(&body).map_err(|e| Error::BadDocument(format!("{tag}: {e}")))?;
        if let Some(layer) = m["layers"][0]["digest"].as_str() {
            let document = client.get_blob_limited(&subject_ref, layer, MAX_SBOM)?;
            let format = m["layers"][0]["mediaType"]
                .as_str()
                .and_then(sbom_format)
                .or_else(|| crate::read::parse_bytes(&document).ok().map(|x| x.0))
                .ok_or_else(|| {
                    Error::BadDocument(format!("{tag}: not an SPDX or CycloneDX JSON SBOM"))
                })?;
            if want.is_none_or(|w| w == format) {
                return Ok(Fetched {
                    format,
                    document,
                    source: format!("tag {tag}"),
                });
            }
        }
    }
    Err(Error::NotFound(format!("{reference} ({subject_digest})")))
}
