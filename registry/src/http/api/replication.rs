//! `/replication/policies` and `/replication/executions`: Harbor's replication
//! policies, their runs and the runs' tasks.

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::registries::ListQuery;
use super::{Caller, Paging, counted, created, paged};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::service::replication::Execution;
use crate::service::replication::ReplicationPolicy;

fn policy(v: Value) -> Result<ReplicationPolicy> {
    serde_json::from_value(v)
        .map_err(|e| RegistryError::bad_request(format!("replication policy: {e}")))
}

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let all = reg
        .replication_policies
        .list(&caller.who, q.name.as_deref())
        .await?;
    Ok(counted(all))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ReplicationPolicy>> {
    Ok(Json(reg.replication_policies.get(&caller.who, id).await?))
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(v): ApiJson<Value>,
) -> Result<Response> {
    let id = reg
        .replication_policies
        .create(&caller.who, caller.ip.as_deref(), policy(v)?)
        .await?;
    Ok(created(format!("/api/v2.0/replication/policies/{id}")))
}

pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(v): ApiJson<Value>,
) -> Result<StatusCode> {
    reg.replication_policies
        .update(&caller.who, caller.ip.as_deref(), id, policy(v)?)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    reg.replication_policies
        .delete(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct StartReq {
    policy_id: i64,
}

pub async fn start(
    State(reg): State<AppState>,
    caller: Caller,
    body: Option<Json<Value>>,
) -> Result<Response> {
    let Some(Json(v)) = body else {
        return Err(RegistryError::bad_request(
            "a JSON body {\"policy_id\": N} is required",
        ));
    };
    let req: StartReq = serde_json::from_value(v)
        .map_err(|e| RegistryError::bad_request(format!("replication execution: {e}")))?;
    let id = reg
        .replication
        .start(&caller.who, caller.ip.as_deref(), req.policy_id)
        .await?;
    Ok(created(format!("/api/v2.0/replication/executions/{id}")))
}

#[derive(Deserialize)]
pub struct ExecutionsQuery {
    policy_id: Option<i64>,
    page: Option<u32>,
    page_size: Option<u32>,
}

pub async fn executions(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<ExecutionsQuery>,
) -> Result<Response> {
    let page = Paging {
        page: q.page,
        page_size: q.page_size,
    }
    .req();
    let (items, total) = reg.replication.list(&caller.who, q.policy_id, page).await?;
    Ok(paged(
        "/api/v2.0/replication/executions",
        page,
        total,
        items,
    ))
}

pub async fn execution(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Execution>> {
    Ok(Json(reg.replication.get(&caller.who, id).await?))
}

pub async fn stop(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    reg.replication
        .stop(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn tasks(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(p): Query<Paging>,
) -> Result<Response> {
    let page = p.req();
    let (items, total) = reg.replication.tasks(&caller.who, id, page).await?;
    Ok(paged(
        &format!("/api/v2.0/replication/executions/{id}/tasks"),
        page,
        total,
        items,
    ))
}

pub async fn task_log(
    State(reg): State<AppState>,
    caller: Caller,
    Path((id, tid)): Path<(i64, i64)>,
) -> Result<Response> {
    let log = reg.replication.task_log(&caller.who, id, tid).await?;
    let mut resp = log.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(resp)
}
