//! `/jobs`: the durable job queue (GC, retention, scrub, scan-all runs) for
//! system administrators: list, show, log, stop, retry.

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, Paging, paged, time};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::lifecycle::{Job, JobFilter, JobStatus};
use crate::service::lifecycle::parse_status;

/// A job as the API shows it.
pub fn job_json(j: &Job) -> Value {
    json!({
        "id": j.id,
        "kind": j.kind,
        "status": j.status.as_str(),
        "trigger": j.trigger.as_str(),
        "parameters": j.parameters,
        "attempts": j.attempts,
        "max_attempts": j.max_attempts,
        "stop_requested": j.stop_requested,
        "next_run_time": time(j.next_run_at),
        "result": j.result,
        "message": j.message,
        "creation_time": time(j.created_at),
        "start_time": j.started_at.map(time),
        "end_time": j.ended_at.map(time),
        "update_time": time(j.updated_at),
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    kind: Option<String>,
    status: Option<String>,
    // Not `#[serde(flatten)] Paging`: flattened query values all arrive as strings.
    page: Option<u32>,
    page_size: Option<u32>,
}

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let filter = JobFilter {
        kind: q.kind.filter(|k| !k.is_empty()),
        status: q
            .status
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_status)
            .transpose()?,
    };
    let page = Paging {
        page: q.page,
        page_size: q.page_size,
    }
    .req();
    let (jobs, total) = reg.lifecycle.list_jobs(&caller.who, &filter, page).await?;
    Ok(paged(
        "/api/v2.0/jobs",
        page,
        total,
        jobs.iter().map(job_json).collect(),
    ))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    Ok(Json(job_json(&reg.lifecycle.job(&caller.who, id).await?)))
}

/// The log as `text/plain`, as Harbor serves job logs.
pub async fn log(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response> {
    let text = reg.lifecycle.job_log(&caller.who, id).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// `{"status":"Stopped"}`: stop the job (the only change a job accepts).
pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>> {
    match body["status"].as_str().map(parse_status).transpose()? {
        Some(JobStatus::Stopped) => {}
        _ => {
            return Err(RegistryError::bad_request(
                r#"a job can only be stopped: send {"status":"Stopped"}"#,
            ));
        }
    }
    let job = reg
        .lifecycle
        .stop_job(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(Json(job_json(&job)))
}

pub async fn retry(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    let job = reg
        .lifecycle
        .retry_job(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(Json(job_json(&job)))
}
