//! SBOMs as OCI 1.1 referrers (distribution-spec "Pushing Manifests with Subject",
//! image-spec "Guidelines for Artifact Usage"): an image manifest whose `artifactType` is the
//! SBOM media type, config the empty descriptor, one layer the document, `subject` the image.
//! Registries without the referrers API get the referrers tag schema (`sha256-<hex>` index).
//! Fetching also reads cosign's legacy `sha256-<hex>.sbom` tag.

use serde_json::{Value, json};
use wharf_scanner::registry::{
    OCI_INDEX, OCI_MANIFEST, RegistryClient, parse_reference, sha256_digest,
};

use crate::read::MAX_SBOM;
use crate::{Error, Format, Result};

/// The empty JSON config blob `{}` (image-spec descriptor.md "Guidance for an Empty Descriptor").
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY: &[u8] = b"{}";

/// How the referrer became discoverable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The registry lists it through `GET /v2/<name>/referrers/<digest>`.
    ReferrersApi,
    /// We added it to the `sha256-<hex>` index tag (registry without the referrers API).
    TagSchema,
}

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
pub fn resolve_subject(
    client: &RegistryClient,
    reference: &str,
    platform: Option<&str>,
) -> Result<(oci_client_ref::Reference, Value)> {
    let r = parse_reference(reference)?;
    let (mut body, mut digest) = client.manifest(&r)?;
    for _ in 0..4 {
        let doc: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::BadDocument(format!("manifest {digest}: {e}")))?;
        let Some(list) = doc.get("manifests").and_then(Value::as_array) else {
            let media = doc
                .get("mediaType")
                .and_then(Value::as_str)
                .unwrap_or(OCI_MANIFEST)
                .to_string();
            let desc = json!({"mediaType": media, "digest": digest, "size": body.len()});
            return Ok((r.clone_with_digest(digest), desc));
        };
        let want = platform.unwrap_or("linux/amd64");
        let pick = list
            .iter()
            .find(|m| {
                let p = &m["platform"];
                let s = format!(
                    "{}/{}",
                    p["os"].as_str().unwrap_or(""),
                    p["architecture"].as_str().unwrap_or("")
                );
                s == want
                    || p["variant"]
                        .as_str()
                        .is_some_and(|v| format!("{s}/{v}") == want)
            })
            .and_then(|m| m["digest"].as_str())
            .ok_or_else(|| Error::NotFound(format!("{reference} for platform {want}")))?;
        (body, digest) = client.manifest(&r.clone_with_digest(pick.to_string()))?;
    }
    Err(Error::BadDocument("indexes nested too deeply".into()))
}

/// Re-exported so callers need not depend on oci-client themselves.
pub mod oci_client_ref {
    pub use oci_client::Reference;
}

/// Pushes `sbom` as a referrer of the image `reference` names.
pub fn attach(
    client: &RegistryClient,
    reference: &str,
    platform: Option<&str>,
    sbom: &[u8],
    format: Format,
) -> Result<Attached> {
    let (subject_ref, subject) = resolve_subject(client, reference, platform)?;
    let subject_digest = subject["digest"].as_str().unwrap_or_default().to_string();
    let empty = client.push_blob(&subject_ref, EMPTY.to_vec())?;
    let layer = client.push_blob(&subject_ref, sbom.to_vec())?;
    let file = match format {
        Format::SpdxJson => "sbom.spdx.json",
        Format::CycloneDxJson => "sbom.cdx.json",
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": format.media_type(),
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty, "size": EMPTY.len(), "data": "e30="},
        "layers": [{
            "mediaType": format.media_type(),
            "digest": layer,
            "size": sbom.len(),
            "annotations": {"org.opencontainers.image.title": file},
        }],
        "subject": subject,
    });
    let body = serde_json::to_vec(&manifest)?;
    let digest = sha256_digest(&body);
    client.push_manifest(
        &subject_ref.clone_with_digest(digest.clone()),
        body.clone(),
        OCI_MANIFEST,
    )?;
    let listed = client.referrers(&subject_ref)?;
    if listed.contains(&digest) {
        return Ok(Attached {
            subject: subject_digest,
            manifest: digest,
            via: Via::ReferrersApi,
        });
    }
    // No referrers API: add the descriptor to the `sha256-<hex>` index (tag schema).
    let tag = subject_digest.replace(':', "-");
    let tag_ref = oci_client::Reference::with_tag(
        subject_ref.registry().to_string(),
        subject_ref.repository().to_string(),
        tag,
    );
    let mut index = match client.manifest_opt(&tag_ref)? {
        Some((b, _)) => serde_json::from_slice::<Value>(&b)
            .ok()
            .filter(|v| v.get("manifests").is_some_and(Value::is_array))
            .unwrap_or_else(
                || json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
            ),
        None => json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
    };
    let list = index["manifests"].as_array_mut().expect("checked above");
    if !list.iter().any(|m| m["digest"] == json!(digest)) {
        list.push(json!({
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": body.len(),
            "artifactType": format.media_type(),
        }));
    }
    client.push_manifest(&tag_ref, serde_json::to_vec(&index)?, OCI_INDEX)?;
    Ok(Attached {
        subject: subject_digest,
        manifest: digest,
        via: Via::TagSchema,
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
    client: &RegistryClient,
    reference: &str,
    platform: Option<&str>,
    want: Option<Format>,
) -> Result<Fetched> {
    let (subject_ref, subject) = resolve_subject(client, reference, platform)?;
    let subject_digest = subject["digest"].as_str().unwrap_or_default().to_string();
    let mut digests = client.referrers(&subject_ref)?;
    digests.sort();
    for d in digests {
        let (body, _) = client.manifest(&subject_ref.clone_with_digest(d.clone()))?;
        let Ok(m) = serde_json::from_slice::<Value>(&body) else {
            continue;
        };
        let kind = m["artifactType"]
            .as_str()
            .or_else(|| m["config"]["mediaType"].as_str())
            .unwrap_or("");
        let Some(fmt) = sbom_format(kind) else {
            continue;
        };
        if want.is_some_and(|w| w != fmt) {
            continue;
        }
        if let Some(layer) = m["layers"][0]["digest"].as_str() {
            let document = client.blob_bytes(&subject_ref, layer, MAX_SBOM)?;
            return Ok(Fetched {
                format: fmt,
                document,
                source: format!("referrer {d}"),
            });
        }
    }
    // cosign's legacy scheme: the SBOM is the first layer of the image tagged `<alg>-<hex>.sbom`.
    let tag = format!("{}.sbom", subject_digest.replace(':', "-"));
    let tag_ref = oci_client::Reference::with_tag(
        subject_ref.registry().to_string(),
        subject_ref.repository().to_string(),
        tag.clone(),
    );
    if let Some((body, _)) = client.manifest_opt(&tag_ref)? {
        let m: Value =
            serde_json::from_slice(&body).map_err(|e| Error::BadDocument(format!("{tag}: {e}")))?;
        if let Some(layer) = m["layers"][0]["digest"].as_str() {
            let document = client.blob_bytes(&subject_ref, layer, MAX_SBOM)?;
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
