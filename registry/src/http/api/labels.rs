//! `/labels` and `…/artifacts/{reference}/labels`: Harbor's labels, global (scope
//! `g`) and per project (scope `p`), and putting them on artifacts.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, Caller, Paging, created, paged, time};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::labels::{Label, LabelMatch, LabelSpec};
use crate::service::labels::Scope;

/// Harbor's `Label` object.
pub fn label_json(l: &Label) -> Value {
    json!({
        "id": l.id,
        "name": l.name,
        "description": l.description,
        "color": l.color,
        "scope": if l.project_id.is_some() { "p" } else { "g" },
        "project_id": l.project_id.unwrap_or(0),
        "creation_time": time(l.created_at),
        "update_time": time(l.updated_at),
        "deleted": false,
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    name: Option<String>,
    scope: Option<String>,
    project_id: Option<i64>,
    q: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
}

/// `GET /labels`: `?scope=g` (default) or `?scope=p&project_id=N`; `?name=` exact,
/// `?q=name=~part` (contains) or `?q=name=exact`.
pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let scope = Scope::parse(q.scope.as_deref(), q.project_id)?;
    let mut name = q.name.filter(|n| !n.is_empty());
    let mut contains = None;
    for term in
        q.q.as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|t| !t.is_empty())
    {
        match term.split_once('=') {
            Some(("name", v)) => match v.strip_prefix('~') {
                Some(part) => contains = Some(part.to_string()),
                None => name = Some(v.to_string()),
            },
            _ => {
                return Err(RegistryError::bad_request(format!(
                    "invalid query {term:?}: labels are filtered by name=value or name=~part"
                )));
            }
        }
    }
    let page = Paging {
        page: q.page,
        page_size: q.page_size,
    }
    .req();
    let (labels, total) = reg
        .labels
        .list(&caller.who, scope, name, contains, page)
        .await?;
    Ok(paged(
        "/api/v2.0/labels",
        page,
        total,
        labels.iter().map(label_json).collect(),
    ))
}

#[derive(Deserialize)]
pub struct LabelReq {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    color: String,
    scope: Option<String>,
    project_id: Option<i64>,
}

impl LabelReq {
    fn spec(self) -> LabelSpec {
        LabelSpec {
            name: self.name,
            description: self.description,
            color: self.color,
        }
    }
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<LabelReq>,
) -> Result<Response> {
    let scope = Scope::parse(body.scope.as_deref(), body.project_id)?;
    let id = reg
        .labels
        .create(&caller.who, caller.ip.as_deref(), scope, body.spec())
        .await?;
    Ok(created(format!("/api/v2.0/labels/{id}")))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>> {
    Ok(axum::Json(label_json(
        &reg.labels.get(&caller.who, id).await?,
    )))
}

/// `PUT /labels/{id}`: name, description and colour; the scope cannot change.
pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<LabelReq>,
) -> Result<StatusCode> {
    reg.labels
        .update(&caller.who, caller.ip.as_deref(), id, body.spec())
        .await?;
    Ok(StatusCode::OK)
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    reg.labels
        .delete(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ArtifactLabelReq {
    id: i64,
}

/// `POST …/artifacts/{reference}/labels` with `{"id": N}`.
pub async fn add_to_artifact(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, reference)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<ArtifactLabelReq>,
) -> Result<StatusCode> {
    reg.labels
        .add_to_artifact(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            &super::repositories::decode(&repository),
            &reference,
            body.id,
        )
        .await?;
    Ok(StatusCode::OK)
}

pub async fn remove_from_artifact(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, repository, reference, id)): Path<(String, String, String, i64)>,
) -> Result<StatusCode> {
    reg.labels
        .remove_from_artifact(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            &super::repositories::decode(&repository),
            &reference,
            id,
        )
        .await?;
    Ok(StatusCode::OK)
}

/// The labels term of Harbor's artifact query: `q=labels=(1 2)` keeps artifacts
/// carrying every one of the ids, `labels={1 2}` any of them, `labels=1` that one;
/// no term, no filter. Other terms are left to their own readers.
pub fn labels_in_q(q: &str) -> Result<LabelMatch> {
    let Some(value) = q.split(',').find_map(|term| term.strip_prefix("labels=")) else {
        return Ok(LabelMatch::default());
    };
    let (inner, all) = if let Some(v) = value.strip_prefix('(').and_then(|v| v.strip_suffix(')')) {
        (v, true)
    } else if let Some(v) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
        (v, false)
    } else {
        (value, true)
    };
    let mut ids = inner
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                RegistryError::bad_request(format!(
                    "invalid labels query {value:?}: expected label ids, as labels=(1 2) (all) or labels={{1 2}} (any)"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if ids.is_empty() {
        return Err(RegistryError::bad_request(format!(
            "invalid labels query {value:?}: no label id"
        )));
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(LabelMatch { ids, all })
}
