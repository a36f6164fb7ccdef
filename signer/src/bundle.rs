//! Sigstore bundles (v0.3), as cosign v3 writes them for image signatures.
//!
//! The bundle holds a DSSE envelope of an in-toto statement whose predicate type is
//! `https://sigstore.dev/cosign/sign/v1` and whose subject is the image digest, plus the
//! verification material: a public key hint (key-based) or a Fulcio certificate and
//! Rekor entries (keyless, see [`crate::keyless`]).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use wharf_oci::media_types::COSIGN_SIGN_PREDICATE;
pub use wharf_oci::media_types::SIGSTORE_BUNDLE_V03 as BUNDLE_V03_MEDIA_TYPE;

use crate::dsse::{self, Envelope, Statement, Subject};
use crate::keys;
use crate::payload;

/// A Sigstore bundle; unknown fields are kept out, known ones typed loosely enough to
/// read bundles from cosign, sigstore-rs and sigstore-go.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    #[serde(rename = "verificationMaterial")]
    pub verification_material: VerificationMaterial,
    #[serde(
        rename = "dsseEnvelope",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub dsse_envelope: Option<Envelope>,
    #[serde(
        rename = "messageSignature",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub message_signature: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerificationMaterial {
    #[serde(rename = "publicKey", skip_serializing_if = "Option::is_none", default)]
    pub public_key: Option<PublicKeyHint>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub certificate: Option<RawBytes>,
    #[serde(
        rename = "x509CertificateChain",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub x509_certificate_chain: Option<CertificateChain>,
    #[serde(rename = "tlogEntries", default)]
    pub tlog_entries: Vec<serde_json::Value>,
    #[serde(
        rename = "timestampVerificationData",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub timestamp_verification_data: Option<serde_json::Value>,
}

impl VerificationMaterial {
    /// The signing certificate (base64 DER): `certificate`, else the chain's first.
    pub fn leaf_certificate_b64(&self) -> Option<&str> {
        self.certificate
            .as_ref()
            .or_else(|| self.x509_certificate_chain.as_ref()?.certificates.first())
            .map(|c| c.raw_bytes.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublicKeyHint {
    pub hint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawBytes {
    #[serde(rename = "rawBytes")]
    pub raw_bytes: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateChain {
    pub certificates: Vec<RawBytes>,
}

impl Bundle {
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let b: Self =
            serde_json::from_slice(bytes).map_err(|e| format!("malformed Sigstore bundle: {e}"))?;
        if !b
            .media_type
            .starts_with("application/vnd.dev.sigstore.bundle")
        {
            return Err(format!(
                "not a Sigstore bundle media type: '{}'",
                b.media_type
            ));
        }
        Ok(b)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain structs serialise")
    }
}

/// Builds the cosign v3 signature statement for an image digest.
pub fn signature_statement(digest: &str, annotations: &BTreeMap<String, String>) -> Statement {
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    Statement {
        statement_type: dsse::STATEMENT_V1.to_string(),
        subject: vec![Subject {
            name: String::new(),
            digest: [(alg.to_string(), hex.to_string())].into(),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            ),
        }],
        predicate_type: COSIGN_SIGN_PREDICATE.to_string(),
        predicate: serde_json::Value::Null,
    }
}

/// Signs an image digest into a key-based v0.3 bundle (no transparency log entry:
/// uploading to Rekor is the keyless seam's job, and there is no Rekor here).
pub fn sign_image_bundle(
    key: &SigningKey,
    digest: &str,
    annotations: &BTreeMap<String, String>,
) -> Bundle {
    let mut statement = serde_json::to_value(signature_statement(digest, annotations))
        .expect("plain structs serialise");
    // cosign writes no predicate for sign/v1 statements.
    if let Some(o) = statement.as_object_mut() {
        o.remove("predicate");
    }
    key_bundle(
        key,
        &serde_json::to_vec(&statement).expect("json value serialises"),
    )
}

/// Attests `predicate` about image `digest` into a key-based v0.3 bundle, as cosign v3
/// `attest --new-bundle-format` does: an in-toto Statement v1 naming the repository
/// (`name`) and digest, with the user's predicate type and predicate.
pub fn attest_image_bundle(
    key: &SigningKey,
    name: &str,
    digest: &str,
    predicate_type: &str,
    predicate: serde_json::Value,
) -> Bundle {
    let statement = Statement::new(name, digest, predicate_type, predicate);
    key_bundle(
        key,
        &serde_json::to_vec(&statement).expect("plain structs serialise"),
    )
}

/// A DSSE bundle of `statement` signed by `key`, with the key's fingerprint as hint.
fn key_bundle(key: &SigningKey, statement: &[u8]) -> Bundle {
    let envelope = Envelope::sign(key, dsse::INTOTO_PAYLOAD_TYPE, statement);
    let hint = STANDARD.encode(hex::decode(keys::fingerprint(key.verifying_key())).expect("hex"));
    Bundle {
        media_type: BUNDLE_V03_MEDIA_TYPE.to_string(),
        verification_material: VerificationMaterial {
            public_key: Some(PublicKeyHint { hint }),
            ..Default::default()
        },
        dsse_envelope: Some(envelope),
        message_signature: None,
    }
}

/// The predicate type the bundle's statement CLAIMS, read without verifying anything:
/// only for routing a bundle to signature or attestation verification, which then
/// checks it for real.
pub fn claimed_predicate_type(bytes: &[u8]) -> Option<String> {
    let bundle = Bundle::parse(bytes).ok()?;
    let payload = bundle.dsse_envelope?.payload_bytes().ok()?;
    #[derive(Deserialize)]
    struct Only {
        #[serde(rename = "predicateType")]
        predicate_type: String,
    }
    serde_json::from_slice::<Only>(&payload)
        .ok()
        .map(|o| o.predicate_type)
}

/// True when the bundle holds an attestation (any predicate but cosign's image
/// signature one). Unreadable bundles count as signatures, so that signature
/// verification reports why they fail.
pub fn is_attestation(bytes: &[u8]) -> bool {
    claimed_predicate_type(bytes).is_some_and(|t| t != COSIGN_SIGN_PREDICATE)
}

/// The DSSE envelope of a bundle, which must hold an in-toto statement.
pub fn intoto_envelope(bundle: &Bundle) -> Result<&Envelope, String> {
    let envelope = bundle
        .dsse_envelope
        .as_ref()
        .ok_or("bundle has no DSSE envelope (message signatures do not sign images)")?;
    if envelope.payload_type != dsse::INTOTO_PAYLOAD_TYPE {
        return Err(dsse::DsseError::WrongPayloadType(envelope.payload_type.clone()).to_string());
    }
    Ok(envelope)
}

/// Verifies a key-based attestation bundle about `digest`, optionally of one predicate
/// type; returns the in-toto statement (what `verify-attestation` prints).
pub fn verify_attestation_bundle_with_key(
    bundle: &[u8],
    digest: &str,
    key: &VerifyingKey,
    predicate_type: Option<&str>,
) -> Result<serde_json::Value, String> {
    let bundle = Bundle::parse(bundle)?;
    let statement = intoto_envelope(&bundle)?
        .verify(key)
        .map_err(|e| e.to_string())?;
    let statement =
        dsse::check_attestation(&statement, digest, predicate_type).map_err(|e| e.to_string())?;
    serde_json::to_value(&statement).map_err(|e| e.to_string())
}

/// Checks the signed statement of a bundle against the image: predicate type, subject
/// digest and required annotations. Returns cosign's verify output for it.
pub fn check_signature_statement(
    statement_bytes: &[u8],
    digest: &str,
    required: &BTreeMap<String, String>,
) -> Result<serde_json::Value, String> {
    let statement = Statement::parse(statement_bytes).map_err(|e| e.to_string())?;
    if statement.predicate_type != COSIGN_SIGN_PREDICATE {
        return Err(format!(
            "bundle statement predicateType is '{}', expected '{COSIGN_SIGN_PREDICATE}'",
            statement.predicate_type
        ));
    }
    if !statement.has_subject_digest(digest) {
        return Err(format!("bundle statement does not sign digest {digest}"));
    }
    let (alg, hex) = digest.split_once(':').unwrap_or_default();
    let subject = statement
        .subject
        .iter()
        .find(|s| {
            s.digest
                .get(alg)
                .is_some_and(|h| h.eq_ignore_ascii_case(hex))
        })
        .expect("checked by has_subject_digest");
    payload::check_annotations(subject.annotations.as_ref(), required)
        .map_err(|e| e.to_string())?;
    // Same shape cosign v3 prints for a verified bundle signature.
    Ok(serde_json::json!({
        "critical": {
            "identity": {"docker-reference": subject.name},
            "image": {"docker-manifest-digest": digest},
            "type": COSIGN_SIGN_PREDICATE,
        },
        "optional": subject.annotations.clone().unwrap_or_default(),
    }))
}

/// Verifies a key-based bundle signature of `digest`.
pub fn verify_bundle_with_key(
    bundle: &[u8],
    digest: &str,
    key: &VerifyingKey,
    required: &BTreeMap<String, String>,
) -> Result<serde_json::Value, String> {
    let bundle = Bundle::parse(bundle)?;
    let statement = intoto_envelope(&bundle)?
        .verify(key)
        .map_err(|e| e.to_string())?;
    check_signature_statement(&statement, digest, required)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
    const SLSA: &str = "https://slsa.dev/provenance/v1";

    fn attestation(key: &SigningKey) -> Bundle {
        attest_image_bundle(
            key,
            "r.example/app",
            DIGEST,
            SLSA,
            serde_json::json!({"buildDefinition": {"buildType": "https://ci.example"}}),
        )
    }

    #[test]
    fn attestation_bundle_round_trip() {
        let key = keys::generate().unwrap();
        let bytes = attestation(&key).to_bytes();
        assert!(is_attestation(&bytes));
        assert_eq!(claimed_predicate_type(&bytes).as_deref(), Some(SLSA));
        let st =
            verify_attestation_bundle_with_key(&bytes, DIGEST, key.verifying_key(), None).unwrap();
        assert_eq!(st["predicateType"], SLSA);
        assert_eq!(
            st["predicate"]["buildDefinition"]["buildType"],
            "https://ci.example"
        );
        assert_eq!(st["subject"][0]["name"], "r.example/app");
        verify_attestation_bundle_with_key(&bytes, DIGEST, key.verifying_key(), Some(SLSA))
            .unwrap();
        // An attestation is not an image signature, whatever key signed it.
        let e = verify_bundle_with_key(&bytes, DIGEST, key.verifying_key(), &BTreeMap::new())
            .unwrap_err();
        assert!(e.contains("predicateType"), "{e}");
        // And a signature bundle is not an attestation.
        let sig = sign_image_bundle(&key, DIGEST, &BTreeMap::new()).to_bytes();
        assert!(!is_attestation(&sig));
        assert!(!is_attestation(b"not json"));
    }

    #[test]
    fn attestation_bundle_rejections() {
        let key = keys::generate().unwrap();
        let bytes = attestation(&key).to_bytes();
        let other = keys::generate().unwrap();
        let e = verify_attestation_bundle_with_key(&bytes, DIGEST, other.verifying_key(), None)
            .unwrap_err();
        assert!(e.contains("no DSSE signature verifies"), "{e}");
        let e = verify_attestation_bundle_with_key(
            &bytes,
            DIGEST,
            key.verifying_key(),
            Some("https://spdx.dev/Document"),
        )
        .unwrap_err();
        assert!(
            e.contains("predicateType is 'https://slsa.dev/provenance/v1'"),
            "{e}"
        );
        let other_digest = format!("sha256:{}", "0".repeat(64));
        let e =
            verify_attestation_bundle_with_key(&bytes, &other_digest, key.verifying_key(), None)
                .unwrap_err();
        assert!(e.contains("does not include digest"), "{e}");
        // A changed predicate type (the routing claim) breaks the signature.
        let mut b = attestation(&key);
        let env = b.dsse_envelope.as_mut().unwrap();
        let payload = String::from_utf8(env.payload_bytes().unwrap())
            .unwrap()
            .replace(SLSA, "https://spdx.dev/Document");
        env.payload = STANDARD.encode(payload);
        let e =
            verify_attestation_bundle_with_key(&b.to_bytes(), DIGEST, key.verifying_key(), None)
                .unwrap_err();
        assert!(e.contains("no DSSE signature verifies"), "{e}");
    }
}
