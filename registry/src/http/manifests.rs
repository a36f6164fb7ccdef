//! `GET|HEAD|PUT|DELETE /v2/<name>/manifests/<reference>`

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::AppState;
use super::auth::Grant;
use super::params::{self, content_length, header_str};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::manifest::MAX_MANIFEST_SIZE;
use crate::metadata::StoredManifest;
use crate::service::PullCaller;

fn manifest_response(m: StoredManifest) -> Response {
    let headers = [
        (header::CONTENT_TYPE, m.media_type),
        (header::CONTENT_LENGTH, m.size.to_string()),
        (
            header::HeaderName::from_static("docker-content-digest"),
            m.digest.to_string(),
        ),
        (header::ETAG, format!("\"{}\"", m.digest)),
    ];
    match m.content {
        Some(content) => (StatusCode::OK, headers, content).into_response(),
        None => (StatusCode::OK, headers).into_response(),
    }
}

pub async fn get(
    State(reg): State<AppState>,
    grant: Option<Extension<Grant>>,
    Path((name, reference)): Path<(String, String)>,
) -> Result<Response> {
    let (repo, reference) = (params::repo(&name)?, params::lookup_reference(&reference)?);
    let m = reg
        .distribution
        .get_manifest(&repo, &reference, true)
        .await?;
    let caller = match grant.as_deref() {
        Some(Grant::Principal(p)) => PullCaller::Principal(p),
        Some(Grant::Token(claims)) => PullCaller::TokenSubject(&claims.sub),
        _ => PullCaller::Anonymous,
    };
    let verdict = reg.security.pull_gate(&repo, &m, caller).await;
    crate::service::metrics::Metrics::outcome(
        &reg.metrics.pull_gate_decisions,
        if verdict.is_ok() {
            "allowed"
        } else {
            "refused"
        },
    );
    verdict?;
    let tag = match &reference {
        crate::names::Reference::Tag(t) => Some(t.as_str()),
        crate::names::Reference::Digest(_) => None,
    };
    reg.distribution.record_pull(&repo, &m.digest, tag).await;
    Ok(manifest_response(m))
}

pub async fn head(
    State(reg): State<AppState>,
    Path((name, reference)): Path<(String, String)>,
) -> Result<Response> {
    let (repo, reference) = (params::repo(&name)?, params::lookup_reference(&reference)?);
    Ok(manifest_response(
        reg.distribution
            .get_manifest(&repo, &reference, false)
            .await?,
    ))
}

/// 413 with `MANIFEST_INVALID`: the limit is the distribution spec's 4 MiB, the size
/// every client and registry must handle (wharf-oci's client refuses larger ones too).
fn too_big() -> RegistryError {
    RegistryError::TooLarge {
        code: ErrorCode::ManifestInvalid,
        message: format!("manifest exceeds the {} MiB limit", MAX_MANIFEST_SIZE >> 20),
    }
}

/// The whole body, refusing (without buffering it) anything over the limit.
async fn read_limited(body: Body) -> Result<Bytes> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            RegistryError::new(
                ErrorCode::ManifestInvalid,
                format!("reading the manifest body: {e}"),
            )
        })?;
        if buf.len() + chunk.len() > MAX_MANIFEST_SIZE {
            return Err(too_big());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

pub async fn put(
    State(reg): State<AppState>,
    Path((name, reference)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (repo, reference) = (params::repo(&name)?, params::reference(&reference)?);
    if content_length(&headers)?.is_some_and(|n| n > MAX_MANIFEST_SIZE as u64) {
        return Err(too_big());
    }
    let body = read_limited(body).await?;
    let content_type = header_str(&headers, header::CONTENT_TYPE);
    let put = reg
        .distribution
        .put_manifest(&repo, &reference, content_type, body)
        .await?;
    let mut resp = (
        StatusCode::CREATED,
        [
            (
                header::LOCATION,
                format!("/v2/{repo}/manifests/{}", put.digest),
            ),
            (
                header::HeaderName::from_static("docker-content-digest"),
                put.digest.to_string(),
            ),
            (header::CONTENT_LENGTH, "0".into()),
        ],
    )
        .into_response();
    if let Some(subject) = put.subject {
        resp.headers_mut().insert(
            "OCI-Subject",
            subject
                .to_string()
                .parse()
                .expect("digests are header-safe"),
        );
    }
    Ok(resp)
}

pub async fn delete(
    State(reg): State<AppState>,
    Path((name, reference)): Path<(String, String)>,
) -> Result<StatusCode> {
    let (repo, reference) = (params::repo(&name)?, params::lookup_reference(&reference)?);
    reg.distribution.delete_manifest(&repo, &reference).await?;
    Ok(StatusCode::ACCEPTED)
}
