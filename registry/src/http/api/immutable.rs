//! `/projects/{project}/immutabletagrules`: Harbor's tag immutability rules.

use super::ApiJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::{Caller, counted, created};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::service::lifecycle::ImmutableRule;

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response> {
    let rules = reg.immutability.list(&caller.who, &project).await?;
    Ok(counted(rules))
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let rule: ImmutableRule = serde_json::from_value(body)
        .map_err(|e| RegistryError::bad_request(format!("immutable rule: {e}")))?;
    let id = reg
        .immutability
        .create(&caller.who, caller.ip.as_deref(), &project, rule)
        .await?;
    Ok(created(format!(
        "/api/v2.0/projects/{project}/immutabletagrules/{id}"
    )))
}

pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, i64)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode> {
    reg.immutability
        .update(&caller.who, caller.ip.as_deref(), &project, id, body)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, i64)>,
) -> Result<StatusCode> {
    reg.immutability
        .delete(&caller.who, caller.ip.as_deref(), &project, id)
        .await?;
    Ok(StatusCode::OK)
}
