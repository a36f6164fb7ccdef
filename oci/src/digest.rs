//! Content digests (`sha256:<hex>`, `sha512:<hex>`), parsed strictly: the hex
//! part is what names files on disk, so nothing but lowercase hex of the right
//! length gets through.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha512};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
}

/// A validated digest. Displays as `algorithm:hex`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("digest must have the form algorithm:hex")]
    Form,
    #[error("unsupported digest algorithm {0:?} (sha256 and sha512 are supported)")]
    Algorithm(String),
    #[error("digest hex part must be {0} lowercase hex characters")]
    Hex(usize),
}

impl Digest {
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(Sha256::digest(data)),
        }
    }

    /// The digest of `data` under this digest's algorithm.
    pub fn matches(&self, data: &[u8]) -> bool {
        let mut h = self.algorithm.hasher();
        h.update(data);
        h.finish() == *self
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex) = s.split_once(':').ok_or(DigestError::Form)?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            "" => return Err(DigestError::Form),
            other => return Err(DigestError::Algorithm(other.to_string())),
        };
        let want = algorithm.hex_len();
        if hex.len() != want
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::Hex(want));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental hashing for either algorithm, so uploads are verified as they stream.
#[derive(Clone)]
pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Sha256(_) => Algorithm::Sha256,
            Hasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// The hash state so far, as bytes another process can resume from with
    /// [`Hasher::resume`]: how an upload held in shared storage (S3) is continued
    /// by another replica without reading back what it already received.
    pub fn state(&self) -> Vec<u8> {
        use sha2::digest::common::hazmat::SerializableState;
        match self {
            Hasher::Sha256(h) => h.serialize().to_vec(),
            Hasher::Sha512(h) => h.serialize().to_vec(),
        }
    }

    /// A hasher continued from [`Hasher::state`]'s bytes; `None` if they are not
    /// a state of `algorithm`.
    pub fn resume(algorithm: Algorithm, state: &[u8]) -> Option<Hasher> {
        use sha2::digest::common::hazmat::SerializableState;
        Some(match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::deserialize(state.try_into().ok()?).ok()?),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::deserialize(state.try_into().ok()?).ok()?),
        })
    }

    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, hex::encode(h.finalize())),
            Hasher::Sha512(h) => (Algorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, hex }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_hash_state_resumes_where_it_stopped() {
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let mut h = algorithm.hasher();
            h.update(b"hello ");
            let mut resumed = Hasher::resume(algorithm, &h.state()).unwrap();
            resumed.update(b"world");
            let mut whole = algorithm.hasher();
            whole.update(b"hello world");
            assert_eq!(resumed.finish(), whole.finish());
        }
        // Known answer (sha256 of "hello world", FIPS 180-4 via coreutils' sha256sum).
        let mut h = Algorithm::Sha256.hasher();
        h.update(b"hello ");
        let mut resumed = Hasher::resume(Algorithm::Sha256, &h.state()).unwrap();
        resumed.update(b"world");
        assert_eq!(
            resumed.finish().hex(),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let sha512_state = Algorithm::Sha512.hasher().state();
        assert!(Hasher::resume(Algorithm::Sha256, &sha512_state).is_none());
        assert!(Hasher::resume(Algorithm::Sha256, b"short").is_none());
    }

    #[test]
    fn parses_both_algorithms_and_round_trips() {
        let d256 = Digest::sha256_of(b"hello");
        assert_eq!(d256.to_string().parse::<Digest>().unwrap(), d256);
        let mut h = Algorithm::Sha512.hasher();
        h.update(b"hello");
        let d512 = h.finish();
        assert_eq!(d512.hex().len(), 128);
        assert_eq!(d512.to_string().parse::<Digest>().unwrap(), d512);
        assert!(d512.matches(b"hello"));
        assert!(!d512.matches(b"hello!"));
    }

    #[test]
    fn rejects_malformed_digests() {
        let upper = format!("sha256:{}", "A".repeat(64));
        assert_eq!(upper.parse::<Digest>(), Err(DigestError::Hex(64)));
        assert_eq!("sha256:abc".parse::<Digest>(), Err(DigestError::Hex(64)));
        assert_eq!("nocolon".parse::<Digest>(), Err(DigestError::Form));
        assert!(matches!(
            format!("md5:{}", "0".repeat(32)).parse::<Digest>(),
            Err(DigestError::Algorithm(_))
        ));
        let traversal = format!("sha256:../{}", "0".repeat(61));
        assert!(traversal.parse::<Digest>().is_err());
    }
}
