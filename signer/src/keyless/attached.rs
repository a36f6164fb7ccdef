//! Keyless verification of everything attached to an image in a registry (both
//! layouts, all formats), as `wharf verify` and the policy collector see it.

use std::collections::BTreeMap;

use super::identity::IdentityPolicy;
use super::verify::{verify_attestation_bundle, verify_bundle, verify_simple_signing};
use crate::image::{self, Found, FoundKind, Report, Target};
use crate::trusted_root::TrustedRoot;
use wharf_oci::Client as Registry;

/// What is attached to `target`; what the registry failed to return is recorded in
/// `report` as rejected, so one broken referrer does not hide the others.
async fn discover(
    reg: &Registry,
    target: &Target,
    report: &mut Report,
) -> Result<Vec<Found>, image::ImageError> {
    let mut found = Vec::new();
    for f in image::discover(reg, target).await? {
        match f {
            Ok(f) => found.push(f),
            Err(e) => report.rejected.push(("registry".into(), e)),
        }
    }
    Ok(found)
}

/// Verifies every keyless signature attached to `target` (both layouts, all formats).
pub async fn verify_image(
    reg: &Registry,
    target: &Target,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    required: &BTreeMap<String, String>,
) -> Result<Report, image::ImageError> {
    let mut report = Report::default();
    for f in discover(reg, target, &mut report).await? {
        if f.kind.is_attestation() {
            continue; // see verify_image_attestations
        }
        let r = match &f.kind {
            FoundKind::Bundle { bundle } => {
                verify_bundle(bundle, target.digest(), root, policy, required)
            }
            FoundKind::SimpleSigning {
                payload,
                annotations,
            } => verify_simple_signing(
                payload,
                annotations,
                target.digest(),
                root,
                policy,
                required,
            ),
            FoundKind::Dsse { .. } => continue,
        };
        match r {
            Ok(v) => {
                report.notes.extend(v.notes);
                report.verified.push(v.payload);
            }
            Err(e) => report.rejected.push((f.source, e.to_string())),
        }
    }
    Ok(report)
}

/// Verifies every keyless attestation attached to `target`, optionally of one predicate
/// type. Attestations in Sigstore bundles carry their certificate and log entry; legacy
/// DSSE layers (`.att`, DSSE referrers) are reported as not verifiable keyless here.
pub async fn verify_image_attestations(
    reg: &Registry,
    target: &Target,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    predicate_type: Option<&str>,
) -> Result<Report, image::ImageError> {
    let mut report = Report::default();
    for f in discover(reg, target, &mut report).await? {
        if !f.kind.is_attestation_for(predicate_type) {
            continue;
        }
        let r = match &f.kind {
            FoundKind::Bundle { bundle } => {
                verify_attestation_bundle(bundle, target.digest(), root, policy, predicate_type)
                    .map(|v| {
                        report.notes.extend(v.notes);
                        v.payload
                    })
                    .map_err(|e| e.to_string())
            }
            FoundKind::Dsse { .. } => Err(
                "DSSE attestation without a Sigstore bundle: keyless verification reads \
                 attestations from bundles only (verify this one with --key)"
                    .to_string(),
            ),
            FoundKind::SimpleSigning { .. } => continue,
        };
        match r {
            Ok(v) => report.verified.push(v),
            Err(e) => report.rejected.push((f.source, e)),
        }
    }
    Ok(report)
}
