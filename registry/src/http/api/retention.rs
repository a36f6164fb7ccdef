//! `/retentions`: Harbor's tag retention policies, executions and tasks.

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, Paging, created, paged, time};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::tag_rules::{Execution, Task};
use crate::service::lifecycle::{Retention, RetentionPolicy};

fn execution_json(e: &Execution) -> Value {
    json!({
        "id": e.id,
        "policy_id": e.policy_id,
        "status": e.status,
        "trigger": e.trigger,
        "dry_run": e.dry_run,
        "start_time": time(e.start_time),
        "end_time": e.end_time.map(time),
    })
}

fn task_json(t: &Task) -> Value {
    json!({
        "id": t.id,
        "execution_id": t.execution_id,
        "repository": t.repository,
        "job_id": "",
        "status": t.status,
        "status_code": if t.status == "Success" { 3 } else { 0 },
        "status_revision": 0,
        "start_time": time(t.start_time),
        "end_time": t.end_time.map(time),
        "total": t.total,
        "retained": t.retained,
    })
}

fn policy_of(body: Value) -> Result<RetentionPolicy> {
    serde_json::from_value(body)
        .map_err(|e| RegistryError::bad_request(format!("retention policy: {e}")))
}

pub async fn metadatas(_caller: Caller) -> Json<Value> {
    Json(Retention::metadatas())
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let id = reg
        .retention
        .create(&caller.who, caller.ip.as_deref(), policy_of(body)?)
        .await?;
    Ok(created(format!("/api/v2.0/retentions/{id}")))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response> {
    Ok(Json(reg.retention.get(&caller.who, id).await?).into_response())
}

pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode> {
    reg.retention
        .update(&caller.who, caller.ip.as_deref(), id, policy_of(body)?)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    reg.retention
        .delete(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ExecuteReq {
    #[serde(default)]
    dry_run: bool,
}

pub async fn execute(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ExecuteReq>,
) -> Result<Response> {
    let eid = reg
        .retention
        .execute(&caller.who, caller.ip.as_deref(), id, body.dry_run)
        .await?;
    Ok(created(format!(
        "/api/v2.0/retentions/{id}/executions/{eid}"
    )))
}

pub async fn executions(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(p): Query<Paging>,
) -> Result<Response> {
    let page = p.req();
    let (items, total) = reg.retention.executions(&caller.who, id, page).await?;
    Ok(paged(
        &format!("/api/v2.0/retentions/{id}/executions"),
        page,
        total,
        items.iter().map(execution_json).collect(),
    ))
}

#[derive(Deserialize)]
pub struct StopReq {
    action: String,
}

pub async fn stop(
    State(reg): State<AppState>,
    caller: Caller,
    Path((id, eid)): Path<(i64, i64)>,
    ApiJson(body): ApiJson<StopReq>,
) -> Result<StatusCode> {
    if body.action != "stop" {
        return Err(RegistryError::bad_request(format!(
            "action {:?}: the only action is \"stop\"",
            body.action
        )));
    }
    reg.retention.stop(&caller.who, id, eid).await?;
    Ok(StatusCode::OK)
}

pub async fn tasks(
    State(reg): State<AppState>,
    caller: Caller,
    Path((id, eid)): Path<(i64, i64)>,
    Query(p): Query<Paging>,
) -> Result<Response> {
    let page = p.req();
    let (items, total) = reg.retention.tasks(&caller.who, id, eid, page).await?;
    Ok(paged(
        &format!("/api/v2.0/retentions/{id}/executions/{eid}/tasks"),
        page,
        total,
        items.iter().map(task_json).collect(),
    ))
}

/// The task's log, as text (Harbor answers the log of a task this way).
pub async fn task_log(
    State(reg): State<AppState>,
    caller: Caller,
    Path((id, eid, tid)): Path<(i64, i64, i64)>,
) -> Result<Response> {
    let task = reg.retention.task(&caller.who, id, eid, tid).await?;
    let mut resp = task.log.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(resp)
}
