//! `/usergroups`: Harbor's user groups (group_type 1 LDAP with ldap_group_dn,
//! 3 OIDC by name).

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, Paging, created, paged};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::identity::UserGroup;

pub fn group_json(g: &UserGroup) -> Value {
    json!({
        "id": g.id,
        "group_name": g.group_name,
        "group_type": g.group_type,
        "ldap_group_dn": g.ldap_group_dn,
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    group_name: Option<String>,
    ldap_group_dn: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
}

pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let page = Paging {
        page: q.page,
        page_size: q.page_size,
    }
    .req();
    let (groups, total) = reg
        .directory
        .list_groups(
            &caller.who,
            q.group_name.as_deref(),
            q.ldap_group_dn.as_deref(),
            page,
        )
        .await?;
    Ok(paged(
        "/api/v2.0/usergroups",
        page,
        total,
        groups.iter().map(group_json).collect(),
    ))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    groupname: String,
    page: Option<u32>,
    page_size: Option<u32>,
}

/// Harbor's search result: id, name and type only (no DN).
pub async fn search(
    State(reg): State<AppState>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<Response> {
    let page = Paging {
        page: q.page,
        page_size: q.page_size,
    }
    .req();
    let (groups, total) = reg
        .directory
        .find_groups(&caller.who, &q.groupname, page)
        .await?;
    Ok(paged(
        "/api/v2.0/usergroups/search",
        page,
        total,
        groups
            .iter()
            .map(|g| json!({"id": g.id, "group_name": g.group_name, "group_type": g.group_type}))
            .collect(),
    ))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    Ok(Json(group_json(
        &reg.directory.group(&caller.who, id).await?,
    )))
}

#[derive(Deserialize)]
pub struct GroupReq {
    #[serde(default)]
    group_name: String,
    group_type: Option<i64>,
    #[serde(default)]
    ldap_group_dn: String,
}

fn group_req(v: Value) -> Result<GroupReq> {
    serde_json::from_value(v).map_err(|e| RegistryError::bad_request(format!("user group: {e}")))
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let g = group_req(body)?;
    let group_type = g
        .group_type
        .ok_or_else(|| RegistryError::bad_request("group_type is required (1 LDAP, 3 OIDC)"))?;
    let id = reg
        .directory
        .create_group(
            &caller.who,
            caller.ip.as_deref(),
            &g.group_name,
            group_type,
            &g.ldap_group_dn,
        )
        .await?;
    Ok(created(format!("/api/v2.0/usergroups/{id}")))
}

pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode> {
    let g = group_req(body)?;
    reg.directory
        .rename_group(&caller.who, caller.ip.as_deref(), id, &g.group_name)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    reg.directory
        .delete_group(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(StatusCode::OK)
}
