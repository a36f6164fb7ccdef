//! wharf-signer: cosign-compatible keys, signatures, attestations and verification.
//!
//! Works as a client of any OCI registry; never depends on `wharf-registry`.

mod asn1;
pub mod bundle;
mod decode;
pub mod dsse;
pub mod ecdsa;
pub mod image;
pub mod keyless;
pub mod keys;
pub mod payload;
pub mod pem;
pub mod roots;
pub mod sct;
pub mod timestamp;
pub mod trusted_root;
mod x509;
