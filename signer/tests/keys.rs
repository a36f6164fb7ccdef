//! Key files: cosign's real fixtures decrypt, wrong input fails clearly, our files round-trip.

mod common;

use common::read_fixture;
use wharf_signer::keys::{self, KeyError, PrivateKeyFile};

fn decrypt(name: &str, password: &str) -> Result<p256::ecdsa::SigningKey, KeyError> {
    PrivateKeyFile::parse(&read_fixture(name))?.into_signing_key(Some(password.as_bytes()))
}

#[test]
fn cosign_sigstore_label_key_decrypts() {
    let k = decrypt("cosign_keys_test_pemsigstorekey.key", "hello").unwrap();
    assert_eq!(keys::fingerprint(k.verifying_key()).len(), 64);
}

#[test]
fn cosign_legacy_label_key_decrypts() {
    decrypt("cosign_keys_test_pemcosignkey.key", "hello").unwrap();
    decrypt("sigstore_rs_ecdsa_encrypted_private.key", "123").unwrap();
    decrypt(
        "sigstore_rs_ECDSA_P256_ASN1_ENCRYPTED_PRIVATE_PEM.key",
        "password",
    )
    .unwrap();
}

#[test]
fn decrypted_keys_match_their_public_key_files() {
    let (key, public) = (
        "policy_controller_examples_cosign.key",
        "policy_controller_examples_cosign.pub",
    );
    let k = decrypt(key, "").unwrap();
    let expected = keys::load_public_key(&read_fixture(public)).unwrap();
    assert_eq!(k.verifying_key(), &expected, "{key}");
    // Byte-identical to the cosign-written public key file.
    assert_eq!(
        keys::public_key_pem(k.verifying_key()).trim(),
        read_fixture(public).trim()
    );
}

#[test]
fn cosign_generated_empty_password_key_decrypts() {
    decrypt(
        "sigstore_rs_cosign_generated_encrypted_empty_private.key",
        "",
    )
    .unwrap();
}

#[test]
fn wrong_password_is_a_clear_error() {
    let err = decrypt("cosign_keys_test_pemsigstorekey.key", "hellO").unwrap_err();
    assert!(matches!(err, KeyError::WrongPassword), "{err}");
    assert!(err.to_string().contains("wrong password"));
}

#[test]
fn encrypted_key_without_password_is_refused() {
    let f = PrivateKeyFile::parse(&read_fixture("cosign_keys_test_pemsigstorekey.key")).unwrap();
    assert!(f.is_encrypted());
    assert!(matches!(
        f.into_signing_key(None),
        Err(KeyError::PasswordRequired)
    ));
}

#[test]
fn sec1_plaintext_in_encrypted_key_is_refused_like_cosign() {
    let err = decrypt("cosign_keys_test_pemcosigneckey.key", "hello").unwrap_err();
    assert!(matches!(err, KeyError::Sec1InEncryptedKey), "{err}");
}

#[test]
fn other_key_types_are_named_in_the_error() {
    let err = decrypt("sigstore_rs_ed25519_encrypted_private.key", "123").unwrap_err();
    assert!(
        matches!(&err, KeyError::UnsupportedKeyType(t) if t == "Ed25519"),
        "{err}"
    );
    let err = decrypt("sigstore_rs_rsa_encrypted_private.key", "123").unwrap_err();
    assert!(
        matches!(&err, KeyError::UnsupportedKeyType(t) if t == "RSA"),
        "{err}"
    );
}

#[test]
fn generated_key_round_trips_through_cosign_format() {
    let k = keys::generate().unwrap();
    let text = keys::encrypt_private_key_with_cost(&k, b"s3cret", 10).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let back = PrivateKeyFile::parse(&text)
        .unwrap()
        .into_signing_key(Some(b"s3cret"))
        .unwrap();
    assert_eq!(back.to_bytes(), k.to_bytes());
    assert!(matches!(
        PrivateKeyFile::parse(&text)
            .unwrap()
            .into_signing_key(Some(b"other")),
        Err(KeyError::WrongPassword)
    ));
    // The body is the JSON layout cosign writes, default cost N = 65536.
    let full = keys::encrypt_private_key(&k, b"").unwrap();
    let block = wharf_signer::pem::parse_first(&full).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&block.contents).unwrap();
    assert_eq!(json["kdf"]["name"], "scrypt");
    assert_eq!(json["kdf"]["params"]["N"], 65536);
    assert_eq!(json["cipher"]["name"], "nacl/secretbox");
    assert_eq!(
        PrivateKeyFile::parse(&full)
            .unwrap()
            .into_signing_key(Some(b""))
            .unwrap()
            .to_bytes(),
        k.to_bytes()
    );
}

#[test]
fn plain_pkcs8_and_sec1_keys_are_read() {
    use p256::pkcs8::EncodePrivateKey;
    let k = keys::generate().unwrap();
    let pkcs8 = k.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    let f = PrivateKeyFile::parse(&pkcs8).unwrap();
    assert!(!f.is_encrypted());
    assert_eq!(f.into_signing_key(None).unwrap().to_bytes(), k.to_bytes());
    let sec1 = p256::SecretKey::from(&k)
        .to_sec1_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    assert_eq!(
        PrivateKeyFile::parse(&sec1)
            .unwrap()
            .into_signing_key(None)
            .unwrap()
            .to_bytes(),
        k.to_bytes()
    );
}

#[test]
fn malformed_key_files_give_precise_errors() {
    assert!(matches!(
        PrivateKeyFile::parse("hello"),
        Err(KeyError::Pem(_))
    ));
    assert!(matches!(
        PrivateKeyFile::parse(&wharf_signer::pem::encode("CERTIFICATE", b"x")),
        Err(KeyError::UnsupportedLabel(l)) if l == "CERTIFICATE"
    ));
    assert!(matches!(
        PrivateKeyFile::parse(&wharf_signer::pem::encode(
            keys::SIGSTORE_PRIVATE_KEY_LABEL,
            b"{not json"
        )),
        Err(KeyError::BadEncryptedJson(_))
    ));
    assert!(matches!(
        PrivateKeyFile::parse(&wharf_signer::pem::encode(
            "PRIVATE KEY",
            b"\x30\x03\x02\x01\x00"
        )),
        Err(KeyError::MalformedPrivateKey(_))
    ));
    // Hostile scrypt cost is refused before any work is done.
    let mut text = read_fixture("cosign_keys_test_pemsigstorekey.key");
    let block = wharf_signer::pem::parse_first(&text).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&block.contents).unwrap();
    json["kdf"]["params"]["N"] = serde_json::json!(1u64 << 40);
    text = wharf_signer::pem::encode(&block.label, json.to_string().as_bytes());
    let err = PrivateKeyFile::parse(&text)
        .unwrap()
        .into_signing_key(Some(b"hello"))
        .unwrap_err();
    assert!(
        matches!(err, KeyError::BadEncryptedJson(ref m) if m.contains("out of range")),
        "{err}"
    );
    // A flipped ciphertext byte is caught by the MAC.
    json["kdf"]["params"]["N"] = serde_json::json!(32768);
    let mut ct = base64_decode(json["ciphertext"].as_str().unwrap());
    ct[10] ^= 1;
    json["ciphertext"] = serde_json::json!(base64_encode(&ct));
    let text = wharf_signer::pem::encode(&block.label, json.to_string().as_bytes());
    assert!(matches!(
        PrivateKeyFile::parse(&text)
            .unwrap()
            .into_signing_key(Some(b"hello")),
        Err(KeyError::WrongPassword)
    ));
}

#[test]
fn public_key_errors() {
    assert!(keys::load_public_key(&read_fixture("policy_controller_examples_cosign.key")).is_err());
    assert!(matches!(
        keys::load_public_key(&wharf_signer::pem::encode("PUBLIC KEY", b"\x30\x00")),
        Err(KeyError::MalformedPublicKey(_))
    ));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}
