//! Verifying one keyless signature or attestation: a Sigstore bundle (DSSE) or a legacy
//! simple-signing signature with its certificate and Rekor bundle annotations. Puts the
//! certificate, transparency log, timestamp and identity checks together, in the order
//! that gives the most precise error first.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::KeylessError;
use super::certificate::{leaf_key, verify_chain, verify_chain_at};
use super::identity::{CertIdentity, IdentityPolicy, cert_identity};
use super::tlog::{parse_bundle_entry, parse_rekor_bundle, verify_log_entry};
use crate::bundle::{self, Bundle};
use crate::decode::b64;
use crate::dsse;
use crate::image;
use crate::trusted_root::TrustedRoot;

/// A verified keyless signature.
#[derive(Debug, Clone)]
pub struct Verified {
    /// cosign-style verify output for the signature.
    pub payload: serde_json::Value,
    pub identity: CertIdentity,
    pub integrated_time: i64,
    /// Times from verified RFC 3161 signed timestamps (the certificate was valid at each).
    pub timestamps: Vec<i64>,
    /// What was found but deliberately not used, for verbose output.
    pub notes: Vec<String>,
}

/// Adds the certificate identity to the printed payload, as cosign does for keyless.
fn with_identity(mut payload: serde_json::Value, id: &CertIdentity) -> serde_json::Value {
    if !payload["optional"].is_object() {
        payload["optional"] = serde_json::json!({});
    }
    payload["optional"]["Issuer"] = id.issuer.clone().into();
    payload["optional"]["Subject"] = id.subject.clone().into();
    payload
}

/// What a keyless DSSE bundle proves once its certificate, signature and log entry
/// check out: the signed statement bytes, who signed them, and when.
struct VerifiedEnvelope {
    payload: Vec<u8>,
    identity: CertIdentity,
    integrated_time: i64,
    timestamps: Vec<i64>,
    notes: Vec<String>,
}

impl VerifiedEnvelope {
    /// The [`Verified`] result with `payload` as what is printed.
    fn into_verified(self, payload: serde_json::Value) -> Verified {
        Verified {
            payload,
            identity: self.identity,
            integrated_time: self.integrated_time,
            timestamps: self.timestamps,
            notes: self.notes,
        }
    }
}

/// Verifies a bundle's RFC 3161 timestamps over the envelope's signature against the
/// trusted TSAs; returns their times and notes. Like cosign, timestamps are not used
/// (and so not required to verify) when no TSA is trusted: the transparency log
/// entry, which is always required here, then dates the signature alone.
fn verify_timestamps(
    root: &TrustedRoot,
    vm: &bundle::VerificationMaterial,
    envelope: &dsse::Envelope,
) -> Result<(Vec<i64>, Vec<String>), KeylessError> {
    let tokens = crate::timestamp::bundle_timestamps(vm.timestamp_verification_data.as_ref())?;
    if tokens.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    if root.tsas.is_empty() {
        return Ok((
            Vec::new(),
            vec![format!(
                "the bundle carries {} RFC 3161 timestamp(s); no timestamp authority is trusted \
                 (trusted root timestampAuthorities or --timestamp-certificate-chain), so they \
                 were not used: the transparency log's integration time dates the signature",
                tokens.len()
            )],
        ));
    }
    let sigs: Vec<Vec<u8>> = envelope
        .signatures
        .iter()
        .filter_map(|s| STANDARD.decode(s.sig.trim()).ok())
        .collect();
    let mut times = Vec::new();
    // Every timestamp present must verify: a bad one is a forged or broken bundle.
    for token in &tokens {
        let mut last = KeylessError::Signature("envelope has no signature".into());
        let mut time = None;
        for sig in &sigs {
            match root.verify_timestamp(token, sig) {
                Ok(t) => {
                    time = Some(t);
                    break;
                }
                Err(e) => last = e.into(),
            }
        }
        times.push(time.ok_or(last)?);
    }
    Ok((times, Vec::new()))
}

/// The checks every keyless DSSE bundle needs, whatever its statement says.
fn verify_bundle_envelope(
    bytes: &[u8],
    root: &TrustedRoot,
    policy: &IdentityPolicy,
) -> Result<VerifiedEnvelope, KeylessError> {
    let bundle = Bundle::parse(bytes).map_err(KeylessError::Statement)?;
    let vm = &bundle.verification_material;
    let leaf_b64 = vm.leaf_certificate_b64().ok_or_else(|| {
        KeylessError::Certificate(
            "bundle has no signing certificate (key-based bundles need --key)".into(),
        )
    })?;
    let leaf_der = b64("certificate", leaf_b64).map_err(KeylessError::Certificate)?;
    let envelope = bundle::intoto_envelope(&bundle).map_err(KeylessError::Statement)?;
    let entry_json = vm
        .tlog_entries
        .first()
        .ok_or_else(|| KeylessError::Tlog("bundle has no transparency log entry".into()))?;
    let entry = parse_bundle_entry(entry_json)?;

    let (timestamps, notes) = verify_timestamps(root, vm, envelope)?;
    let mut times = vec![entry.integrated_time];
    times.extend(&timestamps);
    let leaf = verify_chain_at(root, &leaf_der, &times)?;
    let payload = envelope
        .verify(&leaf_key(&leaf)?)
        .map_err(|e| KeylessError::Signature(e.to_string()))?;
    verify_log_entry(root, &entry)?;
    // The log entry must record this very signature, payload and certificate.
    entry.check_records_dsse(&payload, envelope, &leaf_der)?;

    let identity = cert_identity(&leaf)?;
    policy.check(&identity)?;
    Ok(VerifiedEnvelope {
        payload,
        identity,
        integrated_time: entry.integrated_time,
        timestamps,
        notes,
    })
}

/// Verifies a keyless Sigstore bundle (v0.1–v0.3, DSSE) signing image `digest`.
pub fn verify_bundle(
    bytes: &[u8],
    digest: &str,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    required: &BTreeMap<String, String>,
) -> Result<Verified, KeylessError> {
    let v = verify_bundle_envelope(bytes, root, policy)?;
    let payload = bundle::check_signature_statement(&v.payload, digest, required)
        .map_err(KeylessError::Statement)?;
    let payload = with_identity(payload, &v.identity);
    Ok(v.into_verified(payload))
}

/// Verifies a keyless attestation bundle about image `digest` (cosign v3 `attest`),
/// optionally of one predicate type. The verified payload is the in-toto statement.
pub fn verify_attestation_bundle(
    bytes: &[u8],
    digest: &str,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    predicate_type: Option<&str>,
) -> Result<Verified, KeylessError> {
    let v = verify_bundle_envelope(bytes, root, policy)?;
    let statement = dsse::check_attestation(&v.payload, digest, predicate_type)
        .map_err(|e| KeylessError::Statement(e.to_string()))?;
    let payload =
        serde_json::to_value(&statement).map_err(|e| KeylessError::Statement(e.to_string()))?;
    Ok(v.into_verified(payload))
}

/// Verifies a legacy keyless simple-signing signature: certificate (and chain) annotations
/// plus the Rekor bundle annotation (`dev.sigstore.cosign/bundle`).
pub fn verify_simple_signing(
    payload: &[u8],
    annotations: &BTreeMap<String, String>,
    digest: &str,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    required: &BTreeMap<String, String>,
) -> Result<Verified, KeylessError> {
    let cert_pem = annotations
        .get(image::CERTIFICATE_ANNOTATION)
        .ok_or_else(|| {
            KeylessError::Certificate("signature has no certificate (key-based: use --key)".into())
        })?;
    let leaf_der = crate::pem::parse_first(cert_pem)
        .map_err(|e| KeylessError::Certificate(e.to_string()))?
        .contents;
    let entry = parse_rekor_bundle(
        annotations
            .get(image::REKOR_BUNDLE_ANNOTATION)
            .ok_or_else(|| KeylessError::Tlog("signature has no Rekor bundle annotation".into()))?,
    )?;
    let leaf = verify_chain(root, &leaf_der, entry.integrated_time)?;
    let key = leaf_key(&leaf)?;
    let sig = annotations
        .get(image::SIGNATURE_ANNOTATION)
        .ok_or_else(|| KeylessError::Signature("no signature annotation".into()))?;
    crate::payload::verify_b64(&key, payload, sig)
        .map_err(|e| KeylessError::Signature(e.to_string()))?;
    verify_log_entry(root, &entry)?;
    entry.check_records_signature(payload, sig, &leaf_der)?;
    let identity = cert_identity(&leaf)?;
    policy.check(&identity)?;
    let doc = crate::payload::SimpleSigning::parse(payload)
        .map_err(|e| KeylessError::Statement(e.to_string()))?;
    doc.check(digest, required)
        .map_err(|e| KeylessError::Statement(e.to_string()))?;
    let payload =
        serde_json::from_slice(payload).map_err(|e| KeylessError::Statement(e.to_string()))?;
    Ok(Verified {
        payload: with_identity(payload, &identity),
        identity,
        integrated_time: entry.integrated_time,
        timestamps: Vec::new(),
        notes: Vec::new(),
    })
}
