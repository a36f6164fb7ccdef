//! A project's pages: repositories (the empty state says how to push), members,
//! robot accounts, audit log. Tabs and controls appear only for what the user's
//! role allows (asked of `Access::may`, which reads the one permission table).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse};
use maud::{Markup, html};
use serde::Deserialize;

use super::{link_path, registry_host};
use crate::auth::rbac::Action;
use crate::http::AppState;
use crate::metadata::identity::{PageReq, Project};
use crate::portal::error::PageResult;
use crate::portal::layout::{self, project_tabs};
use crate::portal::session::Viewer;

/// Tabs and the action each needs.
const TABS: &[(&str, &str, Action)] = &[
    ("", "Repositories", Action::ListRepositories),
    ("members", "Members", Action::ReadMembers),
    ("robots", "Robot accounts", Action::ReadRobots),
    ("webhooks", "Webhooks", Action::ReadWebhooks),
    ("settings", "Settings", Action::ReadProject),
    ("retention", "Retention", Action::ReadRetention),
    ("logs", "Logs", Action::ReadLogs),
];

/// What the viewer may do in a project, asked once per page.
pub struct Rights {
    pub tabs: Vec<(&'static str, &'static str)>,
    pub update: bool,
    pub push: bool,
    pub scan: bool,
    pub delete: bool,
    pub manage_retention: bool,
    pub manage_robots: bool,
    pub manage_members: bool,
    pub manage_webhooks: bool,
    pub manage_immutable: bool,
}

pub async fn rights(reg: &AppState, viewer: &Viewer, project: &str) -> PageResult<Rights> {
    let may = reg
        .access
        .actions_in(&viewer.who, project)
        .await?
        .unwrap_or_default();
    Ok(Rights {
        tabs: TABS
            .iter()
            .filter(|(_, _, action)| may.contains(*action))
            .map(|(slug, label, _)| (*slug, *label))
            .collect(),
        update: may.contains(Action::UpdateProject),
        push: may.contains(Action::Push),
        scan: may.contains(Action::Scan),
        delete: may.contains(Action::DeleteArtifact),
        manage_retention: may.contains(Action::ManageRetention),
        manage_robots: may.contains(Action::ManageRobots),
        manage_members: may.contains(Action::ManageMembers),
        manage_webhooks: may.contains(Action::ManageWebhooks),
        manage_immutable: may.contains(Action::ManageImmutableRules),
    })
}

/// The heading and tabs of a project page.
pub fn header(p: &Project, rights: &Rights, current: &str) -> Markup {
    html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/projects" { "Projects" } " / " }
        h1 { (p.name) " "
            @if p.public { span.badge.public { "public" } } @else { span.badge { "private" } } }
        (project_tabs(&p.name, current, &rights.tabs))
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<u32>,
}

pub async fn repositories(
    State(reg): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let p = reg
        .access
        .project_for(&viewer.who, &project, Action::ListRepositories)
        .await?;
    let page = PageReq {
        page: q.page.unwrap_or(1).max(1),
        page_size: 50,
    };
    let (repos, total) = reg
        .distribution
        .project_repositories(&viewer.who, &p.name, page)
        .await?;
    let rights = rights(&reg, &viewer, &p.name).await?;
    let host = registry_host(&headers);
    let quota = reg.quotas.of_project(&viewer.who, &p.name).await.ok();
    let body = html! {
        (header(&p, &rights, ""))
        @if let Some((q, _)) = &quota {
            p.usage { "Storage used: " (layout::size(q.used))
                @if q.hard > 0 { " of " (layout::size(q.hard as u64)) } @else { " (no quota)" } }
        }
        @if repos.is_empty() && page.page == 1 {
            section.empty {
                h2 { "No repositories yet" }
                @if rights.push {
                    p { "Push an image to this project:" }
                    pre tabindex="0" { code {
                        "docker login " (host) "\n"
                        "docker tag my-image:latest " (host) "/" (p.name) "/my-image:latest\n"
                        "docker push " (host) "/" (p.name) "/my-image:latest"
                    } }
                } @else {
                    p { "Nothing has been pushed here. Ask a developer of the project to push an image." }
                }
            }
        } @else {
            table.list {
                caption { (total) " repositor" @if total == 1 { "y" } @else { "ies" } }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Artifacts" } th scope="col" { "Pulls" } th scope="col" { "Last modified" } } }
                tbody {
                    @for r in &repos {
                        @let short = r.name.strip_prefix(&format!("{}/", p.name)).unwrap_or(&r.name);
                        tr {
                            td { a href={"/projects/" (p.name) "/repos/" (link_path(short))} { (r.name) } }
                            td.num { (r.artifact_count) }
                            td.num { (r.pull_count) }
                            td { (layout::time(r.updated_at)) }
                        }
                    }
                }
            }
            @if total > 50 {
                nav.pager aria-label="Pages" {
                    @for n in 1..=(total as u32).div_ceil(50) {
                        @if n == page.page { span aria-current="page" { (n) } }
                        @else { a href={"/projects/" (p.name) "?page=" (n)} { (n) } }
                    }
                }
            }
        }
    };
    Ok(Html(layout::page(&viewer, &p.name, body).into_string()).into_response())
}

pub async fn robots(
    State(reg): State<AppState>,
    viewer: Viewer,
    Path(project): Path<String>,
) -> PageResult {
    let p = reg
        .access
        .project_for(&viewer.who, &project, Action::ReadRobots)
        .await?;
    robots_page(&reg, &viewer, &p, None).await
}

/// The robots page; `created`: a robot just made, with its secret, shown this once.
async fn robots_page(
    reg: &AppState,
    viewer: &Viewer,
    p: &Project,
    created: Option<(String, String)>,
) -> PageResult {
    let robots = reg.identity.list_robots(&viewer.who, Some(&p.name)).await?;
    let rights = rights(reg, viewer, &p.name).await?;
    let body = html! {
        (header(p, &rights, "robots"))
        @if let Some((name, secret)) = &created {
            section.card #robot-secret role="status" {
                h2 { "Robot " code { (name) } " created" }
                p { strong { "Copy its secret now: it is not shown again." } }
                div.copy {
                    label for="secret" { "Secret" }
                    input #secret readonly value=(secret);
                    button type="button" data-copy="secret" { "Copy" }
                }
            }
        }
        @if robots.is_empty() {
            p.empty { "No robot accounts. Create one for a pipeline with "
                code { "wharf robot create --project " (p.name) " NAME" }
                "; its secret is shown once." }
        } @else {
            table.list {
                caption { "Robot accounts" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Description" } th scope="col" { "State" } th scope="col" { "Expires" } } }
                tbody {
                    @for r in &robots {
                        tr {
                            td { code { (r.name) } }
                            td { (r.description) }
                            td { @if r.disabled { "disabled" } @else { "enabled" } }
                            td { @if r.expires_at < 0 { "never" } @else { (layout::time(r.expires_at)) } }
                        }
                    }
                }
            }
        }
        @if rights.manage_robots {
            section.card {
                h2 { "New robot account" }
                form method="post" action={"/projects/" (p.name) "/robots"} {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label for="robot-name" { "Name" }
                    input #robot-name name="name" required pattern="[a-z0-9]+([._-][a-z0-9]+)*";
                    label for="robot-description" { "Description" }
                    input #robot-description name="description";
                    fieldset {
                        legend { "Permissions in this project" }
                        label { input type="checkbox" name="pull" value="1" checked; " Pull" }
                        label { input type="checkbox" name="push" value="1"; " Push" }
                    }
                    label for="robot-days" { "Expires after this many days (-1: never)" }
                    input #robot-days type="number" name="days" min="-1" value="30" required;
                    button type="submit" { "Create robot account" }
                }
            }
        }
    };
    Ok(
        Html(layout::page(viewer, &format!("{} robots", p.name), body).into_string())
            .into_response(),
    )
}

#[derive(Deserialize)]
pub struct RobotForm {
    name: String,
    #[serde(default)]
    description: String,
    pull: Option<String>,
    push: Option<String>,
    days: i64,
}

/// Creates a robot and shows its secret once, in this response only (never stored
/// or logged in the clear; portal pages are `no-store`).
pub async fn create_robot(
    State(reg): State<AppState>,
    Path(project): Path<String>,
    c: crate::portal::session::Checked<RobotForm>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let p = reg
        .access
        .project_for(&v.who, &project, Action::ManageRobots)
        .await?;
    let mut access = Vec::new();
    if f.pull.is_some() {
        access.push(serde_json::json!({"resource": "repository", "action": "pull"}));
    }
    if f.push.is_some() {
        access.push(serde_json::json!({"resource": "repository", "action": "push"}));
    }
    if access.is_empty() {
        return Err(crate::error::RegistryError::bad_request("choose pull, push or both").into());
    }
    let spec = crate::service::RobotSpec {
        name: f.name.trim().to_string(),
        description: f.description,
        level: "project".into(),
        duration: f.days,
        disable: false,
        permissions: serde_json::json!([{"kind": "project", "namespace": p.name, "access": access}]),
    };
    let (robot, secret) = reg
        .identity
        .create_robot(&v.who, v.ip.as_deref(), &spec)
        .await?;
    robots_page(&reg, &v, &p, Some((robot.name, secret))).await
}

pub async fn logs(
    State(reg): State<AppState>,
    viewer: Viewer,
    Path(project): Path<String>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let p = reg
        .access
        .project_for(&viewer.who, &project, Action::ReadLogs)
        .await?;
    let page = PageReq {
        page: q.page.unwrap_or(1).max(1),
        page_size: 50,
    };
    let (entries, _) = reg
        .identity
        .audit_log(&viewer.who, Some(&p.name), page)
        .await?;
    let rights = rights(&reg, &viewer, &p.name).await?;
    let body = html! {
        (header(&p, &rights, "logs"))
        @if entries.is_empty() { p.empty { "Nothing recorded yet." } }
        @else {
            table.list {
                caption { "Audit log, newest first" }
                thead { tr { th scope="col" { "Time" } th scope="col" { "User" } th scope="col" { "Operation" } th scope="col" { "Resource" } th scope="col" { "Client" } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td { (layout::time(e.op_time)) } td { (e.username) }
                            td { (e.operation) " " (e.resource_type) } td { code { (e.resource) } }
                            td { (e.client_ip.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    Ok(
        Html(layout::page(&viewer, &format!("{} logs", p.name), body).into_string())
            .into_response(),
    )
}
