//! The signature checks under every certificate-based verification here: a Fulcio chain,
//! a CT log's SCT, a Rekor entry's signatures and an RFC 3161 timestamp all come down to
//! "ECDSA with this X.509 algorithm identifier, by this SPKI". Kept below `keyless`,
//! `sct` and `timestamp` so that those depend on it and never on one another for it.

use p256::pkcs8::DecodePublicKey;
use x509_cert::Certificate;
use x509_cert::der::Encode;

use crate::ecdsa::{self, Hash};

/// ecdsa-with-SHA256 (RFC 5758).
pub(crate) const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
/// ecdsa-with-SHA384 (RFC 5758).
pub(crate) const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";

/// Verifies an ECDSA (P-256 or P-384) signature with SHA-256 or SHA-384 over `msg`.
pub(crate) fn verify_ecdsa(
    spki_der: &[u8],
    alg_oid: &str,
    msg: &[u8],
    sig_der: &[u8],
) -> Result<(), String> {
    let hash = match alg_oid {
        OID_ECDSA_SHA256 => Hash::Sha256,
        OID_ECDSA_SHA384 => Hash::Sha384,
        other => return Err(format!("unsupported signature algorithm {other}")),
    };
    let ok = if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(spki_der) {
        ecdsa::verify_p256(&k, hash, msg, sig_der)
    } else if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(spki_der) {
        ecdsa::verify_p384(&k, hash, msg, sig_der)
    } else {
        return Err("issuer key is not ECDSA P-256 or P-384".into());
    };
    if ok {
        Ok(())
    } else {
        Err("signature does not verify".into())
    }
}

/// Checks that `cert`'s signature verifies with `issuer`'s public key (names and
/// validity are the caller's business).
pub(crate) fn cert_signed_by(cert: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let tbs_der = cert.tbs_certificate().to_der().map_err(|e| e.to_string())?;
    let sig = cert
        .signature()
        .as_bytes()
        .ok_or("signature has unused bits")?;
    let spki = issuer
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| e.to_string())?;
    verify_ecdsa(
        &spki,
        &cert.signature_algorithm().oid.to_string(),
        &tbs_der,
        sig,
    )
}
