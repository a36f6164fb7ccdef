//! `/export/cve`: Harbor's CVE export (scan data export) — ask for one, list and read
//! one's own, download the CSV.

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Caller, time};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::service::security::{CveExportExecution, CveExportRequest};

fn execution_json(e: &CveExportExecution) -> Value {
    let j = &e.job;
    json!({
        "id": j.id,
        "user_id": e.user_id,
        "user_name": e.user_name,
        "job_name": e.job_name,
        "status": j.status.as_str(),
        "trigger": j.trigger.as_str(),
        "start_time": j.started_at.map(time),
        "end_time": j.ended_at.map(time),
        "status_text": j.message.clone().unwrap_or_default(),
        "file_present": e.file_present,
    })
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>> {
    let request: CveExportRequest = serde_json::from_value(body)
        .map_err(|e| RegistryError::bad_request(format!("export request: {e}")))?;
    let id = reg.security.export_cve(&caller.who, request).await?;
    Ok(Json(json!({ "id": id })))
}

pub async fn list(State(reg): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    let all = reg.security.cve_exports(&caller.who).await?;
    Ok(Json(
        json!({ "items": all.iter().map(execution_json).collect::<Vec<_>>() }),
    ))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    let e = reg.security.cve_export(&caller.who, id).await?;
    Ok(Json(execution_json(&e)))
}

pub async fn download(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response> {
    let csv = reg.security.cve_export_file(&caller.who, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"cve-export-{id}.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}
