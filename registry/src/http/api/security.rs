//! System-wide security settings: the CVE allow-list and the scan-all schedule.

use super::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::Caller;
use super::projects::{allowlist_json, parse_allowlist};
use super::render;
use crate::auth::rbac::SystemAction;
use crate::error::{RegistryError, Result};
use crate::http::AppState;

pub async fn get_allowlist(State(reg): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    reg.access
        .require_system(&caller.who, SystemAction::ReadSecuritySettings)?;
    Ok(Json(allowlist_json(
        None,
        &reg.security.system_allowlist().await?,
    )))
}

pub async fn put_allowlist(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode> {
    let (items, expires_at) = parse_allowlist(&body)?;
    reg.security
        .set_system_allowlist(&caller.who, caller.ip.as_deref(), items, expires_at)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn get_schedule(State(reg): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    reg.access
        .require_system(&caller.who, SystemAction::ReadSecuritySettings)?;
    Ok(Json(
        json!({"schedule": reg.security.scan_schedule().await?}),
    ))
}

/// `{"schedule":{"type":"Hourly|Daily|Weekly|Custom|Manual|None","cron":"0 0 * * * *"}}`;
/// `Manual` scans everything now.
/// `POST /system/scanAll/stop`: stop every pending and running scan (202); 400
/// when none is, as Harbor answers when there is no scan-all to stop.
pub async fn stop_all(State(reg): State<AppState>, caller: Caller) -> Result<StatusCode> {
    reg.access
        .require_system(&caller.who, SystemAction::ManageSecuritySettings)?;
    let n = reg.security.stop_scan_all().await?;
    reg.access.audit(
        &caller.who,
        "stop",
        "scan_all",
        &format!("{n} scans"),
        caller.ip.as_deref(),
    );
    Ok(StatusCode::ACCEPTED)
}

pub async fn set_schedule(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode> {
    reg.access
        .require_system(&caller.who, SystemAction::ManageSecuritySettings)?;
    let s = &body["schedule"];
    let kind = s["type"]
        .as_str()
        .ok_or_else(|| RegistryError::bad_request("schedule.type is required"))?;
    reg.security
        .set_scan_schedule(kind, s["cron"].as_str().unwrap_or(""))
        .await?;
    reg.access.audit(
        &caller.who,
        "update",
        "scan_all_schedule",
        kind,
        caller.ip.as_deref(),
    );
    Ok(if kind == "Manual" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

pub async fn metrics(State(reg): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    reg.access
        .require_system(&caller.who, SystemAction::ReadSecuritySettings)?;
    Ok(Json(render::scan_metrics(
        &reg.security.scan_metrics().await?,
    )))
}
