//! The one error type of registry access.

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// Registry access failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid image reference '{0}': {1}")]
    BadReference(String, String),
    #[error("{what} not found: {reference}")]
    NotFound {
        what: &'static str,
        reference: String,
    },
    #[error("registry error for {reference}: {source}")]
    Registry {
        reference: String,
        #[source]
        source: Box<OciDistributionError>,
    },
    #[error("{what} is larger than the {limit}-byte limit")]
    TooLarge { what: String, limit: u64 },
    #[error("content of {reference} does not match its digest {digest}")]
    DigestMismatch { reference: String, digest: String },
    #[error("malformed manifest {reference}: {reason}")]
    BadManifest { reference: String, reason: String },
    #[error("docker config {path}: {reason}")]
    DockerConfig { path: String, reason: String },
    #[error("credential helper docker-credential-{helper} for {registry}: {reason}")]
    CredentialHelper {
        helper: String,
        registry: String,
        reason: String,
    },
    /// The registry refused the request as one it does not support (Distribution 2.8
    /// answers a tag DELETE 400 `DIGEST_INVALID`, and any DELETE 405 `UNSUPPORTED` when
    /// deletes are off).
    #[error("{what}: the registry does not support it ({reason})")]
    Unsupported { what: String, reason: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure of `what` (a request we send ourselves, a URL, a certificate) that
    /// is not the registry's answer: the connection, TLS, a body cut short.
    pub(crate) fn io(
        what: impl Into<String>,
        e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Io {
            what: what.into(),
            source: std::io::Error::other(e),
        }
    }

    /// Wraps an oci-client failure on `reference`, telling "does not exist" apart.
    pub(crate) fn from_client(
        reference: &oci_client::Reference,
        what: &'static str,
        e: OciDistributionError,
    ) -> Error {
        if is_not_found(&e) {
            Error::NotFound {
                what,
                reference: reference.whole(),
            }
        } else {
            Error::Registry {
                reference: reference.whole(),
                source: Box::new(e),
            }
        }
    }

    /// True when the registry said the thing does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// True when the registry refused the request as unsupported.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
    }
}

fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code: 404, .. } => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|er| {
            matches!(
                er.code,
                OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::BlobUnknown
                    | OciErrorCode::NotFound
            )
        }),
        _ => false,
    }
}
