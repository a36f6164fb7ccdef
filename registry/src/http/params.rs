//! Turning raw path, query and header values into typed ones, with the OCI
//! error each malformed value deserves.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures_util::TryStreamExt;

use crate::digest::Digest;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::names::{Reference, ReferenceError, RepoName};
use crate::storage::ByteStream;

pub fn repo(name: &str) -> Result<RepoName> {
    RepoName::parse(name).map_err(|e| {
        RegistryError::new(
            ErrorCode::NameInvalid,
            format!("invalid repository name {name:?}: {e}"),
        )
    })
}

pub fn digest(s: &str) -> Result<Digest> {
    s.parse().map_err(|e| {
        RegistryError::new(
            ErrorCode::DigestInvalid,
            format!("invalid digest {s:?}: {e}"),
        )
    })
}

pub fn content_length(headers: &HeaderMap) -> Result<Option<u64>> {
    match headers.get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| {
                RegistryError::new(ErrorCode::SizeInvalid, "Content-Length is not a number")
            }),
    }
}

pub fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Content-Range` of a chunk: `start-end`, as the spec writes it, or with a
/// `bytes ` / `bytes=` prefix and `/total` suffix as some clients send it.
pub fn content_range(headers: &HeaderMap) -> Result<Option<(u64, u64)>> {
    let Some(raw) = header_str(headers, header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let s = raw
        .trim()
        .trim_start_matches("bytes")
        .trim_start_matches(['=', ' ']);
    let s = s.split('/').next().unwrap_or("");
    let parsed = s
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    parsed.map(Some).ok_or_else(|| {
        RegistryError::new(
            ErrorCode::BlobUploadInvalid,
            format!("malformed Content-Range {raw:?}; expected start-end"),
        )
    })
}

pub fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

/// A tag or a digest from the path, each malformation with its own code.
pub fn reference(s: &str) -> Result<Reference> {
    Reference::parse(s).map_err(|e| invalid_reference(s, e))
}

fn invalid_reference(s: &str, e: ReferenceError) -> RegistryError {
    match e {
        ReferenceError::Digest(_) => RegistryError::new(
            ErrorCode::DigestInvalid,
            format!("invalid digest {s:?}: {e}"),
        ),
        ReferenceError::Tag(_) => RegistryError::new(ErrorCode::ManifestInvalid, e.to_string()),
    }
}

/// A reference to look up (GET, HEAD, DELETE). No manifest can have a tag that
/// is not a valid tag, so it is not found: 404 `MANIFEST_UNKNOWN`, as the OCI
/// distribution spec requires and its conformance suite checks (with the tag
/// `.INVALID_MANIFEST_NAME`). Only a PUT refuses it as invalid.
pub fn lookup_reference(s: &str) -> Result<Reference> {
    Reference::parse(s).map_err(|e| match e {
        ReferenceError::Tag(tag) => RegistryError::new(
            ErrorCode::ManifestUnknown,
            format!("manifest unknown: {tag:?} is not a valid tag"),
        ),
        e => invalid_reference(s, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(content_range(&h).unwrap(), None);
        for (v, want) in [
            ("0-9", (0, 9)),
            ("bytes 10-19/100", (10, 19)),
            ("bytes=5-5", (5, 5)),
        ] {
            h.insert(header::CONTENT_RANGE, v.parse().unwrap());
            assert_eq!(content_range(&h).unwrap(), Some(want), "{v}");
        }
        h.insert(header::CONTENT_RANGE, "nonsense".parse().unwrap());
        assert_eq!(
            content_range(&h).unwrap_err().error_code(),
            Some(ErrorCode::BlobUploadInvalid)
        );
    }
}
