//! `/search`: projects and repositories whose name contains the text, and, for
//! the images holding a CVE ID (every project's for those who may read the Security
//! Hub, else those of the projects whose scans the viewer may read).

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse};
use maud::html;
use serde::Deserialize;

use super::link_path;
use crate::auth::rbac::SystemAction;
use crate::http::AppState;
use crate::metadata::identity::PageReq;
use crate::portal::error::PageResult;
use crate::portal::layout;
use crate::portal::session::Viewer;

/// At most this many hits of each kind are shown.
const MAX_HITS: usize = 50;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// A CVE (or GHSA, OSV…) identifier rather than a name.
fn looks_like_vuln_id(q: &str) -> bool {
    let upper = q.to_ascii_uppercase();
    [
        "CVE-", "GHSA-", "OSV-", "DSA-", "USN-", "ALAS", "RUSTSEC-", "PYSEC-", "GO-",
    ]
    .iter()
    .any(|p| upper.starts_with(p))
}

pub async fn show(
    State(reg): State<AppState>,
    viewer: Viewer,
    Query(q): Query<SearchQuery>,
) -> PageResult {
    let text = q.q.trim().to_string();
    let mut projects = Vec::new();
    let mut repos: Vec<(String, String)> = Vec::new();
    let mut vulns = Vec::new();
    let hub = viewer.who.may_system(SystemAction::ReadSecurityHub);
    if !text.is_empty() {
        let (found, _) = reg
            .identity
            .list_projects(
                &viewer.who,
                Some(&text),
                PageReq {
                    page: 1,
                    page_size: MAX_HITS as u32,
                },
            )
            .await?;
        projects = found;
        let needle = text.to_lowercase();
        // Repositories of the projects the viewer sees, a page of projects at a time.
        'outer: for page in 1.. {
            let (visible, total) = reg
                .identity
                .list_projects(
                    &viewer.who,
                    None,
                    PageReq {
                        page,
                        page_size: 100,
                    },
                )
                .await?;
            for p in &visible {
                for rpage in 1.. {
                    let req = PageReq {
                        page: rpage,
                        page_size: 100,
                    };
                    let (list, rtotal) = reg
                        .distribution
                        .project_repositories(&viewer.who, &p.name, req)
                        .await?;
                    let n = list.len();
                    for r in list {
                        if r.name.to_lowercase().contains(&needle) {
                            let short = r
                                .name
                                .strip_prefix(&format!("{}/", p.name))
                                .unwrap_or(&r.name)
                                .to_string();
                            repos.push((p.name.clone(), short));
                            if repos.len() >= MAX_HITS {
                                break 'outer;
                            }
                        }
                    }
                    if n == 0 || (rpage * 100) as i64 >= rtotal {
                        break;
                    }
                }
            }
            if (page * 100) as i64 >= total || visible.is_empty() {
                break;
            }
        }
        if looks_like_vuln_id(&text) {
            // The service keeps to the projects whose scans the viewer may read.
            vulns = reg
                .security
                .artifacts_with_vulnerability(
                    &viewer.who,
                    &text.to_ascii_uppercase(),
                    PageReq {
                        page: 1,
                        page_size: MAX_HITS as u32,
                    },
                )
                .await?
                .0;
        }
    }
    let body = html! {
        h1 { "Search" }
        form.search role="search" method="get" action="/search" {
            label for="q" { "Project, repository or CVE ID" }
            input #q type="search" name="q" value=(text) required;
            button type="submit" { "Search" }
        }
        @if !text.is_empty() {
            section {
                h2 { "Projects" }
                @if projects.is_empty() { p.empty { "No project name contains “" (text) "”." } }
                ul { @for p in &projects { li { a href={"/projects/" (p.name)} { (p.name) } } } }
            }
            section {
                h2 { "Repositories" }
                @if repos.is_empty() { p.empty { "No repository name contains “" (text) "”." } }
                ul { @for (p, r) in &repos { li { a href={"/projects/" (p) "/repos/" (link_path(r))} { (p) "/" (r) } } } }
            }
            @if looks_like_vuln_id(&text) {
                section {
                    h2 { "Images with " (text.to_ascii_uppercase()) }
                    @if !hub { p.hint { "Images of the projects whose scans you may read." } }
                    @if vulns.is_empty() { p.empty { "No scanned image has it." } }
                    @else {
                        table.list {
                            thead { tr { th scope="col" { "Repository" } th scope="col" { "Digest" } th scope="col" { "Tags" } th scope="col" { "Package" } th scope="col" { "Severity" } th scope="col" { "Fixed in" } } }
                            tbody { @for v in &vulns {
                                @let (proj, short) = v.repository.split_once('/').unwrap_or(("", &v.repository));
                                tr {
                                    td { (v.repository) }
                                    td { a href={"/projects/" (proj) "/repos/" (link_path(short)) "/-/" (v.digest)} { code { (v.digest.chars().take(19).collect::<String>()) } } }
                                    td { (v.tags.join(", ")) }
                                    td { (v.package) " " code { (v.version) } }
                                    td { (v.severity.as_str().to_lowercase()) }
                                    td { (v.fixed_version.as_deref().unwrap_or("—")) }
                                }
                            } }
                        }
                    }
                }
            }
        }
    };
    Ok(Html(layout::page(&viewer, "Search", body).into_string()).into_response())
}
