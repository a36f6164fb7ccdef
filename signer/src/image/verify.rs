//! Verifying what discovery found against a public key: simple-signing signatures,
//! DSSE attestations and key-based bundles.

use std::collections::BTreeMap;

use p256::ecdsa::VerifyingKey;
use wharf_oci::Client;

use super::{Found, FoundKind, ImageError, SIGNATURE_ANNOTATION, Target, discover};
use crate::dsse::{self, Envelope};
use crate::payload::{self, SimpleSigning};

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

/// Verifies the simple-signing signatures (both layouts) of `target` with `key`.
pub async fn verify_signatures(
    reg: &Client,
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
    tally(found, |f| {
        if f.kind.is_attestation() {
            return None; // attestations are checked by verify-attestation
        }
        match &f.kind {
            FoundKind::SimpleSigning {
                payload,
                annotations,
            } => Some(verify_simple_signing(
                payload,
                annotations,
                digest,
                key,
                required,
            )),
            FoundKind::Bundle { bundle } => Some(crate::bundle::verify_bundle_with_key(
                bundle, digest, key, required,
            )),
            FoundKind::Dsse { .. } => None,
        }
    })
}

/// Runs `check` on every candidate it applies to (`None`: not this verifier's kind);
/// registry failures and failed checks become rejections with their reason.
fn tally(
    found: &[Result<Found, String>],
    check: impl Fn(&Found) -> Option<Result<serde_json::Value, String>>,
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
        match check(f) {
            Some(Ok(v)) => report.verified.push(v),
            Some(Err(e)) => report.rejected.push((f.source.clone(), e)),
            None => {}
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
    reg: &Client,
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
    tally(found, |f| {
        if !f.kind.is_attestation_for(predicate_type) {
            return None;
        }
        match &f.kind {
            FoundKind::Dsse { envelope } => Some(verify_attestation_envelope(
                envelope,
                digest,
                key,
                predicate_type,
            )),
            FoundKind::Bundle { bundle } => {
                Some(crate::bundle::verify_attestation_bundle_with_key(
                    bundle,
                    digest,
                    key,
                    predicate_type,
                ))
            }
            FoundKind::SimpleSigning { .. } => None,
        }
    })
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
