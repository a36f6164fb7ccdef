//! `/projects/{p}/webhook/…`: Harbor's webhook policies, their executions and
//! tasks (one execution per event and target, with one task: the delivery,
//! whose log has a line per attempt), and the supported event types.

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Caller, Paging, counted, created, paged};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::webhooks::Delivery;
use crate::service::time_rfc3339;
use crate::service::webhooks::{EVENT_TYPES, NOTIFY_TYPES, PAYLOAD_FORMATS, WebhookPolicy};

fn parse(body: Value) -> Result<WebhookPolicy> {
    serde_json::from_value(body)
        .map_err(|e| RegistryError::bad_request(format!("webhook policy: {e}")))
}

/// Harbor's execution status for a delivery (Running while retries are pending).
fn status(d: &Delivery) -> &'static str {
    match d.status.as_str() {
        "Success" => "Success",
        "Error" => "Error",
        "Pending" if d.attempts == 0 => "Pending",
        _ => "Running",
    }
}

fn end_time(d: &Delivery) -> String {
    if matches!(d.status.as_str(), "Success" | "Error") {
        time_rfc3339(d.updated_at)
    } else {
        String::new()
    }
}

fn extra(d: &Delivery) -> Value {
    json!({
        "event_type": d.event_type,
        "address": d.target,
        "payload": d.payload,
        "attempts": d.attempts,
        "last_status_code": d.last_status_code,
    })
}

/// Harbor's `Execution`.
fn execution_json(d: &Delivery) -> Value {
    let s = status(d);
    let one = |want: &str| u32::from(s == want);
    json!({
        "id": d.id,
        "vendor_type": "WEBHOOK",
        "vendor_id": d.policy_id,
        "status": s,
        "status_message": d.log.lines().last().unwrap_or_default(),
        "metrics": {
            "task_count": 1,
            "success_task_count": one("Success"),
            "error_task_count": one("Error"),
            "pending_task_count": one("Pending"),
            "running_task_count": one("Running"),
            "scheduled_task_count": 0,
            "stopped_task_count": 0,
        },
        "trigger": "EVENT",
        "extra_attrs": extra(d),
        "start_time": time_rfc3339(d.created_at),
        "end_time": end_time(d),
    })
}

/// Harbor's `Task`.
fn task_json(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "execution_id": d.id,
        "status": status(d),
        "status_message": d.log.lines().last().unwrap_or_default(),
        "run_count": d.attempts,
        "extra_attrs": extra(d),
        "creation_time": time_rfc3339(d.created_at),
        "start_time": time_rfc3339(d.created_at),
        "update_time": time_rfc3339(d.updated_at),
        "end_time": end_time(d),
    })
}

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response> {
    let list = reg.webhooks.list(&caller.who, &project).await?;
    Ok(counted(list))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, i64)>,
) -> Result<Json<WebhookPolicy>> {
    Ok(Json(reg.webhooks.get(&caller.who, &project, id).await?))
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let id = reg
        .webhooks
        .create(&caller.who, caller.ip.as_deref(), &project, parse(body)?)
        .await?;
    Ok(created(format!(
        "/api/v2.0/projects/{project}/webhook/policies/{id}"
    )))
}

pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, i64)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode> {
    reg.webhooks
        .update(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            id,
            parse(body)?,
        )
        .await?;
    Ok(StatusCode::OK)
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, i64)>,
) -> Result<StatusCode> {
    reg.webhooks
        .delete(&caller.who, caller.ip.as_deref(), &project, id)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn executions(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, i64)>,
    Query(p): Query<Paging>,
) -> Result<Response> {
    let page = p.req();
    let (items, total) = reg
        .webhooks
        .deliveries(
            &caller.who,
            &project,
            id,
            page.offset() as u64,
            page.page_size as u64,
        )
        .await?;
    Ok(paged(
        &format!("/api/v2.0/projects/{project}/webhook/policies/{id}/executions"),
        page,
        total as i64,
        items.iter().map(execution_json).collect(),
    ))
}

pub async fn tasks(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, id, eid)): Path<(String, i64, i64)>,
) -> Result<Response> {
    let d = reg
        .webhooks
        .delivery(&caller.who, &project, id, eid)
        .await?;
    Ok(counted(vec![task_json(&d)]))
}

pub async fn task_log(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, id, eid, tid)): Path<(String, i64, i64, i64)>,
) -> Result<Response> {
    if tid != eid {
        return Err(RegistryError::not_found(format!("task {tid} not found")));
    }
    let d = reg
        .webhooks
        .delivery(&caller.who, &project, id, eid)
        .await?;
    let mut resp = d.log.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(resp)
}

/// Harbor's `SupportedWebhookEventTypes`.
pub async fn events(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Json<Value>> {
    reg.webhooks.may_read(&caller.who, &project).await?;
    Ok(Json(json!({
        "event_type": EVENT_TYPES,
        "notify_type": NOTIFY_TYPES,
        "payload_formats": [{"notify_type": "http", "formats": PAYLOAD_FORMATS}],
    })))
}
