//! `/users`

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, Paging, created, paged, time};
use crate::auth::Principal;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::http::AppState;
use crate::metadata::identity::User;

fn user_json(u: &User) -> Value {
    json!({
        "user_id": u.id,
        "username": u.username,
        "email": u.email.clone().unwrap_or_default(),
        "realname": u.realname.clone().unwrap_or_default(),
        "comment": "",
        "sysadmin_flag": u.sysadmin,
        "admin_role_in_auth": false,
        "creation_time": time(u.created_at),
        "update_time": time(u.updated_at),
    })
}

#[derive(Deserialize)]
pub struct NewUser {
    username: String,
    password: String,
    email: Option<String>,
    realname: Option<String>,
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<Response> {
    let id = reg
        .identity
        .create_user(
            &caller.who,
            caller.ip.as_deref(),
            &body.username,
            &body.password,
            body.email.as_deref(),
            body.realname.as_deref(),
        )
        .await?;
    Ok(created(format!("/api/v2.0/users/{id}")))
}

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Query(p): Query<Paging>,
) -> Result<Response> {
    let page = p.req();
    let (users, total) = reg.identity.list_users(&caller.who, None, page).await?;
    Ok(paged(
        "/api/v2.0/users",
        page,
        total,
        users.iter().map(user_json).collect(),
    ))
}

pub async fn current(State(reg): State<AppState>, caller: Caller) -> Result<Response> {
    let Principal::User { id, sysadmin, .. } = caller.who else {
        return Err(RegistryError::new(
            ErrorCode::Unauthorized,
            "log in as a user",
        ));
    };
    let user = reg.identity.user(&caller.who, id).await?;
    let mut body = user_json(&user);
    // Harbor's flag for administration granted by the directory (the LDAP admin
    // group) rather than stored with the account.
    body["admin_role_in_auth"] = Value::Bool(sysadmin && !user.sysadmin);
    // Harbor's OIDCUserInfo: an OIDC user sees their own CLI secret here, and only here.
    if let Some(meta) = reg.directory.oidc_user_meta(&caller.who).await? {
        body["oidc_user_meta"] = json!({
            "id": meta.user_id,
            "user_id": meta.user_id,
            "subiss": meta.subiss,
            "secret": meta.secret,
            "creation_time": time(meta.created_at),
            "update_time": time(meta.updated_at),
        });
    }
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
pub struct CliSecret {
    secret: String,
}

pub async fn cli_secret(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<CliSecret>,
) -> Result<StatusCode> {
    reg.directory
        .set_cli_secret(&caller.who, caller.ip.as_deref(), id, &body.secret)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response> {
    Ok(Json(user_json(&reg.identity.user(&caller.who, id).await?)).into_response())
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    reg.identity
        .delete_user(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct PasswordChange {
    old_password: Option<String>,
    new_password: String,
}

pub async fn password(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<StatusCode> {
    reg.identity
        .change_password(
            &caller.who,
            caller.ip.as_deref(),
            id,
            body.old_password.as_deref(),
            &body.new_password,
        )
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct SysadminFlag {
    sysadmin_flag: bool,
}

pub async fn sysadmin(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<SysadminFlag>,
) -> Result<StatusCode> {
    reg.identity
        .set_sysadmin(&caller.who, caller.ip.as_deref(), id, body.sysadmin_flag)
        .await?;
    Ok(StatusCode::OK)
}
