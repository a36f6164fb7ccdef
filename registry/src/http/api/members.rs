//! `/projects/{project}/members`

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, counted, created};
use crate::auth::rbac::RoleId;
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::identity::Member;
use crate::service::GroupRef;

fn member_json(m: &Member) -> Value {
    json!({
        "id": m.id,
        "project_id": m.project_id,
        "entity_name": m.entity_name,
        "entity_id": m.entity_id,
        "entity_type": m.entity_type.letter(),
        "role_id": m.role.0,
        "role_name": m.role_name,
    })
}

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response> {
    let members = reg.identity.list_members(&caller.who, &project).await?;
    Ok(counted(members.iter().map(member_json).collect()))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, member)): Path<(String, i64)>,
) -> Result<Response> {
    let members = reg.identity.list_members(&caller.who, &project).await?;
    let m = members
        .iter()
        .find(|m| m.id == member)
        .ok_or_else(|| RegistryError::not_found("member not found"))?;
    Ok(Json(member_json(m)).into_response())
}

#[derive(Deserialize)]
pub struct MemberUser {
    username: Option<String>,
    user_id: Option<i64>,
}

/// Harbor's `member_group`: by id, or by LDAP DN / OIDC name.
#[derive(Deserialize)]
pub struct MemberGroup {
    id: Option<i64>,
    group_name: Option<String>,
    group_type: Option<i64>,
    ldap_group_dn: Option<String>,
}

#[derive(Deserialize)]
pub struct AddMember {
    role_id: RoleId,
    member_user: Option<MemberUser>,
    member_group: Option<MemberGroup>,
}

pub async fn add(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiJson(body): ApiJson<AddMember>,
) -> Result<Response> {
    if let Some(g) = body.member_group {
        let id = reg
            .identity
            .add_group_member(
                &caller.who,
                caller.ip.as_deref(),
                &project,
                &GroupRef {
                    id: g.id,
                    group_name: g.group_name,
                    group_type: g.group_type,
                    ldap_group_dn: g.ldap_group_dn,
                },
                body.role_id,
            )
            .await?;
        return Ok(created(format!(
            "/api/v2.0/projects/{project}/members/{id}"
        )));
    }
    let user = body
        .member_user
        .ok_or_else(|| RegistryError::bad_request("member_user or member_group is required"))?;
    let id = reg
        .identity
        .add_member(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            user.username.as_deref(),
            user.user_id,
            body.role_id,
        )
        .await?;
    Ok(created(format!(
        "/api/v2.0/projects/{project}/members/{id}"
    )))
}

#[derive(Deserialize)]
pub struct UpdateMember {
    role_id: RoleId,
}

pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, member)): Path<(String, i64)>,
    ApiJson(body): ApiJson<UpdateMember>,
) -> Result<StatusCode> {
    reg.identity
        .update_member(
            &caller.who,
            caller.ip.as_deref(),
            &project,
            member,
            body.role_id,
        )
        .await?;
    Ok(StatusCode::OK)
}

pub async fn remove(
    State(reg): State<AppState>,
    caller: Caller,
    Path((project, member)): Path<(String, i64)>,
) -> Result<StatusCode> {
    reg.identity
        .remove_member(&caller.who, caller.ip.as_deref(), &project, member)
        .await?;
    Ok(StatusCode::OK)
}
