//! The server's secret key: seals the credentials of registry endpoints, directory
//! and OIDC secrets before they reach the database (AES-256-GCM through `ring`, a
//! fresh random nonce per seal), so a copy of the database alone gives nothing away,
//! and it is what the token-signing key is derived from (HKDF-SHA256), so that key
//! is never stored at all and every replica with the file signs alike.
//!
//! The file is a key ring for rotation: one key per line, the first seals and signs,
//! every line opens (README, "Rotating the secret key").

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// Bound to what is sealed, so a sealed value cannot be reused for another purpose.
const AAD: &[u8] = b"wharf registry credential v1";

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error("secret key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "secret key file {0}: expected 32 bytes, raw, or keys of 64 hexadecimal digits one per line, the first the current one (generate one with: head -c 32 /dev/urandom | xxd -p -c 64)"
    )]
    Malformed(PathBuf),
    #[error("no randomness from the system")]
    Random,
}

/// The key ring, loaded once at start: the current key first, older ones after it.
pub struct SecretKey {
    keys: Vec<LessSafeKey>,
    /// Derived from the current key: signs and checks access tokens.
    token_key: [u8; 32],
    rng: SystemRandom,
}

/// What the token key is derived for: another use of the secret key gets another key.
const TOKEN_KEY_INFO: &[u8] = b"wharf access-token signing v1";

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self::ring(&[*bytes])
    }

    /// A ring of keys, the first the current one.
    fn ring(keys: &[[u8; 32]]) -> Self {
        let aead = |bytes: &[u8; 32]| {
            LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, bytes).expect("AES-256 takes a 32-byte key"),
            )
        };
        let mut token_key = [0u8; 32];
        hkdf::Salt::new(hkdf::HKDF_SHA256, b"wharf")
            .extract(&keys[0])
            .expand(&[TOKEN_KEY_INFO], hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut token_key))
            .expect("HKDF-SHA256 gives 32 bytes");
        SecretKey {
            keys: keys.iter().map(aead).collect(),
            token_key,
            rng: SystemRandom::new(),
        }
    }

    /// The HMAC key access tokens are signed with, derived from the current key.
    pub fn token_signing_key(&self) -> Vec<u8> {
        self.token_key.to_vec()
    }

    /// Read the key at `path`, or create it there (hex, mode 0600) when the file
    /// does not exist: an embedded set-up needs no step before the first start.
    ///
    /// Replicas sharing a data directory may all start at once on a fresh one:
    /// the key is written whole to a private file first and linked into place
    /// (fails if the file exists), so one key wins and every other process reads
    /// that one, never a half-written file.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretKeyError> {
        let io = |source| SecretKeyError::Io {
            path: path.to_owned(),
            source,
        };
        let read = |data: Vec<u8>| {
            Self::parse(&data).ok_or_else(|| SecretKeyError::Malformed(path.into()))
        };
        match std::fs::read(path) {
            Ok(data) => read(data),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut bytes)
                    .map_err(|_| SecretKeyError::Random)?;
                let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
                let mut builder = tempfile::Builder::new();
                builder.prefix(".secret.key.");
                #[cfg(unix)]
                builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
                let mut file = builder
                    .tempfile_in(dir.unwrap_or(Path::new(".")))
                    .map_err(io)?;
                file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())
                    .and_then(|()| file.as_file().sync_all())
                    .map_err(io)?;
                // The temporary file is removed when `file` drops, linked or not.
                match std::fs::hard_link(file.path(), path) {
                    Ok(()) => {
                        tracing::info!(path = %path.display(), "generated the secret key that seals registry credentials; back it up with the data directory");
                        Ok(Self::from_bytes(&bytes))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        read(std::fs::read(path).map_err(io)?)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    fn parse(data: &[u8]) -> Option<Self> {
        if let Ok(raw) = <[u8; 32]>::try_from(data) {
            return Some(Self::from_bytes(&raw));
        }
        let text = std::str::from_utf8(data).ok()?;
        let keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| <[u8; 32]>::try_from(hex::decode(l).ok()?.as_slice()).ok())
            .collect::<Option<Vec<_>>>()?;
        (!keys.is_empty()).then(|| Self::ring(&keys))
    }

    /// nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plain: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system random source failed");
        let mut out = plain.as_bytes().to_vec();
        self.keys[0]
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut out,
            )
            .expect("AES-GCM seals any input under 64 GiB");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        sealed
    }

    /// `None` when `sealed` was not sealed by a key of the ring (another key file,
    /// or altered).
    pub fn open(&self, sealed: &[u8]) -> Option<String> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, data) = sealed.split_at(NONCE_LEN);
        self.keys.iter().find_map(|key| {
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut buf = data.to_vec();
            let plain = key.open_in_place(nonce, Aad::from(AAD), &mut buf).ok()?;
            String::from_utf8(plain.to_vec()).ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_seals_with_its_first_key_and_opens_with_any() {
        let old = SecretKey::from_bytes(&[7; 32]);
        let sealed_old = old.seal("before");
        let file = format!(
            "# rotated\n{}\n\n{}\n",
            hex::encode([9u8; 32]),
            hex::encode([7u8; 32])
        );
        let ring = SecretKey::parse(file.as_bytes()).unwrap();
        // Values sealed under the old key still open; new ones need the new key.
        assert_eq!(ring.open(&sealed_old).as_deref(), Some("before"));
        let sealed_new = ring.seal("after");
        assert_eq!(old.open(&sealed_new), None);
        assert_eq!(
            SecretKey::from_bytes(&[9; 32]).open(&sealed_new).as_deref(),
            Some("after")
        );
        // The token key follows the current key, and is not the key itself.
        assert_eq!(
            ring.token_signing_key(),
            SecretKey::from_bytes(&[9; 32]).token_signing_key()
        );
        assert_ne!(ring.token_signing_key(), old.token_signing_key());
        assert_ne!(ring.token_signing_key(), vec![9u8; 32]);
        // A line that is not a key makes the whole file malformed.
        assert!(SecretKey::parse(b"zz\n").is_none());
        assert!(SecretKey::parse(b"# nothing\n").is_none());
    }

    #[test]
    fn seals_and_opens_only_with_its_key() {
        let key = SecretKey::from_bytes(&[7; 32]);
        let sealed = key.seal("s3cret-password");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(key.open(&sealed).as_deref(), Some("s3cret-password"));
        // A fresh nonce each time: the same secret never seals to the same bytes.
        assert_ne!(key.seal("s3cret-password"), sealed);
        assert_eq!(SecretKey::from_bytes(&[8; 32]).open(&sealed), None);
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&altered), None);
        assert_eq!(key.open(&sealed[..5]), None);
    }

    /// Replicas on one fresh data directory start at once: one key is made, and
    /// every process ends up with that one (their tokens verify on each other).
    #[test]
    fn processes_starting_at_once_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        SecretKey::load_or_create(&path)
                            .unwrap()
                            .token_signing_key()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
        let on_disk = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(on_disk.token_signing_key(), keys[0]);
        // Nothing left behind but the key.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn key_file_is_generated_private_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let sealed = SecretKey::load_or_create(&path).unwrap().seal("x");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed).as_deref(), Some("x"));
        std::fs::write(&path, "not a key").unwrap();
        let err = SecretKey::load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("expected 32 bytes"), "{err}");
    }
}
