//! `/projects/{p}/retention`: the project's retention policy, a form to set a simple
//! one, a dry run (decide and log, delete nothing) and the runs with each
//! repository's decisions. A run in progress is refreshed without a reload.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::project::{header, rights};
use crate::auth::rbac::Action;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::metadata::identity::PageReq;
use crate::portal::error::PageResult;
use crate::portal::layout;
use crate::portal::session::{Checked, Viewer};
use crate::service::lifecycle::RetentionPolicy;

/// The retention service's templates (`Template::parse`), as the form offers them;
/// "N" is the count or the number of days.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "latestPushedK",
        "the N most recently pushed artifacts per repository",
    ),
    (
        "latestPulledN",
        "the N most recently pulled artifacts per repository",
    ),
    (
        "nDaysSinceLastPush",
        "artifacts pushed within the last N days",
    ),
    (
        "nDaysSinceLastPull",
        "artifacts pulled within the last N days",
    ),
    ("always", "always (every artifact the selectors choose)"),
];

const FEW: PageReq = PageReq {
    page: 1,
    page_size: 10,
};

pub async fn show(
    State(reg): State<AppState>,
    viewer: Viewer,
    Path(project): Path<String>,
) -> PageResult {
    let p = reg
        .access
        .project_for(&viewer.who, &project, Action::ReadRetention)
        .await?;
    let rights = rights(&reg, &viewer, &p.name).await?;
    let policy = match reg.retention.policy_id_of(p.id).await? {
        Some(id) => Some(reg.retention.get(&viewer.who, id).await?),
        None => None,
    };
    let (runs, latest_tasks) = match &policy {
        Some(pol) => {
            let (runs, _) = reg.retention.executions(&viewer.who, pol.id, FEW).await?;
            let tasks = match runs.first() {
                Some(run) => {
                    reg.retention
                        .tasks(
                            &viewer.who,
                            pol.id,
                            run.id,
                            PageReq {
                                page: 1,
                                page_size: 100,
                            },
                        )
                        .await?
                        .0
                }
                None => Vec::new(),
            };
            (runs, tasks)
        }
        None => (Vec::new(), Vec::new()),
    };
    let running = runs
        .first()
        .is_some_and(|r| r.status == "Pending" || r.status == "Running");
    let body = html! {
        (header(&p, &rights, "retention"))
        @match &policy {
            None => {
                p.empty { "No retention policy: every artifact is kept." }
            }
            Some(pol) => {
                section.card {
                    h2 { "Rules" }
                    ul {
                        @for r in &pol.rules {
                            li {
                                (r.action) " by " code { (r.template) }
                                @for (k, v) in &r.params { " " (k) "=" (v.to_string()) }
                                " in repositories "
                                @for s in &r.scope_selectors.repository { code { (s.decoration) " " (s.pattern) } " " }
                                " with tags "
                                @for s in &r.tag_selectors { code { (s.decoration) " " (s.pattern) } " " }
                                @if r.disabled { " (disabled)" }
                            }
                        }
                    }
                    @if rights.manage_retention {
                        form method="post" action={"/projects/" (p.name) "/retention"} {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            button type="submit" name="action" value="dry_run" { "Dry run" }
                            " "
                            button.danger type="submit" name="action" value="run" { "Run now (deletes)" }
                        }
                    }
                }
            }
        }
        @if rights.manage_retention {
            section.card {
                h2 { @if policy.is_some() { "Replace the policy" } @else { "Set a policy" } }
                form method="post" action={"/projects/" (p.name) "/retention"} {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input type="hidden" name="action" value="set";
                    label for="template" { "Keep" }
                    select #template name="template" {
                        @for (name, text) in TEMPLATES { option value=(name) selected[*name == "latestPushedK"] { (text) } }
                    }
                    label for="keep" { "N (artifacts or days; ignored by “always”)" }
                    input #keep type="number" name="keep" min="0" max="1000000" value="10";
                    label for="repos" { "In repositories matching" }
                    input #repos name="repos" value="**" required;
                    label for="tags" { "With tags matching" }
                    input #tags name="tags" value="**" required;
                    button type="submit" { "Save policy" }
                }
            }
        }
        section #retention-runs data-poll=[running.then_some("2000")] {
            h2 { "Runs" }
            @if runs.is_empty() { p.empty { "No runs yet." } }
            @else {
                table.list {
                    caption { "Newest first" }
                    thead { tr { th scope="col" { "Run" } th scope="col" { "Kind" } th scope="col" { "Status" } th scope="col" { "Started" } } }
                    tbody { @for r in &runs { tr {
                        td.num { (r.id) } td { @if r.dry_run { "dry run" } @else { "run" } " (" (r.trigger.to_lowercase()) ")" }
                        td { span.status data-status=(r.status) { (r.status) } } td { (layout::time(r.start_time)) }
                    } } }
                }
                @if !latest_tasks.is_empty() {
                    h3 { "Latest run, per repository" }
                    @for t in &latest_tasks {
                        details.task {
                            summary { code { (t.repository) } ": " (t.retained) " of " (t.total) " kept (" (t.status) ")" }
                            pre.log tabindex="0" aria-label={"log of " (t.repository)} { (t.log) }
                        }
                    }
                }
            }
        }
    };
    Ok(
        Html(layout::page(&viewer, &format!("{} retention", p.name), body).into_string())
            .into_response(),
    )
}

#[derive(Deserialize)]
pub struct RetentionForm {
    action: String,
    template: Option<String>,
    keep: Option<i64>,
    repos: Option<String>,
    tags: Option<String>,
}

pub async fn run(
    State(reg): State<AppState>,
    Path(project): Path<String>,
    c: Checked<RetentionForm>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let p = reg
        .access
        .project_for(&v.who, &project, Action::ManageRetention)
        .await?;
    let existing = reg.retention.policy_id_of(p.id).await?;
    match f.action.as_str() {
        "dry_run" | "run" => {
            let id = existing.ok_or_else(|| {
                RegistryError::bad_request("the project has no retention policy to run")
            })?;
            reg.retention
                .execute(&v.who, v.ip.as_deref(), id, f.action == "dry_run")
                .await?;
        }
        "set" => {
            let template = f.template.unwrap_or_else(|| "latestPushedK".into());
            if !TEMPLATES.iter().any(|(t, _)| *t == template) {
                return Err(RegistryError::bad_request(format!(
                    "unknown retention template {template:?}"
                ))
                .into());
            }
            let keep = f.keep.filter(|k| *k >= 0);
            let params = match (template.as_str(), keep) {
                ("always", _) => json!({}),
                (t, Some(n)) => json!({ t: n }),
                (_, None) => {
                    return Err(RegistryError::bad_request(
                        "N: how many artifacts or days, 0 or more",
                    )
                    .into());
                }
            };
            let pattern = |s: Option<String>| {
                s.filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| "**".into())
            };
            let body = json!({
                "algorithm": "or",
                "rules": [{
                    "action": "retain", "template": template,
                    "params": params,
                    "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": pattern(f.tags)}],
                    "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": pattern(f.repos)}]}
                }],
                "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
                "scope": {"level": "project", "ref": p.id}
            });
            let policy: RetentionPolicy = serde_json::from_value(body)
                .map_err(|e| RegistryError::bad_request(format!("retention policy: {e}")))?;
            match existing {
                Some(id) => {
                    reg.retention
                        .update(&v.who, v.ip.as_deref(), id, policy)
                        .await?
                }
                None => {
                    reg.retention
                        .create(&v.who, v.ip.as_deref(), policy)
                        .await?;
                }
            }
        }
        other => {
            return Err(RegistryError::bad_request(format!("unknown action {other:?}")).into());
        }
    }
    Ok(Redirect::to(&format!("/projects/{}/retention", p.name)).into_response())
}
