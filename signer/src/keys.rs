//! Key files in cosign's formats.
//!
//! cosign writes its private key as a PEM block labelled "ENCRYPTED SIGSTORE PRIVATE KEY"
//! (older versions: "ENCRYPTED COSIGN PRIVATE KEY") whose body is JSON: scrypt KDF
//! parameters and salt, and a NaCl secretbox (XSalsa20-Poly1305) ciphertext of the
//! PKCS#8 DER private key. The public key is an ordinary SPKI "PUBLIC KEY" PEM.
//! We also read unencrypted PKCS#8 ("PRIVATE KEY") and SEC1 ("EC PRIVATE KEY") P-256 keys,
//! which other tools (openssl, KMS exports) produce.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
/// Re-exported so callers need not depend on p256 themselves.
pub use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pem::{self, PemError};

/// PEM label cosign ≥ 1.x writes for private keys.
pub const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label of older cosign private keys; still accepted by cosign.
pub const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// scrypt cost cosign's current key generation uses (N = 2^16, r = 8, p = 1).
const DEFAULT_LOG_N: u8 = 16;
/// Bound on scrypt memory (128 · r · N bytes) so a hostile key file cannot exhaust RAM.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;

/// Why a key could not be read, decrypted or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM key file: {0}")]
    Pem(#[from] PemError),
    #[error(
        "unsupported PEM block '{0}' (expected {SIGSTORE_PRIVATE_KEY_LABEL}, {COSIGN_PRIVATE_KEY_LABEL}, PRIVATE KEY or EC PRIVATE KEY)"
    )]
    UnsupportedLabel(String),
    #[error("encrypted key body is not cosign's JSON format: {0}")]
    BadEncryptedJson(String),
    #[error("unsupported key encryption: {0}")]
    UnsupportedEncryption(String),
    #[error("wrong password (or corrupted key file): the key could not be decrypted")]
    WrongPassword,
    #[error("the decrypted key is an SEC1 EC key, but cosign's encrypted format must hold PKCS#8")]
    Sec1InEncryptedKey,
    #[error("unsupported private key type {0}: only ECDSA P-256 keys are supported")]
    UnsupportedKeyType(String),
    #[error("malformed private key: {0}")]
    MalformedPrivateKey(String),
    #[error("malformed public key: {0}")]
    MalformedPublicKey(String),
    #[error("an encrypted key needs a password")]
    PasswordRequired,
    #[error("could not get randomness from the OS: {0}")]
    Random(String),
}

/// cosign's encrypted key JSON (go-securesystemslib `encrypted` package), field order kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncryptedKeyJson {
    pub kdf: KdfJson,
    pub cipher: CipherJson,
    pub ciphertext: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KdfJson {
    pub name: String,
    pub params: ScryptParamsJson,
    pub salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScryptParamsJson {
    #[serde(rename = "N")]
    pub n: u64,
    pub r: u32,
    pub p: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CipherJson {
    pub name: String,
    pub nonce: String,
}

/// A private key file as read from disk, before any password is asked for.
#[derive(Debug)]
pub enum PrivateKeyFile {
    /// cosign's encrypted format; call [`EncryptedKey::decrypt`].
    Encrypted(EncryptedKey),
    /// An unencrypted PKCS#8 or SEC1 key.
    Plain(SigningKey),
}

/// A parsed (still encrypted) cosign key.
#[derive(Debug, Clone)]
pub struct EncryptedKey {
    pub label: String,
    pub json: EncryptedKeyJson,
}

impl PrivateKeyFile {
    /// Parses a private key file in any supported format.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let block = pem::parse_first(text)?;
        match block.label.as_str() {
            SIGSTORE_PRIVATE_KEY_LABEL | COSIGN_PRIVATE_KEY_LABEL => {
                let json: EncryptedKeyJson = serde_json::from_slice(&block.contents)
                    .map_err(|e| KeyError::BadEncryptedJson(e.to_string()))?;
                Ok(Self::Encrypted(EncryptedKey {
                    label: block.label,
                    json,
                }))
            }
            "PRIVATE KEY" => Ok(Self::Plain(signing_key_from_pkcs8(&block.contents)?)),
            "EC PRIVATE KEY" => {
                let sk = p256::SecretKey::from_sec1_der(&block.contents)
                    .map_err(|e| KeyError::MalformedPrivateKey(format!("SEC1: {e}")))?;
                Ok(Self::Plain(SigningKey::from(&sk)))
            }
            other => Err(KeyError::UnsupportedLabel(other.to_string())),
        }
    }

    /// True when a password is needed (so the CLI prompts only then).
    pub fn is_encrypted(&self) -> bool {
        matches!(self, Self::Encrypted(_))
    }

    /// Returns the signing key, decrypting with `password` when the file is encrypted.
    pub fn into_signing_key(self, password: Option<&[u8]>) -> Result<SigningKey, KeyError> {
        match self {
            Self::Plain(k) => Ok(k),
            Self::Encrypted(e) => e.decrypt(password.ok_or(KeyError::PasswordRequired)?),
        }
    }
}

impl EncryptedKey {
    /// Decrypts the key; a wrong password is reported as [`KeyError::WrongPassword`].
    pub fn decrypt(&self, password: &[u8]) -> Result<SigningKey, KeyError> {
        let der = decrypt_json(&self.json, password)?;
        // cosign's encrypted keys hold PKCS#8; an SEC1 plaintext is refused as cosign does,
        // but named precisely so the user knows the file is not simply corrupt.
        signing_key_from_pkcs8(&der).map_err(|e| {
            if p256::SecretKey::from_sec1_der(&der).is_ok() {
                KeyError::Sec1InEncryptedKey
            } else {
                e
            }
        })
    }
}

/// scrypt + secretbox decryption of cosign's JSON; returns the plaintext DER.
fn decrypt_json(json: &EncryptedKeyJson, password: &[u8]) -> Result<Vec<u8>, KeyError> {
    if json.kdf.name != "scrypt" {
        return Err(KeyError::UnsupportedEncryption(format!(
            "KDF '{}'",
            json.kdf.name
        )));
    }
    if json.cipher.name != "nacl/secretbox" {
        return Err(KeyError::UnsupportedEncryption(format!(
            "cipher '{}'",
            json.cipher.name
        )));
    }
    let b64 = |what: &str, s: &str| {
        STANDARD
            .decode(s)
            .map_err(|_| KeyError::BadEncryptedJson(format!("{what} is not base64")))
    };
    let salt = b64("salt", &json.kdf.salt)?;
    let nonce = b64("nonce", &json.cipher.nonce)?;
    let ciphertext = b64("ciphertext", &json.ciphertext)?;
    if nonce.len() != 24 {
        return Err(KeyError::BadEncryptedJson(format!(
            "nonce must be 24 bytes, got {}",
            nonce.len()
        )));
    }
    let key = derive_key(password, &salt, &json.kdf.params)?;
    let cipher = XSalsa20Poly1305::new((&key).into());
    cipher
        .decrypt(nonce.as_slice().into(), ciphertext.as_slice())
        .map_err(|_| KeyError::WrongPassword)
}

fn derive_key(password: &[u8], salt: &[u8], p: &ScryptParamsJson) -> Result<[u8; 32], KeyError> {
    if p.n < 2 || !p.n.is_power_of_two() {
        return Err(KeyError::BadEncryptedJson(format!(
            "scrypt N must be a power of two > 1, got {}",
            p.n
        )));
    }
    let memory = 128u64.saturating_mul(p.r as u64).saturating_mul(p.n);
    if p.r == 0 || p.p == 0 || p.p > 16 || memory > MAX_SCRYPT_MEMORY {
        return Err(KeyError::BadEncryptedJson(format!(
            "scrypt parameters N={} r={} p={} are out of range",
            p.n, p.r, p.p
        )));
    }
    let log_n = p.n.trailing_zeros() as u8;
    let params = scrypt::Params::new(log_n, p.r, p.p)
        .map_err(|e| KeyError::BadEncryptedJson(format!("scrypt parameters: {e}")))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut key)
        .map_err(|e| KeyError::BadEncryptedJson(format!("scrypt: {e}")))?;
    Ok(key)
}

/// Decodes PKCS#8 DER, naming the algorithm when it is not ECDSA P-256.
fn signing_key_from_pkcs8(der: &[u8]) -> Result<SigningKey, KeyError> {
    match SigningKey::from_pkcs8_der(der) {
        Ok(k) => Ok(k),
        Err(e) => Err(match pkcs8_algorithm(der) {
            Some(alg) if alg != "ECDSA P-256" => KeyError::UnsupportedKeyType(alg),
            _ => KeyError::MalformedPrivateKey(format!("PKCS#8: {e}")),
        }),
    }
}

/// Best-effort name of a PKCS#8 key's algorithm, for error messages only.
fn pkcs8_algorithm(der: &[u8]) -> Option<String> {
    let info = p256::pkcs8::PrivateKeyInfoRef::try_from(der).ok()?;
    let oid = info.algorithm.oid.to_string();
    let params = info
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<p256::pkcs8::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    Some(match (oid.as_str(), params.as_deref()) {
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => "ECDSA P-256".into(),
        ("1.2.840.10045.2.1", Some(curve)) => format!("ECDSA (curve {curve})"),
        ("1.3.101.112", _) => "Ed25519".into(),
        ("1.2.840.113549.1.1.1", _) => "RSA".into(),
        (other, _) => format!("OID {other}"),
    })
}

/// Generates a new P-256 key from the OS RNG.
pub fn generate() -> Result<SigningKey, KeyError> {
    use p256::elliptic_curve::Generate;
    SigningKey::try_generate().map_err(|e| KeyError::Random(e.to_string()))
}

/// Writes `key` in cosign's encrypted format with cosign's default scrypt cost.
pub fn encrypt_private_key(key: &SigningKey, password: &[u8]) -> Result<String, KeyError> {
    encrypt_private_key_with_cost(key, password, DEFAULT_LOG_N)
}

/// Like [`encrypt_private_key`] with a chosen scrypt cost (2^log_n); tests use a low one.
pub fn encrypt_private_key_with_cost(
    key: &SigningKey,
    password: &[u8],
    log_n: u8,
) -> Result<String, KeyError> {
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyError::MalformedPrivateKey(e.to_string()))?;
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut salt).map_err(|e| KeyError::Random(e.to_string()))?;
    getrandom::fill(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
    let params = ScryptParamsJson {
        n: 1u64 << log_n,
        r: 8,
        p: 1,
    };
    let sym = derive_key(password, &salt, &params)?;
    let ciphertext = XSalsa20Poly1305::new((&sym).into())
        .encrypt((&nonce).into(), der.as_bytes())
        .map_err(|_| KeyError::UnsupportedEncryption("secretbox encryption failed".into()))?;
    let json = EncryptedKeyJson {
        kdf: KdfJson {
            name: "scrypt".into(),
            params,
            salt: STANDARD.encode(salt),
        },
        cipher: CipherJson {
            name: "nacl/secretbox".into(),
            nonce: STANDARD.encode(nonce),
        },
        ciphertext: STANDARD.encode(ciphertext),
    };
    let body = serde_json::to_vec(&json).expect("serialising plain structs cannot fail");
    Ok(pem::encode(SIGSTORE_PRIVATE_KEY_LABEL, &body))
}

/// PEM "PUBLIC KEY" (SPKI) text of a verifying key, as cosign writes `cosign.pub`.
pub fn public_key_pem(key: &VerifyingKey) -> String {
    let der = key
        .to_public_key_der()
        .expect("encoding a valid P-256 point cannot fail");
    pem::encode(PUBLIC_KEY_LABEL, der.as_bytes())
}

/// Reads a "PUBLIC KEY" PEM (ECDSA P-256).
pub fn load_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let block = pem::parse_first(text)?;
    if block.label != PUBLIC_KEY_LABEL {
        return Err(KeyError::MalformedPublicKey(format!(
            "expected a PUBLIC KEY PEM block, found '{}'",
            block.label
        )));
    }
    public_key_from_spki_der(&block.contents)
}

/// Decodes SPKI DER (ECDSA P-256).
pub fn public_key_from_spki_der(der: &[u8]) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_public_key_der(der).map_err(|e| {
        KeyError::MalformedPublicKey(format!("not an ECDSA P-256 SubjectPublicKeyInfo: {e}"))
    })
}

/// sha256 of the SPKI DER, hex: a stable key identity to show and to match trusted keys.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let der = key
        .to_public_key_der()
        .expect("encoding a valid P-256 point cannot fail");
    hex::encode(Sha256::digest(der.as_bytes()))
}
