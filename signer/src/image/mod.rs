//! Signing, attesting and verifying images in a registry, in cosign's layouts.
//!
//! Two layouts are written and read:
//! - cosign's tag scheme: an image manifest tagged `sha256-<hex>.sig` (or `.att`) in the
//!   image's repository, one layer per signature, new signatures appended;
//! - OCI 1.1 referrers: a manifest whose `subject` is the image, found through the
//!   referrers API or the referrers tag schema; cosign v3's Sigstore bundles are
//!   referrers too.
//!
//! `write.rs` stores signatures and attestations, `discover.rs` finds every candidate in
//! the three layouts, `verify.rs` checks them against a key (keyless checks are in
//! [`crate::keyless`]). This module holds what they share: the resolved [`Target`].

mod discover;
mod verify;
mod write;

use wharf_oci::reference::{with_digest, with_tag};
use wharf_oci::{Client, Descriptor, Reference};

pub use discover::{Found, FoundKind, discover};
pub use verify::{
    Report, verify_attestation_envelope, verify_attestations, verify_found_attestations,
    verify_found_signatures, verify_signatures,
};
pub use wharf_oci::media_types::annotations::{
    COSIGN_CERTIFICATE as CERTIFICATE_ANNOTATION, COSIGN_CHAIN as CHAIN_ANNOTATION,
    COSIGN_REKOR_BUNDLE as REKOR_BUNDLE_ANNOTATION, COSIGN_SIGNATURE as SIGNATURE_ANNOTATION,
    PREDICATE_TYPE as PREDICATE_TYPE_ANNOTATION,
};
/// The media types and predicate this module's callers name, under their historical names.
pub use wharf_oci::media_types::{
    COSIGN_SIG_ARTIFACT as SIG_ARTIFACT_TYPE, COSIGN_SIGN_PREDICATE,
    COSIGN_SIMPLESIGNING as SIMPLESIGNING_MEDIA_TYPE, DSSE_ENVELOPE as DSSE_MEDIA_TYPE,
    EMPTY as EMPTY_MEDIA_TYPE, IMAGE_CONFIG as IMAGE_CONFIG_MEDIA_TYPE,
    IN_TOTO as ATTESTATION_ARTIFACT_TYPE, SIGSTORE_BUNDLE_V03 as BUNDLE_V03_MEDIA_TYPE,
};
pub use write::{attest, attest_bundle, push_bundle, sign};

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
    Registry(#[from] wharf_oci::Error),
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

    /// cosign's `sha256-<hex><suffix>` tag of this image (`.sig`, `.att`).
    fn tag(&self, suffix: &str) -> Result<Reference, ImageError> {
        let tag = wharf_oci::referrers::tag_with_suffix(self.digest(), suffix)?;
        Ok(with_tag(&self.reference, &tag))
    }
}

/// Resolves `image` to its digest: tags are looked up once, so every later step
/// signs and verifies exactly the same manifest.
pub async fn resolve(reg: &Client, image: &str) -> Result<Target, ImageError> {
    let reference = wharf_oci::parse_reference(image)?;
    let (_, descriptor) = reg.get_manifest(&reference).await?;
    if let Some(d) = reference.digest()
        && d != descriptor.digest
    {
        return Err(wharf_oci::Error::DigestMismatch {
            reference: reference.whole(),
            digest: d.to_string(),
        }
        .into());
    }
    let pinned = with_digest(&reference, &descriptor.digest);
    Ok(Target {
        reference,
        pinned,
        descriptor,
    })
}

/// What `sign` stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stored {
    /// Tag or digest reference of the manifest that now holds the signature.
    pub location: String,
    pub manifest_digest: String,
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
