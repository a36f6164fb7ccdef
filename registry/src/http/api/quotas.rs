//! `/quotas` and `/projects/{project}/summary`: Harbor's project storage quotas.

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, Paging, paged, time};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::tag_rules::Quota;

/// Harbor's `Quota`: the id is the project's.
fn quota_json(q: &Quota) -> Value {
    json!({
        "id": q.project_id,
        "ref": {"id": q.project_id, "name": q.project_name, "owner_name": q.owner_name},
        "hard": {"storage": q.hard},
        "used": {"storage": q.used},
        "creation_time": time(q.created_at),
        "update_time": time(q.updated_at),
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    reference: Option<String>,
    reference_id: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
}

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    if let Some(r) = q.reference.as_deref().filter(|r| *r != "project") {
        return Err(RegistryError::bad_request(format!(
            "reference {r:?}: quotas are per project"
        )));
    }
    let id = match q.reference_id.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            RegistryError::bad_request(format!("reference_id {s:?} is not a project id"))
        })?),
    };
    let page = Paging {
        page: q.page,
        page_size: q.page_size,
    }
    .req();
    let (items, total) = reg.quotas.list(&caller.who, id, page).await?;
    Ok(paged(
        "/api/v2.0/quotas",
        page,
        total,
        items.iter().map(quota_json).collect(),
    ))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response> {
    let q = reg.quotas.get(&caller.who, id).await?;
    Ok(Json(quota_json(&q)).into_response())
}

/// `{"hard":{"storage":BYTES}}` (-1 unlimited).
pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode> {
    let hard = body
        .pointer("/hard/storage")
        .and_then(Value::as_i64)
        .ok_or_else(|| RegistryError::bad_request("body must be {\"hard\":{\"storage\":BYTES}}"))?;
    reg.quotas
        .set(&caller.who, caller.ip.as_deref(), id, hard)
        .await?;
    Ok(StatusCode::OK)
}

/// Harbor's `ProjectSummary`: the repository count and the quota.
pub async fn summary(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response> {
    let (q, repo_count) = reg.quotas.of_project(&caller.who, &project).await?;
    Ok(Json(json!({
        "repo_count": repo_count,
        "quota": {"hard": {"storage": q.hard}, "used": {"storage": q.used}},
    }))
    .into_response())
}
