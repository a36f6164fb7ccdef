//! `/registries`: Harbor's registry endpoints (the remotes of replication and
//! proxy caches).

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::{Caller, counted, created};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::service::replication::{Registry, RegistryPing, RegistryUpdate};

/// `?name=`: only the names containing it.
#[derive(Deserialize)]
pub struct ListQuery {
    pub(super) name: Option<String>,
}

fn body<T: serde::de::DeserializeOwned>(what: &str, v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| RegistryError::bad_request(format!("{what}: {e}")))
}

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let all = reg.registries.list(&caller.who, q.name.as_deref()).await?;
    Ok(counted(all))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Registry>> {
    Ok(Json(reg.registries.get(&caller.who, id).await?))
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(v): ApiJson<Value>,
) -> Result<Response> {
    let r: Registry = body("registry", v)?;
    let id = reg
        .registries
        .create(&caller.who, caller.ip.as_deref(), r)
        .await?;
    Ok(created(format!("/api/v2.0/registries/{id}")))
}

pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(v): ApiJson<Value>,
) -> Result<StatusCode> {
    let u: RegistryUpdate = body("registry update", v)?;
    reg.registries
        .update(&caller.who, caller.ip.as_deref(), id, u)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    reg.registries
        .delete(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn ping(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(v): ApiJson<Value>,
) -> Result<StatusCode> {
    let p: RegistryPing = body("registry ping", v)?;
    reg.registries.ping(&caller.who, p).await?;
    Ok(StatusCode::OK)
}
