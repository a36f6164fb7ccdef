//! The server's secret key: seals the credentials of registry endpoints before
//! they reach the database (AES-256-GCM through `ring`, a fresh random nonce per
//! seal), so a copy of `metadata.db` alone gives no remote registry away.

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
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
        "secret key file {0}: expected 32 bytes, raw or as 64 hexadecimal digits (generate one with: head -c 32 /dev/urandom | xxd -p -c 64)"
    )]
    Malformed(PathBuf),
    #[error("no randomness from the system")]
    Random,
}

/// The key, loaded once at start.
pub struct SecretKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, bytes).expect("AES-256 takes a 32-byte key");
        SecretKey {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        }
    }

    /// Read the key at `path`, or create it there (hex, mode 0600) when the file
    /// does not exist: an embedded set-up needs no step before the first start.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretKeyError> {
        let io = |source| SecretKeyError::Io {
            path: path.to_owned(),
            source,
        };
        match std::fs::read(path) {
            Ok(data) => Self::parse(&data).ok_or_else(|| SecretKeyError::Malformed(path.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut bytes)
                    .map_err(|_| SecretKeyError::Random)?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                tracing::info!(path = %path.display(), "generated the secret key that seals registry credentials; back it up with the data directory");
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) => Err(io(e)),
        }
    }

    fn parse(data: &[u8]) -> Option<Self> {
        if let Ok(raw) = <[u8; 32]>::try_from(data) {
            return Some(Self::from_bytes(&raw));
        }
        let text = std::str::from_utf8(data).ok()?.trim();
        let bytes = hex::decode(text).ok()?;
        Some(Self::from_bytes(
            &<[u8; 32]>::try_from(bytes.as_slice()).ok()?,
        ))
    }

    /// nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plain: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system random source failed");
        let mut out = plain.as_bytes().to_vec();
        self.key
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

    /// `None` when `sealed` was not sealed by this key (another key file, or altered).
    pub fn open(&self, sealed: &[u8]) -> Option<String> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, data) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = data.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut buf)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
