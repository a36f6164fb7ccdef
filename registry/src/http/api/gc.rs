//! `/system/gc` (Harbor's garbage collection API, same paths and bodies) and
//! `/system/scrub` (its history shaped the same way).

use super::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Caller, Paging, created, paged, time};
use crate::error::{RegistryError, Result};
use crate::http::AppState;
use crate::metadata::lifecycle::{Job, JobSchedule, Trigger};
use crate::service::lifecycle::{GC, GcParams, SCRUB, ScrubParams, trigger_word};

/// Harbor's `ScheduleObj`.
fn schedule_obj(s: Option<&JobSchedule>) -> Value {
    match s {
        Some(s) => json!({
            "type": s.schedule_type,
            "cron": s.cron,
            "next_scheduled_time": s.next_run_at.map(time),
        }),
        None => json!({"type": "None", "cron": "", "next_scheduled_time": null}),
    }
}

/// Harbor's `GCHistory` (also used for scrub runs): `job_parameters` is a JSON
/// string holding the parameters and, once the run ended, what it did.
fn history_json(job: &Job, name: &str, schedule: Option<&JobSchedule>) -> Value {
    let mut params = job.parameters.clone();
    if let (Some(p), Some(Value::Object(result))) = (params.as_object_mut(), &job.result) {
        for (k, v) in result {
            p.insert(k.clone(), v.clone());
        }
    }
    let schedule = match job.trigger {
        Trigger::Manual => json!({"type": "Manual", "cron": "", "next_scheduled_time": null}),
        Trigger::Schedule => schedule_obj(schedule),
    };
    json!({
        "id": job.id,
        "job_name": name,
        "job_kind": trigger_word(job.trigger),
        "job_parameters": params.to_string(),
        "schedule": schedule,
        "job_status": job.status.as_str(),
        "deleted": false,
        "creation_time": time(job.created_at),
        "update_time": time(job.updated_at),
    })
}

/// Harbor's job names in the history.
fn job_name(kind: &str) -> &'static str {
    if kind == GC {
        "GARBAGE_COLLECTION"
    } else {
        "SCRUB"
    }
}

/// `GET /system/gc/schedule`: Harbor's `Schedule`.
pub async fn get_schedule(State(reg): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    let s = reg.lifecycle.gc_schedule(&caller.who).await?;
    Ok(Json(json!({
        "schedule": schedule_obj(s.as_ref()),
        "parameters": s.as_ref().map(|s| s.parameters.clone()).unwrap_or_else(|| json!({})),
        "creation_time": s.as_ref().map(|s| time(s.created_at)),
        "update_time": s.as_ref().map(|s| time(s.updated_at)),
    })))
}

/// `POST|PUT /system/gc/schedule`: `{"schedule":{"type":…,"cron":…},"parameters":{…}}`.
/// `Manual` runs GC now: 201 with the run's location.
pub async fn set_schedule(
    State(reg): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let kind = body["schedule"]["type"]
        .as_str()
        .ok_or_else(|| RegistryError::bad_request("schedule.type is required"))?;
    let cron = body["schedule"]["cron"].as_str().unwrap_or("");
    let params = GcParams::parse(&body["parameters"])?;
    match reg
        .lifecycle
        .set_gc_schedule(&caller.who, caller.ip.as_deref(), kind, cron, params)
        .await?
    {
        Some(id) => Ok(created(format!("/api/v2.0/system/gc/{id}"))),
        None => Ok(StatusCode::OK.into_response()),
    }
}

async fn history(reg: &AppState, caller: &Caller, kind: &str, p: &Paging) -> Result<Response> {
    let page = p.req();
    let (jobs, total) = reg.lifecycle.history(&caller.who, kind, page).await?;
    let schedule = reg.lifecycle.jobs().schedule(kind).await?;
    Ok(paged(
        &format!(
            "/api/v2.0/system/{}",
            if kind == GC { "gc" } else { "scrub" }
        ),
        page,
        total,
        jobs.iter()
            .map(|j| history_json(j, job_name(kind), schedule.as_ref()))
            .collect(),
    ))
}

async fn one(reg: &AppState, caller: &Caller, kind: &str, id: i64) -> Result<Json<Value>> {
    let job = reg.lifecycle.run_of(&caller.who, kind, id).await?;
    let schedule = reg.lifecycle.jobs().schedule(kind).await?;
    Ok(Json(history_json(&job, job_name(kind), schedule.as_ref())))
}

async fn log(reg: &AppState, caller: &Caller, kind: &str, id: i64) -> Result<Response> {
    let text = reg.lifecycle.run_log(&caller.who, kind, id).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

pub async fn gc_history(
    State(reg): State<AppState>,
    caller: Caller,
    Query(p): Query<Paging>,
) -> Result<Response> {
    history(&reg, &caller, GC, &p).await
}

pub async fn gc_get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    one(&reg, &caller, GC, id).await
}

pub async fn gc_log(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response> {
    log(&reg, &caller, GC, id).await
}

/// `PUT /system/gc/{id}`: stop that run (Harbor takes no body).
pub async fn gc_stop(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    reg.lifecycle
        .stop_run(&caller.who, caller.ip.as_deref(), GC, id)
        .await?;
    Ok(StatusCode::OK)
}

/// `POST /system/scrub` `{"quarantine":bool}`: 201 with the run's location.
pub async fn scrub_run(
    State(reg): State<AppState>,
    caller: Caller,
    body: Option<Json<Value>>,
) -> Result<Response> {
    let params: ScrubParams = match body {
        Some(Json(v)) if !v.is_null() => serde_json::from_value(v)
            .map_err(|e| RegistryError::bad_request(format!("scrub parameters: {e}")))?,
        _ => ScrubParams::default(),
    };
    let id = reg
        .lifecycle
        .run_scrub(&caller.who, caller.ip.as_deref(), params)
        .await?;
    Ok(created(format!("/api/v2.0/system/scrub/{id}")))
}

pub async fn scrub_history(
    State(reg): State<AppState>,
    caller: Caller,
    Query(p): Query<Paging>,
) -> Result<Response> {
    history(&reg, &caller, SCRUB, &p).await
}

pub async fn scrub_get(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>> {
    one(&reg, &caller, SCRUB, id).await
}

pub async fn scrub_log(
    State(reg): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response> {
    log(&reg, &caller, SCRUB, id).await
}
