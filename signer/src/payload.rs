//! cosign's "simple signing" payload and the raw ECDSA signature over it.
//!
//! The payload is what a cosign signature actually signs: the image's manifest digest,
//! the repository it was signed for, and optional annotations (`-a key=value`).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// `critical.type` of every cosign container image signature.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

/// The simple-signing payload, fields in the order cosign marshals them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleSigning {
    pub critical: Critical,
    /// Annotations; cosign writes `null` when there are none. Values are usually strings.
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    pub identity: Identity,
    pub image: Image,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// Why a payload or signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("signature is not valid base64")]
    SignatureNotBase64,
    #[error("signature is not a DER or raw ECDSA P-256 signature")]
    MalformedSignature,
    #[error("signature does not match the payload and key")]
    BadSignature,
    #[error("payload is not a cosign simple-signing document: {0}")]
    MalformedPayload(String),
    #[error("payload type is '{0}', expected '{COSIGN_SIGNATURE_TYPE}'")]
    WrongType(String),
    #[error("payload signs digest {signed}, not the image's digest {expected}")]
    DigestMismatch { signed: String, expected: String },
    #[error("annotation {key}={expected} required, payload has {found}")]
    AnnotationMismatch {
        key: String,
        expected: String,
        found: String,
    },
}

impl SimpleSigning {
    /// Builds the payload cosign signs for `docker_reference` (repository, no tag) at `digest`.
    pub fn new(
        docker_reference: &str,
        digest: &str,
        annotations: &BTreeMap<String, String>,
    ) -> Self {
        let optional = (!annotations.is_empty()).then(|| {
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect()
        });
        Self {
            critical: Critical {
                identity: Identity {
                    docker_reference: docker_reference.to_string(),
                },
                image: Image {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: COSIGN_SIGNATURE_TYPE.to_string(),
            },
            optional,
        }
    }

    /// The exact bytes that get signed and stored as the layer blob.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain structs serialise")
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        let p: Self = serde_json::from_slice(bytes)
            .map_err(|e| PayloadError::MalformedPayload(e.to_string()))?;
        Ok(p)
    }

    /// Checks type, digest and required annotations; the signature is checked separately.
    pub fn check(
        &self,
        expected_digest: &str,
        required: &BTreeMap<String, String>,
    ) -> Result<(), PayloadError> {
        if self.critical.kind != COSIGN_SIGNATURE_TYPE {
            return Err(PayloadError::WrongType(self.critical.kind.clone()));
        }
        if self.critical.image.docker_manifest_digest != expected_digest {
            return Err(PayloadError::DigestMismatch {
                signed: self.critical.image.docker_manifest_digest.clone(),
                expected: expected_digest.to_string(),
            });
        }
        check_annotations(self.optional.as_ref(), required)
    }
}

/// Each required `key=value` must be present with that value (strings compared as text,
/// other JSON values by their JSON text), as cosign's `-a` check does.
pub fn check_annotations(
    present: Option<&BTreeMap<String, serde_json::Value>>,
    required: &BTreeMap<String, String>,
) -> Result<(), PayloadError> {
    for (k, want) in required {
        let found = present.and_then(|m| m.get(k));
        let ok = match found {
            Some(serde_json::Value::String(s)) => s == want,
            Some(other) => &other.to_string() == want,
            None => false,
        };
        if !ok {
            return Err(PayloadError::AnnotationMismatch {
                key: k.clone(),
                expected: want.clone(),
                found: found
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "no such annotation".into()),
            });
        }
    }
    Ok(())
}

/// Signs `message` (ECDSA P-256, SHA-256) and returns the DER signature, as cosign does.
pub fn sign_bytes(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    let sig: DerSignature = key.sign(message);
    sig.as_bytes().to_vec()
}

/// Base64 of [`sign_bytes`]: the `dev.cosignproject.cosign/signature` annotation value.
pub fn sign_b64(key: &SigningKey, message: &[u8]) -> String {
    STANDARD.encode(sign_bytes(key, message))
}

/// Verifies a DER (or 64-byte raw r||s) ECDSA P-256 SHA-256 signature.
pub fn verify_bytes(key: &VerifyingKey, message: &[u8], sig: &[u8]) -> Result<(), PayloadError> {
    // Parse first so malformed input gets its own error; ring then does the maths fast.
    if Signature::from_der(sig).is_err() && Signature::from_slice(sig).is_err() {
        return Err(PayloadError::MalformedSignature);
    }
    if crate::ecdsa::verify_p256(key, crate::ecdsa::Hash::Sha256, message, sig) {
        Ok(())
    } else {
        Err(PayloadError::BadSignature)
    }
}

/// Verifies a base64 signature as found in cosign annotations and `.sig` files.
pub fn verify_b64(key: &VerifyingKey, message: &[u8], sig_b64: &str) -> Result<(), PayloadError> {
    let sig = STANDARD
        .decode(sig_b64.trim())
        .map_err(|_| PayloadError::SignatureNotBase64)?;
    verify_bytes(key, message, &sig)
}
