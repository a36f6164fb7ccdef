//! `/projects`: the projects the user sees, searched by name, with storage used
//! against the quota; the create form for those who may create projects.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect};
use maud::html;
use serde::Deserialize;

use crate::auth::rbac::SystemAction;
use crate::http::AppState;
use crate::metadata::identity::PageReq;
use crate::portal::error::PageResult;
use crate::portal::layout::{self, size};
use crate::portal::session::{Checked, Viewer};

const PAGE_SIZE: u32 = 25;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    page: Option<u32>,
}

pub async fn list(
    State(reg): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let page = PageReq {
        page: q.page.unwrap_or(1).max(1),
        page_size: PAGE_SIZE,
    };
    let search = q.q.trim();
    let (projects, total) = reg
        .identity
        .list_projects(&viewer.who, (!search.is_empty()).then_some(search), page)
        .await?;
    let mut rows = Vec::with_capacity(projects.len());
    for p in projects {
        let quota = reg.quotas.of_project(&viewer.who, &p.name).await.ok();
        rows.push((p, quota.map(|(q, _)| q)));
    }
    let may_create = viewer.who.may_system(SystemAction::CreateProject);
    let pages = (total as u32).div_ceil(PAGE_SIZE).max(1);
    let body = html! {
        h1 { "Projects" }
        form.search role="search" method="get" action="/projects" {
            label for="q" { "Find a project" }
            input #q type="search" name="q" value=(search) placeholder="name contains…";
            button type="submit" { "Search" }
        }
        @if rows.is_empty() {
            p.empty {
                @if search.is_empty() {
                    "No projects yet."
                    @if may_create { " Create one below, then push to it." }
                } @else { "No project name contains “" (search) "”." }
            }
        } @else {
            table.list {
                caption { (total) " project" @if total != 1 { "s" } }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Access" }
                    th scope="col" { "Repositories" } th scope="col" { "Storage used / quota" }
                    th scope="col" { "Created" }
                } }
                tbody {
                    @for (p, quota) in &rows {
                        tr {
                            td { a href={"/projects/" (p.name)} { (p.name) } }
                            td { @if p.public { span.badge.public { "public" } } @else { span.badge { "private" } } }
                            td.num { (p.repo_count) }
                            td {
                                @match quota {
                                    Some(q) if q.hard > 0 => {
                                        @let pct = ((q.used as f64 / q.hard as f64) * 100.0).min(100.0);
                                        meter min="0" max=(q.hard) value=(q.used) title={(format!("{pct:.0}%"))} aria-label={"storage of " (p.name)} {}
                                        " " (size(q.used)) " / " (size(q.hard as u64))
                                    }
                                    Some(q) => { (size(q.used)) " / unlimited" }
                                    None => { "—" }
                                }
                            }
                            td { (layout::time(p.created_at)) }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav.pager aria-label="Pages" {
                    @for n in 1..=pages {
                        @if n == page.page { span aria-current="page" { (n) } }
                        @else { a href={"/projects?page=" (n) "&q=" (crate::portal::pages::link_path(search))} { (n) } }
                    }
                }
            }
        }
        @if may_create {
            section.card {
                h2 { "New project" }
                form method="post" action="/projects" {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label for="name" { "Name" }
                    input #name name="name" required pattern="[a-z0-9]+([._-][a-z0-9]+)*" title="lower-case letters, digits, '.', '_' and '-'";
                    fieldset {
                        legend { "Access" }
                        label { input type="radio" name="access" value="private" checked; " Private: members only" }
                        label { input type="radio" name="access" value="public"; " Public: anyone may pull" }
                    }
                    button type="submit" { "Create project" }
                }
            }
        }
    };
    Ok(Html(layout::page(&viewer, "Projects", body).into_string()).into_response())
}

#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    #[serde(default)]
    access: String,
}

pub async fn create(State(reg): State<AppState>, c: Checked<CreateForm>) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let name = f.name.trim();
    let id = reg
        .identity
        .create_project(&v.who, v.ip.as_deref(), name, f.access == "public")
        .await?;
    reg.quotas.init_project(&v.who, id, None).await?;
    Ok(Redirect::to(&format!("/projects/{name}")).into_response())
}
