//! Everything the signer reads from a registry, a bundle file or a key file: cosign key
//! files (PEM, cosign's scrypt + secretbox JSON, PKCS#8, SEC1, SPKI), DSSE envelopes and
//! in-toto statements, Sigstore bundles (key-based and keyless verification, claimed
//! identity), RFC 3161 timestamp tokens (CMS SignedData, TSTInfo), X.509 certificates with
//! their embedded SCT lists, PEM certificate bundles, `trusted_root.json` and Rekor bundles.
//! The first byte picks the reader. Keyless verification uses Sigstore's public-good
//! trusted root from `$WHARF_SHARED/fixtures/cosign` when it is there.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use p256::ecdsa::SigningKey;
use wharf_signer::keyless::{
    IdentityPolicy, TrustedRoot, bundle_claimed_identity, claimed_identity, verify_bundle,
    verify_rekor_bundle,
};
use wharf_signer::keys::{PrivateKeyFile, load_public_key, public_key_from_spki_der};
use wharf_signer::{bundle, dsse, pem, roots, sct, timestamp};
use x509_cert::Certificate;
use x509_cert::der::Decode;

const DIGEST: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

/// scrypt with a larger N costs real time and memory per run (Wharf bounds it at 1 GiB);
/// decryption is attempted only below this, the parameters are parsed always.
const MAX_FUZZ_SCRYPT_N: u64 = 1 << 10;

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_slice(&[7u8; 32]).expect("a valid scalar"))
}

fn public_good() -> Option<&'static TrustedRoot> {
    static ROOT: OnceLock<Option<TrustedRoot>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = std::env::var("WHARF_SHARED").unwrap_or_else(|_| "/work/shared".into());
        let path = format!("{dir}/fixtures/cosign/sigstore_public_good_trusted_root.json");
        TrustedRoot::parse(&std::fs::read(path).ok()?).ok()
    })
    .as_ref()
}

fn key_files(text: &str, body: &[u8]) {
    if let Ok(file) = PrivateKeyFile::parse(text) {
        let cheap = match &file {
            PrivateKeyFile::Encrypted(e) => e.json.kdf.params.n <= MAX_FUZZ_SCRYPT_N,
            PrivateKeyFile::Plain(_) => true,
        };
        if cheap {
            let _ = file.into_signing_key(Some(b"password"));
        }
    }
    let _ = load_public_key(text);
    let _ = public_key_from_spki_der(body);
    let _ = pem::parse_all(text);
}

fn envelopes(body: &[u8]) {
    if let Ok(env) = dsse::Envelope::parse(body) {
        let _ = env.payload_bytes();
        let _ = env.verify(key().verifying_key());
        let again = dsse::Envelope::parse(&env.to_bytes()).expect("a serialised envelope parses");
        assert_eq!(again.payload_bytes().ok(), env.payload_bytes().ok());
    }
    let _ = dsse::check_attestation(body, DIGEST, None);
}

fn bundles(body: &[u8]) {
    let _ = bundle::claimed_predicate_type(body);
    let _ = bundle::is_attestation(body);
    if let Ok(b) = bundle::Bundle::parse(body) {
        let _ = bundle::intoto_envelope(&b);
        let _ = b.verification_material.leaf_certificate_b64();
    }
    let _ = bundle::verify_bundle_with_key(body, DIGEST, key().verifying_key(), &BTreeMap::new());
    let _ = bundle::verify_attestation_bundle_with_key(body, DIGEST, key().verifying_key(), None);
    let _ = bundle_claimed_identity(body);
    if let Some(root) = public_good() {
        let policy = IdentityPolicy::new(None, Some(".*"), None, Some(".*")).expect("valid");
        let _ = verify_bundle(body, DIGEST, root, &policy, &BTreeMap::new());
    }
}

fn certificates(text: &str, body: &[u8]) {
    if let Ok(cert) = Certificate::from_der(body) {
        let _ = sct::embedded_scts(&cert);
        let _ = sct::precert_tbs(&cert);
        let pem = pem::encode("CERTIFICATE", body);
        let _ = claimed_identity(&pem);
    }
    let _ = claimed_identity(text);
    let _ = roots::certificates_from_pem("fuzz", text);
    let _ = roots::public_keys_from_pem("fuzz", text);
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    match sel % 7 {
        0 => key_files(&text, body),
        1 => envelopes(body),
        2 => bundles(body),
        3 => {
            let _ = timestamp::parse(body);
        }
        4 => certificates(&text, body),
        5 => {
            let _ = TrustedRoot::parse(body);
        }
        _ => {
            if let Some(root) = public_good() {
                let _ = verify_rekor_bundle(root, &text);
            }
        }
    }
});
