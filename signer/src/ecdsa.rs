//! ECDSA signature verification through `ring`.
//!
//! Keys are parsed and signatures made with the RustCrypto crates, but verification — the
//! hot path of `verify` and of the server checking every signature — uses ring's
//! assembly-optimised P-256/P-384, several times faster than the pure-Rust arithmetic.
//! ring is already in the build (rustls), so it costs no extra compile time.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

/// Hash used with the key, as named by the signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

fn verify(alg: &'static dyn VerificationAlgorithm, point: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(alg, point).verify(msg, sig).is_ok()
}

/// Verifies a P-256 signature (DER, or 64-byte fixed r‖s) over `msg`.
pub fn verify_p256(key: &p256::ecdsa::VerifyingKey, hash: Hash, msg: &[u8], sig: &[u8]) -> bool {
    let point = key.to_sec1_point(false);
    let fixed = sig.len() == 64 && p256::ecdsa::Signature::from_der(sig).is_err();
    let alg: &'static dyn VerificationAlgorithm = match (hash, fixed) {
        (Hash::Sha256, false) => &signature::ECDSA_P256_SHA256_ASN1,
        (Hash::Sha256, true) => &signature::ECDSA_P256_SHA256_FIXED,
        (Hash::Sha384, false) => &signature::ECDSA_P256_SHA384_ASN1,
        (Hash::Sha384, true) => return false,
    };
    verify(alg, point.as_bytes(), msg, sig)
}

/// Verifies a P-384 signature (DER) over `msg`.
pub fn verify_p384(key: &p384::ecdsa::VerifyingKey, hash: Hash, msg: &[u8], sig: &[u8]) -> bool {
    let point = key.to_sec1_point(false);
    let alg: &'static dyn VerificationAlgorithm = match hash {
        Hash::Sha256 => &signature::ECDSA_P384_SHA256_ASN1,
        Hash::Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
    };
    verify(alg, point.as_bytes(), msg, sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;

    #[test]
    fn ring_agrees_with_rustcrypto() {
        let k = crate::keys::generate().unwrap();
        let der: p256::ecdsa::DerSignature = k.sign(b"message");
        let raw: p256::ecdsa::Signature = k.sign(b"message");
        assert!(verify_p256(
            k.verifying_key(),
            Hash::Sha256,
            b"message",
            der.as_bytes()
        ));
        assert!(verify_p256(
            k.verifying_key(),
            Hash::Sha256,
            b"message",
            &raw.to_bytes()
        ));
        assert!(!verify_p256(
            k.verifying_key(),
            Hash::Sha256,
            b"messagE",
            der.as_bytes()
        ));
        assert!(!verify_p256(
            k.verifying_key(),
            Hash::Sha384,
            b"message",
            der.as_bytes()
        ));
        let other = crate::keys::generate().unwrap();
        assert!(!verify_p256(
            other.verifying_key(),
            Hash::Sha256,
            b"message",
            der.as_bytes()
        ));
    }
}
