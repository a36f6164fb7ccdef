//! `/projects`: list, create, get, update, delete, exists.

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, Paging, created, paged, time};
use crate::auth::rbac::Action;
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use std::collections::BTreeMap;

use crate::metadata::identity::Project;
use crate::metadata::security::Allowlist;
use crate::service::ProjectExtras;

/// Harbor's project object; `extras` holds the page's settings, allow-lists and roles.
/// `registry`: the endpoint a proxy cache project fronts (Harbor's `registry_id`).
fn project_json(p: Project, extras: &mut ProjectExtras, registry: Option<i64>) -> Value {
    let role = extras.roles.get(&p.id).copied();
    let mut metadata = serde_json::Map::new();
    metadata.insert("public".into(), json!(p.public.to_string()));
    for (k, v) in extras.metadata.remove(&p.id).unwrap_or_default() {
        metadata.insert(k, json!(v));
    }
    let allow = extras.allowlists.remove(&p.id).unwrap_or_default();
    let mut out = json!({
        "project_id": p.id,
        "name": p.name,
        "owner_id": p.owner_id,
        "owner_name": p.owner_name,
        "creation_time": time(p.created_at),
        "update_time": time(p.updated_at.max(p.created_at)),
        "repo_count": p.repo_count,
        "metadata": metadata,
        "cve_allowlist": allowlist_json(Some(p.id), &allow),
        "current_user_role_id": role.map(|r| r.0).unwrap_or(0),
        "current_user_role_ids": role.map(|r| vec![r.0]).unwrap_or_default(),
    });
    if let Some(id) = registry {
        out["registry_id"] = json!(id);
    }
    out
}

#[derive(Deserialize)]
pub struct ListQuery {
    name: Option<String>,
    // Not `#[serde(flatten)]`: query strings are untyped, and flattening loses the number parsing.
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
    let (items, total) = reg
        .identity
        .list_projects(&caller.who, q.name.as_deref(), page)
        .await?;
    let mut extras = reg.security.project_extras(&caller.who, &items).await?;
    let registries = reg.proxy.registry_ids().await?;
    let out: Vec<Value> = items
        .into_iter()
        .map(|p| {
            let registry = registries.get(&p.id).copied();
            project_json(p, &mut extras, registry)
        })
        .collect();
    Ok(paged("/api/v2.0/projects", page, total, out))
}

/// `metadata.public` is a string in Harbor's API ("true"/"false"); accept a bool too.
fn public_flag(body: &Value) -> Result<Option<bool>> {
    let v = body
        .pointer("/metadata/public")
        .or_else(|| body.get("public"));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(other) => Err(RegistryError::bad_request(format!(
            "metadata.public must be \"true\" or \"false\", not {other}"
        ))),
    }
}

/// Harbor's `cve_allowlist` object.
pub fn allowlist_json(project_id: Option<i64>, a: &Allowlist) -> Value {
    json!({
        "project_id": project_id.unwrap_or(0),
        "items": a.items.iter().map(|id| json!({"cve_id": id})).collect::<Vec<_>>(),
        "expires_at": a.expires_at,
        "creation_time": time(a.created_at),
        "update_time": time(a.updated_at),
    })
}

/// `{"items":[{"cve_id":…}],"expires_at":…}` → (ids, expiry).
pub fn parse_allowlist(v: &Value) -> Result<(Vec<String>, Option<i64>)> {
    let items = match &v["items"] {
        Value::Null => Vec::new(),
        Value::Array(a) => a
            .iter()
            .map(|i| {
                i["cve_id"].as_str().map(String::from).ok_or_else(|| {
                    RegistryError::bad_request("cve_allowlist.items[] needs a cve_id string")
                })
            })
            .collect::<Result<_>>()?,
        _ => {
            return Err(RegistryError::bad_request(
                "cve_allowlist.items must be an array",
            ));
        }
    };
    let expires_at = match &v["expires_at"] {
        Value::Null => None,
        e => Some(e.as_i64().ok_or_else(|| {
            RegistryError::bad_request("cve_allowlist.expires_at must be unix seconds or null")
        })?),
    };
    Ok((items, expires_at))
}

/// Settings in `metadata` other than `public`, as strings (booleans accepted).
fn settings_of(body: &Value) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if let Some(m) = body.get("metadata").and_then(Value::as_object) {
        for (k, v) in m {
            if k == "public" {
                continue;
            }
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(RegistryError::bad_request(format!(
                        "metadata.{k} must be a string, not {other}"
                    )));
                }
            };
            out.insert(k.clone(), v);
        }
    }
    Ok(out)
}

/// Applies `metadata` settings and `cve_allowlist` from a create or update body.
async fn apply_settings(
    reg: &AppState,
    caller: &Caller,
    project: &str,
    body: &Value,
) -> Result<()> {
    let settings = settings_of(body)?;
    if !settings.is_empty() {
        reg.security
            .update_project_settings(&caller.who, caller.ip.as_deref(), project, settings)
            .await?;
    }
    if let Some(a) = body.get("cve_allowlist").filter(|v| !v.is_null()) {
        let (items, expires_at) = parse_allowlist(a)?;
        reg.security
            .set_project_allowlist(
                &caller.who,
                caller.ip.as_deref(),
                project,
                items,
                expires_at,
            )
            .await?;
    }
    Ok(())
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let name = body["project_name"]
        .as_str()
        .ok_or_else(|| RegistryError::bad_request("project_name is required"))?;
    settings_of(&body)?;
    // Checked before the project exists, so a bad limit creates nothing.
    let storage_limit = match &body["storage_limit"] {
        Value::Null => None,
        v => Some(
            v.as_i64()
                .map(crate::service::lifecycle::quota::check_limit)
                .transpose()?
                .ok_or_else(|| {
                    RegistryError::bad_request("storage_limit must be bytes, or -1 for unlimited")
                })?,
        ),
    };
    // Harbor's proxy cache project: checked before the project exists.
    let registry_id = match &body["registry_id"] {
        Value::Null => None,
        v => Some(v.as_i64().filter(|id| *id > 0).ok_or_else(|| {
            RegistryError::bad_request("registry_id must be the id of a registry endpoint")
        })?),
    };
    if let Some(registry_id) = registry_id {
        reg.proxy.check_registry(&caller.who, registry_id).await?;
    }
    let id = reg
        .identity
        .create_project(
            &caller.who,
            caller.ip.as_deref(),
            name,
            public_flag(&body)?.unwrap_or(false),
        )
        .await?;
    if let Some(registry_id) = registry_id {
        reg.proxy.set_registry(id, registry_id).await?;
    }
    apply_settings(&reg, &caller, name, &body).await?;
    reg.quotas
        .init_project(&caller.who, id, storage_limit)
        .await?;
    Ok(created(format!("/api/v2.0/projects/{id}")))
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response> {
    let p = reg
        .access
        .project_for(&caller.who, &project, Action::ReadProject)
        .await?;
    let mut extras = reg
        .security
        .project_extras(&caller.who, std::slice::from_ref(&p))
        .await?;
    let retention_id = reg.retention.policy_id_of(p.id).await?;
    let registry = reg.proxy.registry_ids().await?.get(&p.id).copied();
    let mut out = project_json(p, &mut extras, registry);
    if let Some(id) = retention_id {
        out["metadata"]["retention_id"] = json!(id.to_string());
    }
    Ok(Json(out).into_response())
}

pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode> {
    if let Some(public) = public_flag(&body)? {
        reg.identity
            .update_project(&caller.who, caller.ip.as_deref(), &project, public)
            .await?;
    } else {
        reg.access
            .project_for(&caller.who, &project, Action::UpdateProject)
            .await?;
    }
    apply_settings(&reg, &caller, &project, &body).await?;
    Ok(StatusCode::OK)
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<StatusCode> {
    reg.identity
        .delete_project(&caller.who, caller.ip.as_deref(), &project)
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ExistsQuery {
    project_name: String,
}

/// `HEAD /projects?project_name=x`: 200 if it exists, 404 if not.
pub async fn exists(
    State(reg): State<AppState>,
    _caller: Caller,
    Query(q): Query<ExistsQuery>,
) -> Result<StatusCode> {
    reg.access
        .project(&q.project_name)
        .await
        .map(|_| StatusCode::OK)
}
