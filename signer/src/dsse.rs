//! DSSE envelopes and in-toto statements, as cosign attestations use them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::payload::{self, PayloadError};

/// `payloadType` of an in-toto statement inside DSSE.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1 `_type`.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// Older statement type cosign 1.x/2.x writes; still read.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";

/// A DSSE envelope (JSON serialisation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// base64 of the payload bytes.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    #[serde(default)]
    pub keyid: String,
    pub sig: String,
}

/// DSSE's pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Why an envelope or statement was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    #[error("DSSE envelope is malformed: {0}")]
    Malformed(String),
    #[error("DSSE payloadType is '{0}', expected '{INTOTO_PAYLOAD_TYPE}'")]
    WrongPayloadType(String),
    #[error("no DSSE signature verifies with the key: {0}")]
    NoValidSignature(PayloadError),
    #[error("in-toto statement is malformed: {0}")]
    MalformedStatement(String),
    #[error("statement subject does not include digest {0}")]
    SubjectMismatch(String),
    #[error("statement predicateType is '{found}', expected '{expected}'")]
    PredicateTypeMismatch { found: String, expected: String },
}

impl Envelope {
    /// Signs `payload` with `key` into a one-signature envelope (empty keyid, like cosign).
    pub fn sign(key: &SigningKey, payload_type: &str, payload: &[u8]) -> Self {
        let sig = payload::sign_b64(key, &pae(payload_type, payload));
        Self {
            payload_type: payload_type.to_string(),
            payload: STANDARD.encode(payload),
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig,
            }],
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, DsseError> {
        serde_json::from_slice(bytes).map_err(|e| DsseError::Malformed(e.to_string()))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain structs serialise")
    }

    pub fn payload_bytes(&self) -> Result<Vec<u8>, DsseError> {
        STANDARD
            .decode(&self.payload)
            .map_err(|_| DsseError::Malformed("payload is not base64".into()))
    }

    /// Verifies that at least one signature is valid for `key`; returns the payload bytes.
    pub fn verify(&self, key: &VerifyingKey) -> Result<Vec<u8>, DsseError> {
        let payload = self.payload_bytes()?;
        let message = pae(&self.payload_type, &payload);
        let mut last = PayloadError::BadSignature;
        if self.signatures.is_empty() {
            return Err(DsseError::Malformed("envelope has no signatures".into()));
        }
        for s in &self.signatures {
            match payload::verify_b64(key, &message, &s.sig) {
                Ok(()) => return Ok(payload),
                Err(e) => last = e,
            }
        }
        Err(DsseError::NoValidSignature(last))
    }
}

/// An in-toto statement (v1 or v0.1); the predicate stays raw JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    #[serde(default)]
    pub predicate: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// cosign v3's signature statements omit the name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub digest: std::collections::BTreeMap<String, String>,
    /// cosign v3 carries `-a key=value` annotations here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl Statement {
    /// A v1 statement about one artifact `name` with `digest` ("sha256:<hex>").
    pub fn new(
        name: &str,
        digest: &str,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Self {
        let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
        Self {
            statement_type: STATEMENT_V1.to_string(),
            subject: vec![Subject {
                name: name.to_string(),
                digest: [(alg.to_string(), hex.to_string())].into(),
                annotations: None,
            }],
            predicate_type: predicate_type.to_string(),
            predicate,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, DsseError> {
        let s: Self = serde_json::from_slice(bytes)
            .map_err(|e| DsseError::MalformedStatement(e.to_string()))?;
        if s.statement_type != STATEMENT_V1 && s.statement_type != STATEMENT_V01 {
            return Err(DsseError::MalformedStatement(format!(
                "unknown _type '{}'",
                s.statement_type
            )));
        }
        Ok(s)
    }

    /// True when some subject carries `digest` ("alg:hex").
    pub fn has_subject_digest(&self, digest: &str) -> bool {
        let Some((alg, hex)) = digest.split_once(':') else {
            return false;
        };
        self.subject.iter().any(|s| {
            s.digest
                .get(alg)
                .is_some_and(|h| h.eq_ignore_ascii_case(hex))
        })
    }
}

/// Checks a verified attestation payload: an in-toto statement about `digest`, of
/// `predicate_type` when one is asked for. Shared by DSSE layers and bundles.
pub fn check_attestation(
    payload: &[u8],
    digest: &str,
    predicate_type: Option<&str>,
) -> Result<Statement, DsseError> {
    let statement = Statement::parse(payload)?;
    if !statement.has_subject_digest(digest) {
        return Err(DsseError::SubjectMismatch(digest.to_string()));
    }
    if let Some(want) = predicate_type
        && statement.predicate_type != want
    {
        return Err(DsseError::PredicateTypeMismatch {
            found: statement.predicate_type,
            expected: want.to_string(),
        });
    }
    Ok(statement)
}

/// Maps cosign's `--type` shorthands to predicate type URIs; anything with a ':' is a URI.
pub fn predicate_type_uri(kind: &str) -> Option<String> {
    let uri = match kind {
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "spdx" | "spdxjson" => "https://spdx.dev/Document",
        "cyclonedx" => "https://cyclonedx.org/bom",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "custom" => "https://cosign.sigstore.dev/attestation/v1",
        "link" => "https://in-toto.io/Link/v1",
        other if other.contains(':') => other,
        _ => return None,
    };
    Some(uri.to_string())
}
