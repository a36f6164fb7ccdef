//! Password and robot-secret hashing (argon2id), and secret generation.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::{OsRng, RngCore};

/// argon2id with OWASP's recommended minimum (19 MiB, 2 passes): slow for
/// guessing, fast enough (~20 ms) for a login.
fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid params"),
    )
}

/// Runs argon2 work (`hash`, `verify`) on the blocking pool, at most as many at
/// once as there are cores. Each check holds 19 MiB and a core for ~20 ms: a burst
/// of logins (16 clients sending Basic credentials at once) would otherwise run
/// them all together, slow every one down, and leave the heap at its peak. Beyond
/// the limit they wait their turn, costing nothing but the wait.
pub async fn limited<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    static GATE: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let gate = GATE.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    let _permit = gate.acquire().await.expect("the gate is never closed");
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

pub fn hash(secret: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid params")
        .to_string()
}

/// Constant-time comparison is argon2's; a malformed stored hash never matches.
pub fn verify(secret: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| argon2().verify_password(secret.as_bytes(), &h).is_ok())
}

/// Spend the same time as a real check, so unknown user names cannot be told
/// from wrong passwords by timing.
pub fn verify_dummy(secret: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("wharf-dummy-password"));
    let _ = verify(secret, stored);
}

/// A random secret of 32 alphanumeric characters (~190 bits).
pub fn generate_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    // 62 does not divide 256 evenly; the bias (under 1%) costs well under a bit.
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    OsRng.fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("s3cret");
        let b = hash("s3cret");
        assert_ne!(a, b);
        // OWASP's password storage cheat sheet, argon2id's first configuration:
        // 19 MiB of memory, 2 iterations, 1 degree of parallelism.
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(verify("s3cret", &a));
        assert!(!verify("s3cret!", &a));
        assert!(!verify("s3cret", "not a hash"));
    }

    #[test]
    fn secrets_are_random() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
