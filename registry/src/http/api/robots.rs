//! `/robots` (system and project robot accounts, Harbor's v2 robot API).

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, counted, time};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::identity::Robot;
use crate::metadata::now;
use crate::service::{RobotSpec, RobotUpdate};

fn robot_json(r: &Robot) -> Value {
    let duration = if r.expires_at < 0 {
        -1
    } else {
        (r.expires_at - r.created_at) / 86_400
    };
    json!({
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "level": r.level,
        "duration": duration,
        "editable": true,
        "disable": r.disabled,
        "expires_at": r.expires_at,
        "expired": r.expires_at >= 0 && r.expires_at <= now(),
        "permissions": r.permissions,
        "creation_time": time(r.created_at),
        "update_time": time(r.updated_at),
    })
}

#[derive(Deserialize)]
pub struct NewRobot {
    name: String,
    #[serde(default)]
    description: String,
    level: String,
    #[serde(default = "never")]
    duration: i64,
    #[serde(default)]
    disable: bool,
    permissions: Value,
}

fn never() -> i64 {
    -1
}

pub async fn create(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewRobot>,
) -> Result<Response> {
    let spec = RobotSpec {
        name: body.name,
        description: body.description,
        level: body.level,
        duration: body.duration,
        disable: body.disable,
        permissions: body.permissions,
    };
    let (robot, secret) = reg
        .identity
        .create_robot(&caller.who, caller.ip.as_deref(), &spec)
        .await?;
    let mut resp = (
        StatusCode::CREATED,
        Json(json!({
            "id": robot.id,
            "name": robot.name,
            "secret": secret,
            "creation_time": time(robot.created_at),
            "expires_at": robot.expires_at,
        })),
    )
        .into_response();
    if let Ok(v) = format!("/api/v2.0/robots/{}", robot.id).parse() {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
}

/// Harbor filters with `q=Level=project,ProjectID=3`.
pub async fn list(
    State(reg): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Response> {
    let project = query.q.as_deref().and_then(|q| {
        q.split(',').find_map(|kv| {
            kv.strip_prefix("ProjectID=")
                .map(|v| v.trim_start_matches('=').to_string())
        })
    });
    let robots = reg
        .identity
        .list_robots(&caller.who, project.as_deref())
        .await?;
    let level = query.q.as_deref().and_then(|q| {
        q.split(',')
            .find_map(|kv| kv.strip_prefix("Level="))
            .map(str::to_owned)
    });
    let out: Vec<Value> = robots
        .iter()
        .filter(|r| level.as_deref().is_none_or(|l| r.level == l))
        .map(robot_json)
        .collect();
    Ok(counted(out))
}

pub async fn list_in_project(
    State(reg): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response> {
    let robots = reg
        .identity
        .list_robots(&caller.who, Some(&project))
        .await?;
    Ok(Json(robots.iter().map(robot_json).collect::<Vec<_>>()).into_response())
}

pub async fn get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response> {
    Ok(Json(robot_json(&reg.identity.robot(&caller.who, id).await?)).into_response())
}

pub async fn update(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<RobotUpdate>,
) -> Result<StatusCode> {
    reg.identity
        .update_robot(&caller.who, caller.ip.as_deref(), id, &body)
        .await?;
    Ok(StatusCode::OK)
}

pub async fn delete(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    reg.identity
        .delete_robot(&caller.who, caller.ip.as_deref(), id)
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize, Default)]
pub struct Refresh {
    secret: Option<String>,
}

/// `PATCH /robots/{id}`: a new secret (given or generated), shown once.
pub async fn refresh(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Option<Json<Refresh>>,
) -> Result<Response> {
    let secret = body.and_then(|Json(b)| b.secret);
    let secret = reg
        .identity
        .refresh_robot_secret(&caller.who, caller.ip.as_deref(), id, secret.as_deref())
        .await?;
    if secret.is_empty() {
        return Err(RegistryError::Internal("empty secret".into()));
    }
    Ok(Json(json!({ "secret": secret })).into_response())
}
