//! wharf-signer: cosign-compatible keys, signatures, attestations and verification.
//!
//! Works as a client of any OCI registry; never depends on `wharf-registry`.

pub mod keys;
pub mod pem;
