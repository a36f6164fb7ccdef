//! The signing certificate: parsed, valid at every verified signing time, issued by a
//! Fulcio CA of the trusted root, and (unless the root says otherwise) logged in a
//! trusted Certificate Transparency log (its embedded SCT, [`crate::sct`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::pkcs8::DecodePublicKey;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use super::KeylessError;
use crate::image;
use crate::trusted_root::TrustedRoot;
use crate::x509::cert_signed_by;

pub(super) fn parse_cert(der: &[u8]) -> Result<Certificate, KeylessError> {
    Certificate::from_der(der)
        .map_err(|e| KeylessError::Certificate(format!("not a DER X.509 certificate: {e}")))
}

/// The leaf's public key: Fulcio issues P-256 certificates for cosign's ephemeral keys.
pub(super) fn leaf_key(leaf: &Certificate) -> Result<p256::ecdsa::VerifyingKey, KeylessError> {
    let spki = leaf
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| KeylessError::Certificate(e.to_string()))?;
    p256::ecdsa::VerifyingKey::from_public_key_der(&spki)
        .map_err(|_| KeylessError::Certificate("leaf key is not ECDSA P-256".into()))
}

/// Whether a log entry's verifier (base64 of a PEM certificate) is the leaf `leaf_der`.
pub(super) fn pem_cert_matches(verifier_b64: &str, leaf_der: &[u8]) -> bool {
    let Ok(pem_bytes) = STANDARD.decode(verifier_b64) else {
        return false;
    };
    let Ok(text) = String::from_utf8(pem_bytes) else {
        return false;
    };
    crate::pem::parse_first(&text).is_ok_and(|b| b.contents == leaf_der)
}

/// Checks that `leaf_der` was issued by a trusted Fulcio CA valid at `time`, that the
/// leaf itself was valid at `time`, and (unless the root says to ignore them) that it
/// carries a valid SCT from a trusted CT log. Returns the leaf.
pub(super) fn verify_chain(
    root: &TrustedRoot,
    leaf_der: &[u8],
    time: i64,
) -> Result<Certificate, KeylessError> {
    verify_chain_at(root, leaf_der, &[time])
}

/// [`verify_chain`] at every one of `times` (log integration time, signed timestamps).
pub(super) fn verify_chain_at(
    root: &TrustedRoot,
    leaf_der: &[u8],
    times: &[i64],
) -> Result<Certificate, KeylessError> {
    let (first, rest) = times
        .split_first()
        .ok_or_else(|| KeylessError::Tlog("no verified time for the signature".into()))?;
    let (leaf, issuer) = verify_issuer(root, leaf_der, *first)?;
    for t in rest {
        verify_issuer(root, leaf_der, *t)?;
    }
    if root.require_sct {
        crate::sct::verify_embedded(&leaf, &issuer, root)?;
    }
    Ok(leaf)
}

/// The certificate checks of [`verify_chain`] without the SCT: returns the leaf and
/// the CA certificate that issued it.
fn verify_issuer(
    root: &TrustedRoot,
    leaf_der: &[u8],
    time: i64,
) -> Result<(Certificate, Certificate), KeylessError> {
    let leaf = parse_cert(leaf_der)?;
    let tbs = leaf.tbs_certificate();
    let nb = tbs.validity().not_before.to_unix_duration().as_secs() as i64;
    let na = tbs.validity().not_after.to_unix_duration().as_secs() as i64;
    if time < nb || time > na {
        return Err(KeylessError::Certificate(format!(
            "not valid at the signing time {} (valid {} to {})",
            image::rfc3339(time),
            image::rfc3339(nb),
            image::rfc3339(na)
        )));
    }
    let issuer_der = tbs
        .issuer()
        .to_der()
        .map_err(|e| KeylessError::Certificate(e.to_string()))?;
    let mut reasons = Vec::new();
    for ca in &root.cas {
        let Some(issuer) = ca.chain.first() else {
            continue;
        };
        let issuer = parse_cert(issuer)?;
        let subject_der = issuer
            .tbs_certificate()
            .subject()
            .to_der()
            .map_err(|e| KeylessError::Certificate(e.to_string()))?;
        if subject_der != issuer_der {
            continue;
        }
        if !ca.valid_for.contains(time) {
            reasons.push("issuing CA was not trusted at the signing time".to_string());
            continue;
        }
        match cert_signed_by(&leaf, &issuer) {
            Ok(()) => return Ok((leaf, issuer)),
            Err(e) => reasons.push(format!("certificate signature by the CA: {e}")),
        }
    }
    Err(KeylessError::Chain(if reasons.is_empty() {
        "certificate was not issued by any CA of the trusted root".into()
    } else {
        reasons.join("; ")
    }))
}
