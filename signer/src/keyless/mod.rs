//! Keyless (Fulcio certificate) verification, offline against a Sigstore trusted root.
//!
//! A keyless signature is trusted when: the signing certificate chains to a Fulcio CA of the
//! trusted root; the signature verifies with the certificate's key; the transparency log
//! entry is signed by a trusted Rekor key (signed entry timestamp and/or checkpoint with a
//! Merkle inclusion proof), binds exactly this signature and certificate, and its
//! integration time lies inside the certificate's validity; and the certificate's
//! identity and OIDC issuer match the policy.
//!
//! One job per file: [`certificate`] (the Fulcio chain and its SCT), [`identity`] (who the
//! certificate names, and the policy), [`tlog`] (Rekor entries: SET, inclusion proof,
//! checkpoint, what the entry records), [`verify`] (bundles and legacy signatures, all of
//! the above together), [`attached`] (everything attached to an image in a registry).
//! The trusted root itself is [`crate::trusted_root`], below this module and the SCT and
//! timestamp checks it uses.
//!
//! Keyless *signing* needs an OIDC token, Fulcio and Rekor, none reachable here: the seam
//! is [`KeylessSigner`], to be implemented by a client of those services.

mod attached;
mod certificate;
mod identity;
mod tlog;
mod verify;

pub use crate::decode::parse_rfc3339;
pub use crate::trusted_root::{TrustError, TrustedRoot};
pub use attached::{verify_image, verify_image_attestations};
pub use identity::{CertIdentity, IdentityPolicy, bundle_claimed_identity, claimed_identity};
pub use tlog::verify_rekor_bundle;
pub use verify::{Verified, verify_attestation_bundle, verify_bundle, verify_simple_signing};

use crate::dsse;

/// Why keyless verification failed. Each variant names the check that failed.
#[derive(Debug, thiserror::Error)]
pub enum KeylessError {
    #[error(transparent)]
    TrustedRoot(#[from] TrustError),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("certificate chain: {0}")]
    Chain(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error("transparency log: {0}")]
    Tlog(String),
    #[error("identity: {0}")]
    Identity(String),
    #[error("certificate transparency: {0}")]
    Sct(#[from] crate::sct::SctError),
    #[error("signed timestamp: {0}")]
    Timestamp(#[from] crate::timestamp::TimestampError),
    #[error("statement: {0}")]
    Statement(String),
    #[error("bad policy: {0}")]
    Policy(String),
}

/// The seam for keyless signing: obtain a short-lived certificate for an ephemeral key
/// (OIDC → Fulcio) and log the signature (Rekor). Not implemented here: no such services
/// are reachable, and faking them would prove nothing.
pub trait KeylessSigner {
    /// Returns the certificate chain (leaf first, DER) for the ephemeral public key.
    fn certificate_for(&self, public_key_spki_der: &[u8]) -> Result<Vec<Vec<u8>>, KeylessError>;
    /// Uploads the signed entry; returns the bundle's `tlogEntries[]` JSON object.
    fn log_entry(
        &self,
        envelope: &dsse::Envelope,
        leaf_der: &[u8],
    ) -> Result<serde_json::Value, KeylessError>;
}
