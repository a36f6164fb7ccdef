//! `/roles`: project roles, the five built in and custom ones (a Wharf addition;
//! Harbor's roles are fixed). Members and groups name either by `role_id`.

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Caller, counted, created};
use crate::auth::rbac::RoleDef;
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::service::RoleRequest;

fn role_json(r: &RoleDef) -> Value {
    json!({
        "id": r.id.0,
        "name": r.name,
        "description": r.description,
        "builtin": r.builtin,
        "actions": r.actions.names(),
    })
}

fn role_req(v: Value) -> Result<RoleRequest> {
    serde_json::from_value(v).map_err(|e| RegistryError::bad_request(format!("role: {e}")))
}

pub async fn list(State(reg): State<AppState>, caller: Caller) -> Result<Response> {
    let roles = reg.identity.list_roles(&caller.who).await?;
    Ok(counted(roles.iter().map(role_json).collect()))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    Ok(Json(role_json(
        &reg.identity.get_role(&caller.who, id).await?,
    )))
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let id = reg
        .identity
        .create_role(&caller.who, caller.ip.as_deref(), &role_req(body)?)
        .await?;
    Ok(created(format!("/api/v2.0/roles/{id}")))
}

pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode> {
    reg.identity
        .update_role(&caller.who, caller.ip.as_deref(), id, &role_req(body)?)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    reg.identity
        .delete_role(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(StatusCode::OK)
}
