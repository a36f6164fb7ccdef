//! `GET /v2/<name>/tags/list`, `GET /v2/_catalog`, `GET /v2/<name>/referrers/<digest>`

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::params;
use crate::error::{RegistryError, Result};
use crate::manifest::OCI_INDEX;
use crate::service::Page;

#[derive(Deserialize)]
pub struct PageQuery {
    n: Option<String>,
    last: Option<String>,
}

impl PageQuery {
    fn n(&self) -> Result<Option<u32>> {
        self.n
            .as_deref()
            .map(|n| n.parse::<u32>())
            .transpose()
            .map_err(|_| RegistryError::InvalidPageSize("n must be a non-negative integer".into()))
    }
}

/// The body, plus `Link: <…?n=&last=>; rel="next"` when another page exists.
fn paged(path: &str, n: Option<u32>, page: &Page, body: Value) -> Response {
    let mut resp = Json(body).into_response();
    if let (true, Some(last)) = (page.more, page.items.last()) {
        let n = n.map(|n| format!("n={n}&")).unwrap_or_default();
        let link = format!("<{path}?{n}last={last}>; rel=\"next\"");
        if let Ok(v) = link.parse() {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    resp
}

pub async fn tags(
    State(reg): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let repo = params::repo(&name)?;
    let n = q.n()?;
    let page = reg
        .distribution
        .list_tags(&repo, n, q.last.as_deref())
        .await?;
    let body = json!({ "name": repo.as_str(), "tags": page.items });
    Ok(paged(&format!("/v2/{repo}/tags/list"), n, &page, body))
}

pub async fn catalog(State(reg): State<AppState>, Query(q): Query<PageQuery>) -> Result<Response> {
    let n = q.n()?;
    let page = reg.distribution.catalog(n, q.last.as_deref()).await?;
    let body = json!({ "repositories": page.items });
    Ok(paged("/v2/_catalog", n, &page, body))
}

#[derive(Deserialize)]
pub struct ReferrersQuery {
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
}

pub async fn referrers(
    State(reg): State<AppState>,
    Path((name, digest)): Path<(String, String)>,
    Query(q): Query<ReferrersQuery>,
) -> Result<Response> {
    let (repo, digest) = (params::repo(&name)?, params::digest(&digest)?);
    let filter = q.artifact_type.as_deref().filter(|t| !t.is_empty());
    let found = reg.distribution.referrers(&repo, &digest, filter).await?;
    let manifests: Vec<Value> = found
        .into_iter()
        .map(|r| {
            let mut d = Map::new();
            d.insert("mediaType".into(), r.media_type.into());
            d.insert("digest".into(), r.digest.to_string().into());
            d.insert("size".into(), r.size.into());
            if let Some(t) = r.artifact_type {
                d.insert("artifactType".into(), t.into());
            }
            if let Some(a) = r.annotations {
                d.insert("annotations".into(), a);
            }
            Value::Object(d)
        })
        .collect();
    let body = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, OCI_INDEX)],
        body.to_string(),
    )
        .into_response();
    if filter.is_some() {
        resp.headers_mut().insert(
            "OCI-Filters-Applied",
            "artifactType".parse().expect("static"),
        );
    }
    Ok(resp)
}
