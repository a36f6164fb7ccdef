//! `/admin/replication`: replication policies (list, create, edit with Harbor's
//! fields, delete, "Replicate now"), each policy's executions, and an execution's
//! page with its per-artifact tasks and each task's log. Executions still running
//! are refreshed by the portal's polling (`data-poll`), without a reload.

use axum::extract::{Path, Query, State};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::{back, checked, csrf, duration, page, pager, require};
use crate::auth::rbac::SystemAction;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::metadata::identity::PageReq;
use crate::portal::error::PageResult;
use crate::portal::layout::{self, size};
use crate::portal::session::{Checked, Viewer};
use crate::service::replication::{Execution, Registry, ReplicationPolicy};

const EXECUTIONS: u32 = 10;
const TASKS: u32 = 50;

/// The remote side of a policy: its endpoint id and whether Wharf pushes to it.
fn remote_side(p: &ReplicationPolicy) -> (i64, bool) {
    match &p.dest_registry {
        Some(d) if d.id != 0 => (d.id, true),
        _ => (p.src_registry.as_ref().map_or(0, |s| s.id), false),
    }
}

/// A filter's pattern by its type (`name`, `tag`).
fn filter_value(p: &ReplicationPolicy, kind: &str) -> String {
    p.filters
        .iter()
        .find(|f| f.kind == kind)
        .and_then(|f| f.value.as_str())
        .unwrap_or_default()
        .to_string()
}

fn running(e: &Execution) -> bool {
    e.end_time.is_none()
}

fn endpoint_name(endpoints: &[Registry], id: i64) -> String {
    endpoints
        .iter()
        .find(|e| e.id == id)
        .map_or_else(|| format!("endpoint {id}"), |e| e.name.clone())
}

pub async fn list(State(reg): State<AppState>, viewer: Viewer) -> PageResult {
    require(&reg, &viewer, SystemAction::ManageReplication)?;
    let policies = reg.replication_policies.list(&viewer.who, None).await?;
    let endpoints = reg.registries.list(&viewer.who, None).await?;
    let body = html! {
        @if policies.is_empty() {
            p.empty {
                "No replication policies yet. "
                @if endpoints.is_empty() { a href="/admin/registries" { "Add a registry endpoint" } " first, then create a policy below." }
                @else { "Create one below to push images to an endpoint or pull them from it." }
            }
        } @else {
            table.list #policies {
                caption { (policies.len()) " polic" @if policies.len() == 1 { "y" } @else { "ies" } }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Direction" } th scope="col" { "Endpoint" }
                    th scope="col" { "Filters" } th scope="col" { "Trigger" } th scope="col" { "Enabled" }
                } }
                tbody {
                    @for p in &policies {
                        @let (remote, push) = remote_side(p);
                        tr {
                            th scope="row" { a href={"/admin/replication/" (p.id)} { (p.name) } }
                            td { @if push { "push" } @else { "pull" } }
                            td { (endpoint_name(&endpoints, remote)) }
                            td { "name " code { (or_all(&filter_value(p, "name"))) } ", tag " code { (or_all(&filter_value(p, "tag"))) } }
                            td { (trigger_text(p)) }
                            td { @if p.enabled { "yes" } @else { "no" } }
                        }
                    }
                }
            }
        }
        @if !endpoints.is_empty() {
            section.card {
                h2 { "New policy" }
                (policy_form(&viewer, &endpoints, None))
            }
        }
    };
    Ok(page(&viewer, "Replication", "replication", body))
}

fn or_all(s: &str) -> &str {
    if s.is_empty() { "**" } else { s }
}

fn trigger_text(p: &ReplicationPolicy) -> String {
    match p.trigger.kind.as_str() {
        "scheduled" => format!(
            "scheduled ({})",
            p.trigger
                .trigger_settings
                .as_ref()
                .map(|s| s.cron.as_str())
                .unwrap_or_default()
        ),
        "event_based" => "on push and delete".into(),
        _ => "manual".into(),
    }
}

/// The create/edit form, with Harbor's fields; `existing` fills it in.
fn policy_form(
    viewer: &Viewer,
    endpoints: &[Registry],
    existing: Option<&ReplicationPolicy>,
) -> Markup {
    let action = existing.map_or_else(
        || "/admin/replication".to_string(),
        |p| format!("/admin/replication/{}", p.id),
    );
    let (remote, push) = existing.map_or((0, true), remote_side);
    let trigger = existing.map_or("manual", |p| p.trigger.kind.as_str());
    let cron = existing
        .and_then(|p| p.trigger.trigger_settings.as_ref())
        .map(|s| s.cron.clone())
        .unwrap_or_default();
    let flatten = existing.map_or(-1, |p| p.dest_namespace_replace_count);
    html! {
        form.policy method="post" action=(action) {
            (csrf(viewer))
            input type="hidden" name="action" value="save";
            label for="pol-name" { "Name" }
            input #pol-name name="name" required maxlength="255" value=[existing.map(|p| &p.name)];
            label for="pol-desc" { "Description (optional)" }
            input #pol-desc name="description" value=[existing.map(|p| &p.description)];
            fieldset {
                legend { "Direction" }
                label { input type="radio" name="direction" value="push" checked[push]; " Push: this registry is the source" }
                label { input type="radio" name="direction" value="pull" checked[!push]; " Pull: this registry is the destination" }
            }
            label for="pol-registry" { "Remote endpoint" }
            select #pol-registry name="registry" required {
                @for e in endpoints {
                    option value=(e.id) selected[e.id == remote] { (e.name) " (" (e.url) ")" }
                }
            }
            label for="pol-names" { "Repositories matching (doublestar; empty: all)" }
            input #pol-names name="name_filter" placeholder="library/**" value=[existing.map(|p| filter_value(p, "name"))];
            label for="pol-tags" { "Tags matching (empty: all)" }
            input #pol-tags name="tag_filter" placeholder="v*" value=[existing.map(|p| filter_value(p, "tag"))];
            label for="pol-ns" { "Destination namespace (empty: the source's)" }
            input #pol-ns name="dest_namespace" value=[existing.map(|p| &p.dest_namespace)];
            label for="pol-flatten" { "Flattening of the source path" }
            select #pol-flatten name="flatten" {
                @for (n, text) in [(-1, "flatten all levels"), (0, "no flattening"), (1, "flatten 1 level"), (2, "flatten 2 levels"), (3, "flatten 3 levels")] {
                    option value=(n) selected[n == flatten] { (text) }
                }
            }
            label for="pol-trigger" { "Trigger" }
            select #pol-trigger name="trigger" {
                option value="manual" selected[trigger == "manual"] { "Manual" }
                option value="scheduled" selected[trigger == "scheduled"] { "Scheduled (cron)" }
                option value="event_based" selected[trigger == "event_based"] { "Event based (push and delete)" }
            }
            label for="pol-cron" { "Cron, 6 fields with seconds first (for Scheduled)" }
            input #pol-cron name="cron" placeholder="0 0 2 * * *" value=(cron);
            label.check { input type="checkbox" name="deletion" value="true" checked[existing.is_some_and(|p| p.deletion)]; " Replicate deletions" }
            label.check { input type="checkbox" name="override" value="true" checked[existing.is_none_or(|p| p.override_)]; " Override artifacts at the destination" }
            label.check { input type="checkbox" name="enabled" value="true" checked[existing.is_none_or(|p| p.enabled)]; " Enabled" }
            button type="submit" { @if existing.is_some() { "Save policy" } @else { "Create policy" } }
        }
    }
}

#[derive(Deserialize)]
pub struct PolicyForm {
    action: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    direction: String,
    registry: Option<i64>,
    #[serde(default)]
    name_filter: String,
    #[serde(default)]
    tag_filter: String,
    #[serde(default)]
    dest_namespace: String,
    flatten: Option<i64>,
    #[serde(default)]
    trigger: String,
    #[serde(default)]
    cron: String,
    deletion: Option<String>,
    #[serde(rename = "override")]
    override_: Option<String>,
    enabled: Option<String>,
}

impl PolicyForm {
    /// The policy the form describes, through the same document the API takes.
    fn policy(&self) -> Result<ReplicationPolicy, RegistryError> {
        let remote = self
            .registry
            .ok_or_else(|| RegistryError::bad_request("choose the remote endpoint"))?;
        let side = json!({"id": remote});
        let mut filters = Vec::new();
        if !self.name_filter.trim().is_empty() {
            filters.push(json!({"type": "name", "value": self.name_filter.trim()}));
        }
        if !self.tag_filter.trim().is_empty() {
            filters.push(
                json!({"type": "tag", "value": self.tag_filter.trim(), "decoration": "matches"}),
            );
        }
        let trigger = match self.trigger.as_str() {
            "scheduled" => {
                json!({"type": "scheduled", "trigger_settings": {"cron": self.cron.trim()}})
            }
            "event_based" => json!({"type": "event_based"}),
            _ => json!({"type": "manual"}),
        };
        let push = self.direction != "pull";
        let body = json!({
            "name": self.name.trim(),
            "description": self.description.trim(),
            "src_registry": if push { serde_json::Value::Null } else { side.clone() },
            "dest_registry": if push { side } else { serde_json::Value::Null },
            "dest_namespace": self.dest_namespace.trim(),
            "dest_namespace_replace_count": self.flatten.unwrap_or(-1),
            "trigger": trigger,
            "filters": filters,
            "deletion": checked(&self.deletion),
            "override": checked(&self.override_),
            "enabled": checked(&self.enabled),
        });
        serde_json::from_value(body)
            .map_err(|e| RegistryError::bad_request(format!("replication policy: {e}")))
    }
}

pub async fn create(State(reg): State<AppState>, c: Checked<PolicyForm>) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let id = reg
        .replication_policies
        .create(&v.who, v.ip.as_deref(), f.policy()?)
        .await?;
    back(&format!("/admin/replication/{id}"))
}

#[derive(Deserialize)]
pub struct Paging {
    page: Option<u32>,
}

pub async fn show(
    State(reg): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(paging): Query<Paging>,
) -> PageResult {
    require(&reg, &viewer, SystemAction::ManageReplication)?;
    let policy = reg.replication_policies.get(&viewer.who, id).await?;
    let endpoints = reg.registries.list(&viewer.who, None).await?;
    let current = paging.page.unwrap_or(1).max(1);
    let (executions, total) = reg
        .replication
        .list(
            &viewer.who,
            Some(id),
            PageReq {
                page: current,
                page_size: EXECUTIONS,
            },
        )
        .await?;
    let live = executions.iter().any(running);
    let body = html! {
        p.crumbs { a href="/admin/replication" { "Replication" } " / " (policy.name) }
        section.card {
            h2 { "Run" }
            form method="post" action={"/admin/replication/" (id)} data-refresh="executions" {
                (csrf(&viewer))
                button type="submit" name="action" value="run" disabled[!policy.enabled] { "Replicate now" }
                @if !policy.enabled { " " span.muted { "(the policy is disabled)" } }
            }
        }
        section #executions data-poll=[live.then_some("1000")] {
            h2 { "Executions" }
            @if executions.is_empty() {
                p.empty { "No executions yet: press “Replicate now”" @if policy.trigger.kind != "manual" { ", or wait for its trigger" } "." }
            } @else {
                table.list {
                    caption { (total) " execution" @if total != 1 { "s" } ", newest first" }
                    thead { tr {
                        th scope="col" { "Execution" } th scope="col" { "Status" } th scope="col" { "Trigger" }
                        th scope="col" { "Started" } th scope="col" { "Tasks: succeeded / failed / in progress / total" }
                    } }
                    tbody { @for e in &executions { tr {
                        td.num { a href={"/admin/replication/executions/" (e.id)} { "#" (e.id) } }
                        td { span.status data-status=(e.status) { (e.status) } @if !e.status_text.is_empty() { br; span.muted { (e.status_text) } } }
                        td { (e.trigger) }
                        td { (rfc3339(&e.start_time)) }
                        td.num { (e.succeed) " / " (e.failed) " / " (e.in_progress) " / " (e.total) }
                    } } }
                }
                (pager(current, total, EXECUTIONS, |n| format!("/admin/replication/{id}?page={n}")))
            }
        }
        section.card {
            h2 { "Edit" }
            (policy_form(&viewer, &endpoints, Some(&policy)))
        }
        section.card {
            h2 { "Delete" }
            form method="post" action={"/admin/replication/" (id)} {
                (csrf(&viewer))
                button.danger type="submit" name="action" value="delete" { "Delete policy " (policy.name) }
            }
        }
    };
    Ok(page(
        &viewer,
        &format!("replication policy {}", policy.name),
        "replication",
        body,
    ))
}

/// RFC 3339 as the service gives it, shown as the rest of the portal shows times.
fn rfc3339(s: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| layout::time(t.timestamp()))
        .unwrap_or_else(|_| s.to_string())
}

pub async fn act(
    State(reg): State<AppState>,
    Path(id): Path<i64>,
    c: Checked<PolicyForm>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let ip = v.ip.as_deref();
    match f.action.as_str() {
        "run" => {
            reg.replication.start(&v.who, ip, id).await?;
            back(&format!("/admin/replication/{id}"))
        }
        "save" => {
            reg.replication_policies
                .update(&v.who, ip, id, f.policy()?)
                .await?;
            back(&format!("/admin/replication/{id}"))
        }
        "delete" => {
            reg.replication_policies.delete(&v.who, ip, id).await?;
            back("/admin/replication")
        }
        other => Err(RegistryError::bad_request(format!("unknown action {other:?}")).into()),
    }
}

pub async fn execution(
    State(reg): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(paging): Query<Paging>,
) -> PageResult {
    require(&reg, &viewer, SystemAction::ManageReplication)?;
    let e = reg.replication.get(&viewer.who, id).await?;
    let policy = reg
        .replication_policies
        .get(&viewer.who, e.policy_id)
        .await
        .ok();
    let current = paging.page.unwrap_or(1).max(1);
    let (tasks, total) = reg
        .replication
        .tasks(
            &viewer.who,
            id,
            PageReq {
                page: current,
                page_size: TASKS,
            },
        )
        .await?;
    let live = running(&e);
    let body = html! {
        p.crumbs {
            a href="/admin/replication" { "Replication" } " / "
            @if let Some(p) = &policy { a href={"/admin/replication/" (p.id)} { (p.name) } } @else { "policy " (e.policy_id) }
            " / execution #" (id)
        }
        section #execution data-poll=[live.then_some("1000")] {
            dl.facts {
                dt { "Status" } dd { span.status #execution-status data-status=(e.status) { (e.status) } }
                @if !e.status_text.is_empty() { dt { "Detail" } dd { (e.status_text) } }
                dt { "Trigger" } dd { (e.trigger) }
                dt { "Started" } dd { (rfc3339(&e.start_time)) }
                dt { "Ended" } dd { (e.end_time.as_deref().map(rfc3339).unwrap_or_else(|| "—".into())) }
                dt { "Tasks" } dd { (e.succeed) " succeeded, " (e.failed) " failed, " (e.in_progress) " in progress, " (e.stopped) " stopped, of " (e.total) }
            }
            @if live {
                form method="post" action={"/admin/replication/executions/" (id)} {
                    (csrf(&viewer))
                    button.danger type="submit" { "Stop" }
                }
            }
            h2 { "Tasks" }
            @if tasks.is_empty() {
                p.empty { @if live { "Listing what to copy…" } @else { "No artifact matched the policy's filters." } }
            } @else {
                table.list #tasks {
                    caption { (total) " task" @if total != 1 { "s" } ", one per artifact" }
                    thead { tr {
                        th scope="col" { "Artifact" } th scope="col" { "Destination" } th scope="col" { "Operation" }
                        th scope="col" { "Status" } th scope="col" { "Sent" } th scope="col" { "Duration" } th scope="col" { "Log" }
                    } }
                    tbody { @for t in &tasks { tr {
                        td { code { (t.src_resource) } }
                        td { code { (t.dst_resource) } }
                        td { (t.operation) }
                        td { span.status data-status=(t.status) { (t.status) } @if !t.message.is_empty() { br; span.muted { (t.message) } } }
                        td.num { (size(t.bytes.max(0) as u64)) }
                        td.num { (duration(t.duration)) }
                        td { a href={"/admin/replication/executions/" (id) "/tasks/" (t.id)} aria-label={"log of " (t.src_resource)} { "log" } }
                    } } }
                }
                (pager(current, total, TASKS, |n| format!("/admin/replication/executions/{id}?page={n}")))
            }
        }
    };
    Ok(page(
        &viewer,
        &format!("replication execution #{id}"),
        "replication",
        body,
    ))
}

/// Stop a running execution.
pub async fn stop(
    State(reg): State<AppState>,
    Path(id): Path<i64>,
    c: Checked<serde::de::IgnoredAny>,
) -> PageResult {
    let v = c.viewer;
    reg.replication.stop(&v.who, v.ip.as_deref(), id).await?;
    back(&format!("/admin/replication/executions/{id}"))
}

pub async fn task_log(
    State(reg): State<AppState>,
    viewer: Viewer,
    Path((id, task)): Path<(i64, i64)>,
) -> PageResult {
    require(&reg, &viewer, SystemAction::ManageReplication)?;
    let log = reg.replication.task_log(&viewer.who, id, task).await?;
    let body = html! {
        p.crumbs { a href="/admin/replication" { "Replication" } " / " a href={"/admin/replication/executions/" (id)} { "execution #" (id) } " / task " (task) }
        pre.log #task-log tabindex="0" aria-label="task log" { (log) }
    };
    Ok(page(
        &viewer,
        &format!("task {task} log"),
        "replication",
        body,
    ))
}
