//! `GET|HEAD|DELETE /v2/<name>/blobs/<digest>`

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::params::{self, header_str};
use crate::error::Result;
use crate::service::{BlobBody, ByteRange};

const DIGEST_HEADER: &str = "Docker-Content-Digest";

pub async fn head(
    State(reg): State<AppState>,
    Path((name, digest)): Path<(String, String)>,
) -> Result<Response> {
    let (repo, digest) = (params::repo(&name)?, params::digest(&digest)?);
    let size = reg.distribution.blob_size(&repo, &digest).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_TYPE, "application/octet-stream".into()),
            (header::ACCEPT_RANGES, "bytes".into()),
            (
                header::HeaderName::from_static("docker-content-digest"),
                digest.to_string(),
            ),
        ],
    )
        .into_response())
}

pub async fn get(
    State(reg): State<AppState>,
    Path((name, digest)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let (repo, digest) = (params::repo(&name)?, params::digest(&digest)?);
    let range = header_str(&headers, header::RANGE).and_then(ByteRange::parse);
    let digest_value = digest.to_string();
    if let Some(url) = reg.distribution.blob_url(&repo, &digest).await? {
        // As Distribution's `redirect`: the client downloads from the blob store itself.
        return Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header(header::LOCATION, url)
            .header(DIGEST_HEADER, digest_value)
            .body(Body::empty())
            .map_err(|e| crate::error::RegistryError::Internal(e.to_string()));
    }
    let resp = match reg.distribution.read_blob(&repo, &digest, range).await? {
        BlobBody::Whole { size, stream } => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_LENGTH, size)
            .header(header::ACCEPT_RANGES, "bytes")
            .body(Body::from_stream(stream)),
        BlobBody::Partial {
            size,
            start,
            end,
            stream,
        } => Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_LENGTH, end - start + 1)
            .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"))
            .header(header::ACCEPT_RANGES, "bytes")
            .body(Body::from_stream(stream)),
        BlobBody::Unsatisfiable { size } => Response::builder()
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{size}"))
            .body(Body::empty()),
    };
    let mut resp = resp.map_err(|e| crate::error::RegistryError::Internal(e.to_string()))?;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        "application/octet-stream".parse().expect("static"),
    );
    h.insert(
        DIGEST_HEADER,
        digest_value.parse().expect("digests are header-safe"),
    );
    Ok(resp)
}

pub async fn delete(
    State(reg): State<AppState>,
    Path((name, digest)): Path<(String, String)>,
) -> Result<StatusCode> {
    let (repo, digest) = (params::repo(&name)?, params::digest(&digest)?);
    reg.distribution.delete_blob(&repo, &digest).await?;
    Ok(StatusCode::ACCEPTED)
}
