//! The registry's errors, and their wire form: the OCI distribution error body
//! `{"errors":[{"code","message","detail"}]}` with the status the spec gives each code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
}

impl ErrorCode {
    /// The status the spec pairs with each code; a few call sites override it
    /// (416 for out-of-order chunks, 413 never: distribution answers 400).
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            BlobUnknown | BlobUploadUnknown | ManifestUnknown | NameUnknown => {
                StatusCode::NOT_FOUND
            }
            BlobUploadInvalid | DigestInvalid | ManifestBlobUnknown | ManifestInvalid
            | NameInvalid | SizeInvalid => StatusCode::BAD_REQUEST,
            Unauthorized => StatusCode::UNAUTHORIZED,
            Denied => StatusCode::FORBIDDEN,
            Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
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
        }
    }
}

/// An error a client caused (or an internal failure), ready to be sent.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{code:?}: {message}")]
    Oci {
        code: ErrorCode,
        status: StatusCode,
        message: String,
        detail: Option<serde_json::Value>,
    },
    /// Management API errors, Harbor-shaped (`CONFLICT`, `PRECONDITION`, `BAD_REQUEST`, `NOT_FOUND`…).
    #[error("{code}: {message}")]
    Api {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl RegistryError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RegistryError::Oci {
            code,
            status: code.status(),
            message: message.into(),
            detail: None,
        }
    }

    pub fn code(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    pub fn with_status(self, new_status: StatusCode) -> Self {
        match self {
            RegistryError::Oci {
                code,
                message,
                detail,
                ..
            } => RegistryError::Oci {
                code,
                status: new_status,
                message,
                detail,
            },
            other => other,
        }
    }

    pub fn with_detail(self, new_detail: serde_json::Value) -> Self {
        match self {
            RegistryError::Oci {
                code,
                status,
                message,
                ..
            } => RegistryError::Oci {
                code,
                status,
                message,
                detail: Some(new_detail),
            },
            other => other,
        }
    }

    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            RegistryError::Oci { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn api(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        RegistryError::Api {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::api(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::api(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::api(StatusCode::CONFLICT, "CONFLICT", message)
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

#[derive(Serialize)]
struct Body<'a> {
    errors: [Entry<'a>; 1],
}

#[derive(Serialize)]
struct Entry<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a serde_json::Value>,
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let (status, code, message, detail) = match &self {
            RegistryError::Oci {
                code,
                status,
                message,
                detail,
            } => {
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned));
                (
                    *status,
                    code.unwrap_or_default(),
                    message.as_str(),
                    detail.as_ref(),
                )
            }
            RegistryError::Api {
                status,
                code,
                message,
            } => (*status, code.to_string(), message.as_str(), None),
            RegistryError::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "UNKNOWN".to_string(),
                    "internal server error",
                    None,
                )
            }
        };
        let body = serde_json::to_vec(&Body {
            errors: [Entry {
                code: &code,
                message,
                detail,
            }],
        })
        .unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn error_body_has_the_spec_shape() {
        let resp = RegistryError::new(ErrorCode::TooManyRequests, "slow down")
            .with_detail(serde_json::json!({"limit": 1}))
            .into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["errors"][0]["code"], "TOOMANYREQUESTS");
        assert_eq!(v["errors"][0]["message"], "slow down");
        assert_eq!(v["errors"][0]["detail"]["limit"], 1);
    }

    #[test]
    fn codes_serialize_as_the_spec_spells_them() {
        for (code, s) in [
            (ErrorCode::BlobUploadInvalid, "BLOB_UPLOAD_INVALID"),
            (ErrorCode::ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN"),
            (ErrorCode::NameInvalid, "NAME_INVALID"),
            (ErrorCode::TooManyRequests, "TOOMANYREQUESTS"),
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), s);
        }
    }
}
