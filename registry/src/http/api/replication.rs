//! `/replication/policies`: Harbor's replication policies.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::registries::ListQuery;
use super::{Caller, counted, created};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
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
    Json(v): Json<Value>,
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
    Json(v): Json<Value>,
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
