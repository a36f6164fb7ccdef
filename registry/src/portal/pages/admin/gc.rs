//! `/admin/gc`: garbage collection. The runs (status, what was deleted, how long),
//! the schedule, "Run GC now" and the dry run, and each run's log. A run not yet
//! ended is refreshed by the portal's polling, without a reload.

use axum::extract::{Path, Query, State};
use maud::html;
use serde::Deserialize;

use super::{back, checked, csrf, duration, page, pager, require, when};
use crate::auth::rbac::SystemAction;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::metadata::identity::PageReq;
use crate::metadata::lifecycle::Job;
use crate::portal::error::PageResult;
use crate::portal::layout::size;
use crate::portal::session::{Checked, Viewer};
use crate::service::lifecycle::{GC, GcParams, trigger_word};

const RUNS: u32 = 15;

#[derive(Deserialize)]
pub struct Paging {
    page: Option<u32>,
}

/// A counter of a run's result.
fn counter(j: &Job, name: &str) -> Option<u64> {
    j.result.as_ref().and_then(|r| r[name].as_u64())
}

pub async fn show(
    State(reg): State<AppState>,
    viewer: Viewer,
    Query(paging): Query<Paging>,
) -> PageResult {
    require(&reg, &viewer, SystemAction::ManageGarbageCollection)?;
    let current = paging.page.unwrap_or(1).max(1);
    let (runs, total) = reg
        .lifecycle
        .history(
            &viewer.who,
            GC,
            PageReq {
                page: current,
                page_size: RUNS,
            },
        )
        .await?;
    let schedule = reg.lifecycle.gc_schedule(&viewer.who).await?;
    let kind = schedule
        .as_ref()
        .map_or("None", |s| s.schedule_type.as_str());
    let live = runs.iter().any(|r| !r.status.is_final());
    let body = html! {
        section.card {
            h2 { "Run" }
            form method="post" action="/admin/gc" data-refresh="gc-runs" {
                (csrf(&viewer))
                label.check { input type="checkbox" name="delete_untagged" value="true"; " Also delete untagged artifacts" }
                button type="submit" name="action" value="dry_run" { "Dry run" }
                " "
                button.danger type="submit" name="action" value="run" { "Run GC now" }
            }
        }
        section #gc-runs data-poll=[live.then_some("1000")] {
            h2 { "History" }
            @if runs.is_empty() {
                p.empty { "GC has not run yet. A dry run shows what it would delete without deleting anything." }
            } @else {
                table.list {
                    caption { (total) " run" @if total != 1 { "s" } ", newest first" }
                    thead { tr {
                        th scope="col" { "Run" } th scope="col" { "Kind" } th scope="col" { "Status" }
                        th scope="col" { "Manifests deleted" } th scope="col" { "Blobs deleted" } th scope="col" { "Freed" }
                        th scope="col" { "Started" } th scope="col" { "Duration" } th scope="col" { "Log" }
                    } }
                    tbody { @for r in &runs {
                        @let dry = r.parameters["dry_run"].as_bool().unwrap_or(false);
                        tr data-run=(r.id) {
                            td.num { (r.id) }
                            td { @if dry { "dry run" } @else { "run" } " (" (trigger_word(r.trigger).to_lowercase()) ")" }
                            td { span.status data-status=(r.status.as_str()) { (r.status.as_str()) } @if let Some(m) = &r.message { br; span.muted { (m) } } }
                            td.num { (counter(r, "manifests_deleted").map(|n| n.to_string()).unwrap_or_else(|| "—".into())) }
                            td.num { (counter(r, "blobs_deleted").map(|n| n.to_string()).unwrap_or_else(|| "—".into())) }
                            td.num { (counter(r, "bytes_freed").map(size).unwrap_or_else(|| "—".into())) }
                            td { (when(r.started_at)) }
                            td.num { @match (r.started_at, r.ended_at) { (Some(s), Some(e)) => { (duration(e - s)) } _ => { "—" } } }
                            td { a href={"/admin/gc/" (r.id)} aria-label={"log of run " (r.id)} { "log" } }
                        }
                    } }
                }
                (pager(current, total, RUNS, |n| format!("/admin/gc?page={n}")))
            }
        }
        section.card {
            h2 { "Schedule" }
            p { "Now: " strong #gc-schedule { (kind) @if let Some(s) = &schedule { @if !s.cron.is_empty() { " (" code { (s.cron) } ")" } } }
                @if let Some(next) = schedule.as_ref().and_then(|s| s.next_run_at) { ", next run " (when(Some(next))) } }
            form method="post" action="/admin/gc" {
                (csrf(&viewer))
                input type="hidden" name="action" value="schedule";
                label for="gc-kind" { "Run GC" }
                select #gc-kind name="schedule_type" {
                    @for (v, text) in [("None", "never (by hand only)"), ("Hourly", "hourly"), ("Daily", "daily"), ("Weekly", "weekly"), ("Custom", "on a custom cron")] {
                        option value=(v) selected[v == kind] { (text) }
                    }
                }
                label for="gc-cron" { "Custom cron, 6 fields with seconds first" }
                input #gc-cron name="cron" placeholder="0 0 3 * * *" value=(schedule.as_ref().filter(|s| s.schedule_type == "Custom").map(|s| s.cron.clone()).unwrap_or_default());
                label.check { input type="checkbox" name="delete_untagged" value="true"; " Scheduled runs also delete untagged artifacts" }
                button type="submit" { "Save schedule" }
            }
        }
    };
    Ok(page(&viewer, "Garbage collection", "gc", body))
}

#[derive(Deserialize)]
pub struct GcForm {
    action: String,
    delete_untagged: Option<String>,
    #[serde(default)]
    schedule_type: String,
    #[serde(default)]
    cron: String,
}

pub async fn act(State(reg): State<AppState>, c: Checked<GcForm>) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let ip = v.ip.as_deref();
    let params = |dry_run| GcParams {
        delete_untagged: checked(&f.delete_untagged),
        dry_run,
        grace_period_seconds: None,
    };
    match f.action.as_str() {
        "run" | "dry_run" => {
            reg.lifecycle
                .run_gc(&v.who, ip, params(f.action == "dry_run"))
                .await?;
        }
        "schedule" => {
            reg.lifecycle
                .set_gc_schedule(&v.who, ip, &f.schedule_type, f.cron.trim(), params(false))
                .await?;
        }
        other => {
            return Err(RegistryError::bad_request(format!("unknown action {other:?}")).into());
        }
    }
    back("/admin/gc")
}

pub async fn log(State(reg): State<AppState>, viewer: Viewer, Path(id): Path<i64>) -> PageResult {
    require(&reg, &viewer, SystemAction::ManageGarbageCollection)?;
    let run = reg.lifecycle.run_of(&viewer.who, GC, id).await?;
    let log = reg.lifecycle.run_log(&viewer.who, GC, id).await?;
    let body = html! {
        p.crumbs { a href="/admin/gc" { "Garbage collection" } " / run " (id) }
        section #gc-run data-poll=[(!run.status.is_final()).then_some("1000")] {
            p { "Status: " span.status #gc-run-status data-status=(run.status.as_str()) { (run.status.as_str()) } }
            pre.log #gc-log tabindex="0" aria-label="GC log" { @if log.is_empty() { "(nothing logged yet)" } @else { (log) } }
        }
    };
    Ok(page(&viewer, &format!("GC run {id}"), "gc", body))
}
