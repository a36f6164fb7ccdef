//! `/ping`, `/health`, `/systeminfo`, audit logs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Caller, Paging, paged, time};
use crate::error::Result;
use crate::http::AppState;
use crate::metadata::identity::AuditEntry;

pub async fn ping() -> &'static str {
    "Pong"
}

pub async fn health() -> Json<Value> {
    Json(json!({"status": "healthy", "components": [
        {"name": "core", "status": "healthy"},
        {"name": "database", "status": "healthy"},
        {"name": "registry", "status": "healthy"}
    ]}))
}

pub async fn info(State(reg): State<AppState>) -> Json<Value> {
    Json(json!({
        "auth_mode": if reg.access.auth_enabled() { reg.directory.mode().name() } else { "none" },
        "harbor_version": format!("wharf-{}", env!("CARGO_PKG_VERSION")),
        "registry_url": reg.access.external_url(),
        "project_creation_restriction": "everyone",
        "self_registration": false,
        "has_ca_root": false,
        // Harbor's: the portal's login button names the provider.
        "oidc_provider_name": reg.directory.oidc_provider_name(),
    }))
}

fn entry(e: AuditEntry) -> Value {
    json!({
        "id": e.id,
        "username": e.username,
        "resource": e.resource,
        "resource_type": e.resource_type,
        "operation": e.operation,
        "op_time": time(e.op_time),
        "client_ip": e.client_ip,
    })
}

pub async fn audit_logs(
    State(reg): State<AppState>,
    caller: Caller,
    Query(p): Query<Paging>,
) -> Result<Response> {
    let page = p.req();
    let (items, total) = reg.identity.audit_log(&caller.who, None, page).await?;
    Ok(paged(
        "/api/v2.0/audit-logs",
        page,
        total,
        items.into_iter().map(entry).collect(),
    ))
}

pub async fn project_logs(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Query(p): Query<Paging>,
) -> Result<Response> {
    let page = p.req();
    let (items, total) = reg
        .identity
        .audit_log(&caller.who, Some(&project), page)
        .await?;
    Ok(paged(
        &format!("/api/v2.0/projects/{project}/logs"),
        page,
        total,
        items.into_iter().map(entry).collect(),
    ))
}
