//! The registry's errors in its own terms. Services return these; they know
//! nothing of HTTP. `http::error` is the one place that turns each into a status
//! and the OCI (or Harbor) error body.

use serde::Serialize;

/// The OCI distribution spec's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    #[serde(rename = "TOOMANYREQUESTS")]
    TooManyRequests,
    /// Distribution's `UNAVAILABLE` (503): a proxy cache's upstream cannot be reached
    /// and the content is not cached.
    Unavailable,
}

impl ErrorCode {
    /// The code as the spec spells it on the wire (`MANIFEST_UNKNOWN`).
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BlobUnknown => "BLOB_UNKNOWN",
            BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            DigestInvalid => "DIGEST_INVALID",
            ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ManifestInvalid => "MANIFEST_INVALID",
            ManifestUnknown => "MANIFEST_UNKNOWN",
            NameInvalid => "NAME_INVALID",
            NameUnknown => "NAME_UNKNOWN",
            SizeInvalid => "SIZE_INVALID",
            Unauthorized => "UNAUTHORIZED",
            Denied => "DENIED",
            Unsupported => "UNSUPPORTED",
            TooManyRequests => "TOOMANYREQUESTS",
            Unavailable => "UNAVAILABLE",
        }
    }

    fn default_message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BlobUnknown => "blob unknown to registry",
            BlobUploadInvalid => "blob upload invalid",
            BlobUploadUnknown => "blob upload unknown to registry",
            DigestInvalid => "provided digest did not match uploaded content",
            ManifestBlobUnknown => "manifest references a manifest or blob unknown to registry",
            ManifestInvalid => "manifest invalid",
            ManifestUnknown => "manifest unknown to registry",
            NameInvalid => "invalid repository name",
            NameUnknown => "repository name not known to registry",
            SizeInvalid => "provided length did not match content length",
            Unauthorized => "authentication required",
            Denied => "requested access to the resource is denied",
            Unsupported => "the operation is unsupported",
            TooManyRequests => "too many requests",
            Unavailable => "service unavailable",
        }
    }
}

/// Management-API failures, Harbor's categories (`BAD_REQUEST`, `NOT_FOUND`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    BadRequest,
    NotFound,
    Conflict,
    /// Authenticated, but the rule forbids it (wrong old password, deleting oneself…).
    Forbidden,
    /// The resource is not in a state that allows it (a project that still has repositories).
    Precondition,
    /// A feature this registry was started without (scanning with no database).
    Unavailable,
    /// A body that is not sent as what the endpoint reads (JSON without its media type).
    UnsupportedMediaType,
}

/// What went wrong, with enough to tell the client precisely.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A failure the OCI distribution spec names.
    #[error("{code:?}: {message}")]
    Oci {
        code: ErrorCode,
        message: String,
        detail: Option<serde_json::Value>,
    },
    /// A chunk that does not start where the upload ends (the spec's 416).
    #[error("BlobUploadInvalid: {0}")]
    ChunkOutOfOrder(String),
    /// A project's pull gate refused the artifact (Harbor answers 412 with `DENIED`).
    #[error("Denied: {0}")]
    PullDenied(String),
    /// A write a rule of the registry refuses (an immutable tag, a project's
    /// quota): OCI `DENIED` with the rule's message.
    #[error("Denied: {0}")]
    WriteDenied(String),
    /// A listing's `n` that is not a count.
    #[error("Unsupported: {0}")]
    InvalidPageSize(String),
    /// Something this registry was started without (authentication off).
    #[error("Unsupported: {0}")]
    NotEnabled(String),
    /// A path no route matches.
    #[error("no such endpoint")]
    NoSuchEndpoint,
    /// A request body over its endpoint's limit (413), with the OCI code that names
    /// what was too large (`MANIFEST_INVALID` for a manifest, `SIZE_INVALID` otherwise).
    #[error("{code:?}: {message}")]
    TooLarge { code: ErrorCode, message: String },
    /// Request headers over the configured limit (431).
    #[error("SizeInvalid: {0}")]
    HeadersTooLarge(String),
    /// A client over its rate (429 `TOOMANYREQUESTS` with `Retry-After`).
    #[error("TooManyRequests: {message}")]
    RateLimited {
        message: String,
        /// Whole seconds until the client may try again (at least 1).
        retry_after: u64,
    },
    /// Management API errors, Harbor-shaped.
    #[error("{kind:?}: {message}")]
    Api { kind: ApiErrorKind, message: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl RegistryError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RegistryError::Oci {
            code,
            message: message.into(),
            detail: None,
        }
    }

    pub fn code(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    pub fn with_detail(self, new_detail: serde_json::Value) -> Self {
        match self {
            RegistryError::Oci { code, message, .. } => RegistryError::Oci {
                code,
                message,
                detail: Some(new_detail),
            },
            other => other,
        }
    }

    /// The OCI code this error is sent with, if it is an OCI error.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            RegistryError::Oci { code, .. } => Some(*code),
            RegistryError::ChunkOutOfOrder(_) => Some(ErrorCode::BlobUploadInvalid),
            RegistryError::PullDenied(_) | RegistryError::WriteDenied(_) => Some(ErrorCode::Denied),
            RegistryError::InvalidPageSize(_)
            | RegistryError::NotEnabled(_)
            | RegistryError::NoSuchEndpoint => Some(ErrorCode::Unsupported),
            RegistryError::TooLarge { code, .. } => Some(*code),
            RegistryError::HeadersTooLarge(_) => Some(ErrorCode::SizeInvalid),
            RegistryError::RateLimited { .. } => Some(ErrorCode::TooManyRequests),
            _ => None,
        }
    }

    pub fn api(kind: ApiErrorKind, message: impl Into<String>) -> Self {
        RegistryError::Api {
            kind,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::api(ApiErrorKind::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::api(ApiErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::api(ApiErrorKind::Conflict, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::api(ApiErrorKind::Forbidden, message)
    }
}

impl From<crate::metadata::MetadataError> for RegistryError {
    fn from(e: crate::metadata::MetadataError) -> Self {
        RegistryError::Internal(format!("metadata store: {e}"))
    }
}

impl From<crate::storage::StorageError> for RegistryError {
    fn from(e: crate::storage::StorageError) -> Self {
        RegistryError::Internal(format!("blob store: {e}"))
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_the_spec_spells_them() {
        for (code, s) in [
            (ErrorCode::BlobUploadInvalid, "BLOB_UPLOAD_INVALID"),
            (ErrorCode::ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN"),
            (ErrorCode::NameInvalid, "NAME_INVALID"),
            (ErrorCode::TooManyRequests, "TOOMANYREQUESTS"),
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), s);
            assert_eq!(code.as_str(), s);
        }
    }
}
