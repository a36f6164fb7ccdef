//! The referrers tag schema (distribution-spec 1.1, "Referrers Tag Schema"): on a
//! registry without the referrers API, the referrers of `sha256:<hex>` are listed in an
//! image index tagged `sha256-<hex>`, which the client that pushes a referrer updates.
//!
//! Reading it is oci-client's `pull_referrers` (it falls back to this tag on a 404 from
//! the API); what is here is the pure part of writing it, so it can be tested without a
//! registry, and the tag names, so cosign's `.sig`/`.att`/`.sbom` tags are spelt once.

use crate::digest::Digest;
use crate::manifest::{Descriptor, Index};
use crate::{Error, Result};

/// How a pushed referrer became discoverable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The registry lists it through `GET /v2/<name>/referrers/<digest>`.
    ReferrersApi,
    /// We added it to the `sha256-<hex>` index tag (registry without the referrers API).
    TagSchema,
}

/// The tag of `subject`'s referrers index: `<alg>-<hex>`. The digest is parsed strictly,
/// so the tag is always a valid tag.
pub fn tag_for(subject: &str) -> Result<String> {
    tag_with_suffix(subject, "")
}

/// cosign's tag for things attached to `subject`: `<alg>-<hex><suffix>` (`.sig`, `.att`,
/// `.sbom`).
pub fn tag_with_suffix(subject: &str, suffix: &str) -> Result<String> {
    let d: Digest = subject
        .parse()
        .map_err(|e| Error::BadReference(subject.to_string(), format!("subject digest: {e}")))?;
    Ok(format!("{}-{}{suffix}", d.algorithm().as_str(), d.hex()))
}

/// The index to push under the tag after adding `referrer`, given what the tag holds now
/// (`None`: the tag does not exist, so start from an empty index). `Ok(None)` when the
/// referrer is already listed: nothing to push. A tag that holds something other than an
/// image index is an error rather than overwritten: it is somebody else's data.
pub fn append(current: Option<&[u8]>, referrer: &Descriptor) -> Result<Option<Index>> {
    let mut index = match current {
        None => Index::empty(),
        Some(body) => {
            let value: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| not_an_index(referrer, e.to_string()))?;
            if !value.get("manifests").is_some_and(|m| m.is_array()) {
                return Err(not_an_index(referrer, "it has no manifests list".into()));
            }
            serde_json::from_value(value).map_err(|e| not_an_index(referrer, e.to_string()))?
        }
    };
    if index.manifests.iter().any(|d| d.digest == referrer.digest) {
        return Ok(None);
    }
    index.manifests.push(referrer.clone());
    Ok(Some(index))
}

fn not_an_index(referrer: &Descriptor, reason: String) -> Error {
    Error::BadManifest {
        reference: format!("referrers tag for {}", referrer.digest),
        reason: format!("not an image index: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media_types::{OCI_INDEX, OCI_MANIFEST};

    const SUBJECT: &str = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";

    fn referrer(n: u8) -> Descriptor {
        let mut d = Descriptor::new(
            OCI_MANIFEST,
            100 + n as u64,
            format!("sha256:{}", format!("{n:02x}").repeat(32)),
        );
        d.artifact_type = Some("application/spdx+json".into());
        d
    }

    #[test]
    fn tags_follow_the_spec_and_cosign() {
        // distribution-spec: "sha256:abc…" → tag "sha256-abc…".
        assert_eq!(
            tag_for(SUBJECT).unwrap(),
            "sha256-5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
        );
        assert_eq!(
            tag_with_suffix(SUBJECT, ".sig").unwrap(),
            "sha256-5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270.sig"
        );
        assert!(tag_for("sha256:../etc").is_err());
        assert!(tag_for("latest").is_err());
    }

    #[test]
    fn append_starts_adds_and_does_not_repeat() {
        let first = append(None, &referrer(1)).unwrap().unwrap();
        assert_eq!(first.media_type.as_deref(), Some(OCI_INDEX));
        assert_eq!(first.manifests, vec![referrer(1)]);
        let body = first.to_bytes();
        assert_eq!(append(Some(&body), &referrer(1)).unwrap(), None);
        let second = append(Some(&body), &referrer(2)).unwrap().unwrap();
        assert_eq!(second.manifests, vec![referrer(1), referrer(2)]);
    }

    /// An index another tool wrote (Docker media type, extra fields) is extended, not
    /// rewritten: its entries survive.
    #[test]
    fn append_keeps_foreign_entries() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","size":7,"digest":"sha256:{}","artifactType":"application/vnd.example","annotations":{{"k":"v"}}}}],"annotations":{{"x":"y"}}}}"#,
            "e".repeat(64)
        );
        let out = append(Some(body.as_bytes()), &referrer(3))
            .unwrap()
            .unwrap();
        assert_eq!(out.manifests.len(), 2);
        assert_eq!(out.manifests[0].annotations.as_ref().unwrap()["k"], "v");
        assert_eq!(out.manifests[1], referrer(3));
    }

    #[test]
    fn append_refuses_a_tag_that_is_not_an_index() {
        let m = br#"{"schemaVersion":2,"config":{"mediaType":"a","size":1,"digest":"sha256:aa"},"layers":[]}"#;
        assert!(matches!(
            append(Some(m), &referrer(1)),
            Err(Error::BadManifest { .. })
        ));
        assert!(matches!(
            append(Some(b"not json"), &referrer(1)),
            Err(Error::BadManifest { .. })
        ));
    }
}
