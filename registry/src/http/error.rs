//! The one mapping from the registry's errors to HTTP: each error's status and
//! body. OCI errors get the distribution spec's body
//! `{"errors":[{"code","message","detail"}]}` with the status the spec pairs with
//! the code; management errors get Harbor's codes in the same envelope.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{ApiErrorKind, ErrorCode, RegistryError};

/// The status the spec pairs with each code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        BlobUnknown | BlobUploadUnknown | ManifestUnknown | NameUnknown => StatusCode::NOT_FOUND,
        BlobUploadInvalid | DigestInvalid | ManifestBlobUnknown | ManifestInvalid | NameInvalid
        | SizeInvalid => StatusCode::BAD_REQUEST,
        Unauthorized => StatusCode::UNAUTHORIZED,
        Denied => StatusCode::FORBIDDEN,
        Unsupported => StatusCode::METHOD_NOT_ALLOWED,
        TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn api_status(kind: ApiErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ApiErrorKind::BadRequest => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        ApiErrorKind::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        ApiErrorKind::Conflict => (StatusCode::CONFLICT, "CONFLICT"),
        ApiErrorKind::Forbidden => (StatusCode::FORBIDDEN, "FORBIDDEN"),
        ApiErrorKind::Precondition => (StatusCode::PRECONDITION_FAILED, "PRECONDITION"),
        ApiErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNSUPPORTED"),
        ApiErrorKind::UnsupportedMediaType => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
        }
    }
}

/// The status an error is sent with.
pub fn status(e: &RegistryError) -> StatusCode {
    match e {
        RegistryError::Oci { code, .. } => status_of(*code),
        RegistryError::ChunkOutOfOrder(_) => StatusCode::RANGE_NOT_SATISFIABLE,
        RegistryError::PullDenied(_) => StatusCode::PRECONDITION_FAILED,
        RegistryError::WriteDenied(_) => StatusCode::FORBIDDEN,
        RegistryError::InvalidPageSize(_) => StatusCode::BAD_REQUEST,
        RegistryError::NotEnabled(_) | RegistryError::NoSuchEndpoint => StatusCode::NOT_FOUND,
        RegistryError::Api { kind, .. } => api_status(*kind).0,
        RegistryError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        RegistryError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        RegistryError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        RegistryError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
        let status = status(&self);
        let (code, message, detail) = match &self {
            RegistryError::Oci {
                code,
                message,
                detail,
            } => (code.as_str(), message.as_str(), detail.as_ref()),
            RegistryError::ChunkOutOfOrder(m)
            | RegistryError::PullDenied(m)
            | RegistryError::WriteDenied(m)
            | RegistryError::InvalidPageSize(m)
            | RegistryError::NotEnabled(m)
            | RegistryError::HeadersTooLarge(m)
            | RegistryError::TooLarge { message: m, .. }
            | RegistryError::RateLimited { message: m, .. } => (
                self.error_code().map(ErrorCode::as_str).unwrap_or_default(),
                m.as_str(),
                None,
            ),
            RegistryError::NoSuchEndpoint => {
                (ErrorCode::Unsupported.as_str(), "no such endpoint", None)
            }
            RegistryError::Api { kind, message } => (api_status(*kind).1, message.as_str(), None),
            RegistryError::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                ("UNKNOWN", "internal server error", None)
            }
        };
        let body = serde_json::to_vec(&Body {
            errors: [Entry {
                code,
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
        if let RegistryError::RateLimited { retry_after, .. } = &self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        resp
    }
}

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

    #[tokio::test]
    async fn rate_limited_says_when_to_come_back() {
        let resp = RegistryError::RateLimited {
            message: "slow down".into(),
            retry_after: 7,
        }
        .into_response();
        assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["errors"][0]["code"], "TOOMANYREQUESTS");
    }

    #[test]
    fn special_cases_keep_their_statuses() {
        for (e, s) in [
            (RegistryError::ChunkOutOfOrder("x".into()), 416),
            (RegistryError::PullDenied("x".into()), 412),
            (RegistryError::WriteDenied("x".into()), 403),
            (RegistryError::InvalidPageSize("x".into()), 400),
            (RegistryError::NotEnabled("x".into()), 404),
            (RegistryError::NoSuchEndpoint, 404),
            (RegistryError::api(ApiErrorKind::Precondition, "x"), 412),
            (RegistryError::api(ApiErrorKind::Unavailable, "x"), 503),
            (
                RegistryError::api(ApiErrorKind::UnsupportedMediaType, "x"),
                415,
            ),
            (
                RegistryError::TooLarge {
                    code: ErrorCode::ManifestInvalid,
                    message: "x".into(),
                },
                413,
            ),
            (RegistryError::HeadersTooLarge("x".into()), 431),
            (
                RegistryError::RateLimited {
                    message: "x".into(),
                    retry_after: 3,
                },
                429,
            ),
        ] {
            assert_eq!(status(&e).as_u16(), s, "{e:?}");
        }
    }
}
