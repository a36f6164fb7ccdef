//! `/admin/audit`: the registry's whole audit log, newest first, filtered by user,
//! operation and resource, paged.

use axum::extract::{Query, State};
use maud::html;
use serde::Deserialize;

use super::{page, pager, q, require};
use crate::auth::rbac::SystemAction;
use crate::http::AppState;
use crate::metadata::identity::{AuditFilter, PageReq};
use crate::portal::error::PageResult;
use crate::portal::layout;
use crate::portal::session::Viewer;

const PAGE_SIZE: u32 = 50;

/// The operations the services record.
const OPERATIONS: &[&str] = &[
    "create",
    "update",
    "delete",
    "pull",
    "push",
    "login",
    "login_failed",
    "stop",
    "retry",
];

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    operation: String,
    #[serde(default)]
    resource: String,
    page: Option<u32>,
}

fn given(s: &str) -> Option<String> {
    Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)
}

pub async fn show(
    State(reg): State<AppState>,
    viewer: Viewer,
    Query(query): Query<AuditQuery>,
) -> PageResult {
    require(&reg, &viewer, SystemAction::ReadAuditLog)?;
    let current = query.page.unwrap_or(1).max(1);
    let filter = AuditFilter {
        username: given(&query.user),
        operation: given(&query.operation),
        resource: given(&query.resource),
        ..Default::default()
    };
    let (entries, total) = reg
        .identity
        .search_audit_log(
            &viewer.who,
            &filter,
            PageReq {
                page: current,
                page_size: PAGE_SIZE,
            },
        )
        .await?;
    let filtered =
        filter.username.is_some() || filter.operation.is_some() || filter.resource.is_some();
    let link = |n: u32| {
        format!(
            "/admin/audit?page={n}&user={}&operation={}&resource={}",
            q(query.user.trim()),
            q(query.operation.trim()),
            q(query.resource.trim())
        )
    };
    let body = html! {
        form.filters role="search" method="get" action="/admin/audit" {
            label for="f-user" { "User contains" }
            input #f-user type="search" name="user" value=(query.user.trim());
            label for="f-op" { "Operation" }
            select #f-op name="operation" {
                option value="" { "any" }
                @for op in OPERATIONS { option value=(op) selected[query.operation == *op] { (op) } }
            }
            label for="f-res" { "Resource contains" }
            input #f-res type="search" name="resource" value=(query.resource.trim());
            button type="submit" { "Filter" }
            @if filtered { " " a href="/admin/audit" { "Clear filters" } }
        }
        @if entries.is_empty() {
            p.empty { @if filtered { "No entry matches these filters: widen them or clear them." } @else { "Nothing recorded yet: logins, pushes, pulls and changes appear here." } }
        } @else {
            table.list #audit {
                caption { (total) " entr" @if total == 1 { "y" } @else { "ies" } ", newest first" }
                thead { tr {
                    th scope="col" { "Time" } th scope="col" { "User" } th scope="col" { "Operation" }
                    th scope="col" { "Resource type" } th scope="col" { "Resource" } th scope="col" { "Client" }
                } }
                tbody { @for e in &entries { tr {
                    td { (layout::time(e.op_time)) }
                    td { (e.username) }
                    td { (e.operation) }
                    td { (e.resource_type) }
                    td { code { (e.resource) } }
                    td { (e.client_ip.clone().unwrap_or_default()) }
                } } }
            }
            (pager(current, total, PAGE_SIZE, link))
        }
    };
    Ok(page(&viewer, "Audit log", "audit", body))
}
