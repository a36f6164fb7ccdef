//! `/ldap/…`: check the directory settings, search the directory, import users.

use super::ApiJson;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Caller;
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::identity::GROUP_TYPE_LDAP;

/// `POST /ldap/ping`: the body's `ldap_*` items over the stored ones (an empty
/// body checks the stored settings). Harbor's `{"success", "message"}`.
pub async fn ping(
    State(reg): State<AppState>,
    caller: Caller,
    body: Option<Json<Value>>,
) -> Result<Json<Value>> {
    let overrides = match body.map(|Json(v)| v) {
        None | Some(Value::Null) => Default::default(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(RegistryError::bad_request("the body must be an object")),
    };
    Ok(Json(
        match reg.directory.ping(&caller.who, &overrides).await? {
            Ok(()) => json!({"success": true, "message": "ok"}),
            Err(reason) => json!({"success": false, "message": reason}),
        },
    ))
}

#[derive(Deserialize)]
pub struct UserQuery {
    #[serde(default)]
    username: String,
}

pub async fn search_users(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<UserQuery>,
) -> Result<Json<Value>> {
    let found = reg.directory.search_users(&caller.who, &q.username).await?;
    Ok(Json(Value::Array(
        found
            .into_iter()
            .map(|u| {
                json!({
                    "username": u.username,
                    "realname": u.realname.unwrap_or_default(),
                    "email": u.email.unwrap_or_default(),
                })
            })
            .collect(),
    )))
}

#[derive(Deserialize)]
pub struct GroupQuery {
    groupname: Option<String>,
    groupdn: Option<String>,
}

pub async fn search_groups(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<GroupQuery>,
) -> Result<Json<Value>> {
    let found = reg
        .directory
        .search_groups(&caller.who, q.groupname.as_deref(), q.groupdn.as_deref())
        .await?;
    Ok(Json(Value::Array(
        found
            .into_iter()
            .map(|g| json!({"group_name": g.name, "group_type": GROUP_TYPE_LDAP, "ldap_group_dn": g.dn}))
            .collect(),
    )))
}

#[derive(Deserialize)]
pub struct ImportReq {
    ldap_uid_list: Vec<String>,
}

/// 200 when every user was imported; else Harbor's 404 with the failures.
pub async fn import_users(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let req: ImportReq = serde_json::from_value(body)
        .map_err(|e| RegistryError::bad_request(format!("ldap_uid_list: {e}")))?;
    let failed = reg
        .directory
        .import_users(&caller.who, caller.ip.as_deref(), &req.ldap_uid_list)
        .await?;
    if failed.is_empty() {
        return Ok(StatusCode::OK.into_response());
    }
    let body: Vec<Value> = failed
        .into_iter()
        .map(|(uid, error)| json!({"uid": uid, "error": error}))
        .collect();
    Ok((StatusCode::NOT_FOUND, Json(Value::Array(body))).into_response())
}
