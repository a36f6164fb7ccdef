//! `/v2/<name>/blobs/uploads/…`: start (monolithic, mount or session), chunk,
//! status, finish, cancel.

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::params::{self, body_stream, content_length, content_range};
use super::{AppState, ClientAddr};
use crate::digest::Digest;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::names::RepoName;
use crate::service::{MountOutcome, UploadStatus};

#[derive(Deserialize)]
pub struct StartQuery {
    digest: Option<String>,
    mount: Option<String>,
    from: Option<String>,
}

#[derive(Deserialize)]
pub struct FinishQuery {
    digest: Option<String>,
}

fn created(repo: &RepoName, digest: &Digest) -> Response {
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/v2/{repo}/blobs/{digest}")),
            (
                header::HeaderName::from_static("docker-content-digest"),
                digest.to_string(),
            ),
            (header::CONTENT_LENGTH, "0".into()),
        ],
    )
        .into_response()
}

/// Where a session stands, as 202 (after POST/PATCH) or 204 (status GET).
fn in_progress(status: StatusCode, repo: &RepoName, up: &UploadStatus) -> Response {
    // `Range` is inclusive; an empty upload is reported as 0-0, as distribution does.
    let end = up.size.saturating_sub(1);
    (
        status,
        [
            (
                header::LOCATION,
                format!("/v2/{repo}/blobs/uploads/{}", up.id),
            ),
            (header::RANGE, format!("0-{end}")),
            (
                header::HeaderName::from_static("docker-upload-uuid"),
                up.id.clone(),
            ),
            (header::CONTENT_LENGTH, "0".into()),
        ],
    )
        .into_response()
}

pub async fn start(
    State(reg): State<AppState>,
    client: Option<Extension<ConnectInfo<ClientAddr>>>,
    Path(name): Path<String>,
    Query(q): Query<StartQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let repo = params::repo(&name)?;
    let client = client.map(|c| c.0.0.0.ip());
    if let Some(mount) = q.mount {
        let digest = params::digest(&mount)?;
        let from = q.from.as_deref().map(params::repo).transpose()?;
        return Ok(
            match reg
                .distribution
                .mount_blob(&repo, &digest, from.as_ref(), client)
                .await?
            {
                MountOutcome::Mounted(d) => created(&repo, &d),
                MountOutcome::Started(up) => in_progress(StatusCode::ACCEPTED, &repo, &up),
            },
        );
    }
    if let Some(digest) = q.digest {
        let digest = params::digest(&digest)?;
        let length = content_length(&headers)?;
        reg.distribution
            .upload_monolithic(&repo, &digest, body_stream(body), length, client)
            .await?;
        return Ok(created(&repo, &digest));
    }
    let up = reg.distribution.start_upload(&repo, client).await?;
    Ok(in_progress(StatusCode::ACCEPTED, &repo, &up))
}

pub async fn status(
    State(reg): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response> {
    let repo = params::repo(&name)?;
    let up = reg.distribution.upload_status(&repo, &id).await?;
    Ok(in_progress(StatusCode::NO_CONTENT, &repo, &up))
}

pub async fn chunk(
    State(reg): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let repo = params::repo(&name)?;
    let range = content_range(&headers)?;
    let length = content_length(&headers)?;
    let up = reg
        .distribution
        .upload_chunk(&repo, &id, range, length, body_stream(body))
        .await?;
    Ok(in_progress(StatusCode::ACCEPTED, &repo, &up))
}

pub async fn finish(
    State(reg): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    Query(q): Query<FinishQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let repo = params::repo(&name)?;
    let digest = q
        .digest
        .as_deref()
        .ok_or_else(|| {
            RegistryError::new(
                ErrorCode::DigestInvalid,
                "the digest query parameter is required",
            )
        })
        .and_then(params::digest)?;
    let length = content_length(&headers)?;
    reg.distribution
        .finish_upload(&repo, &id, &digest, body_stream(body), length)
        .await?;
    Ok(created(&repo, &digest))
}

pub async fn cancel(
    State(reg): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let repo = params::repo(&name)?;
    reg.distribution.cancel_upload(&repo, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
