//! `/admin/users`: the user accounts, searched by name and paged; create (only in
//! db_auth mode, as the API), grant or take back system administration, reset a
//! password, delete. The authentication mode is shown: in LDAP or OIDC mode users
//! arrive at their first login.

use axum::extract::{Path, Query, State};
use maud::html;
use serde::Deserialize;

use super::{back, csrf, page, pager, q, require};
use crate::auth::rbac::SystemAction;
use crate::error::RegistryError;
use crate::http::AppState;
use crate::metadata::identity::PageReq;
use crate::portal::error::PageResult;
use crate::portal::layout;
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
    Query(query): Query<ListQuery>,
) -> PageResult {
    require(&reg, &viewer, SystemAction::ReadUsers)?;
    let search = query.q.trim();
    let current = query.page.unwrap_or(1).max(1);
    let (users, total) = reg
        .identity
        .list_users(
            &viewer.who,
            (!search.is_empty()).then_some(search),
            PageReq {
                page: current,
                page_size: PAGE_SIZE,
            },
        )
        .await?;
    let mode = reg.directory.mode().name();
    let local = reg.access.external_mode().is_none();
    let me = viewer.who.user_id();
    let body = html! {
        p { "Authentication mode: " strong #auth-mode { (mode) } @if !local {
            " — users are created at their first login through the directory or identity provider."
        } }
        form.search role="search" method="get" action="/admin/users" {
            label for="q" { "Find a user" }
            input #q type="search" name="q" value=(search) placeholder="name contains…";
            button type="submit" { "Search" }
        }
        @if users.is_empty() {
            p.empty {
                @if search.is_empty() { "No users yet." @if local { " Create one below." } }
                @else { "No user name contains “" (search) "”." }
            }
        } @else {
            table.list #users {
                caption { (total) " user" @if total != 1 { "s" } }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "E-mail" }
                    th scope="col" { "Administrator" } th scope="col" { "Created" }
                    th scope="col" { "Actions" }
                } }
                tbody {
                    @for u in &users {
                        tr data-user=(u.username) {
                            th scope="row" { (u.username) }
                            td { (u.email.clone().unwrap_or_default()) }
                            td { @if u.sysadmin { span.badge.public { "system admin" } } @else { "no" } }
                            td { (layout::time(u.created_at)) }
                            td.actions {
                                @if me != Some(u.id) {
                                    form.inline method="post" action={"/admin/users/" (u.id)} {
                                        (csrf(&viewer))
                                        @if u.sysadmin {
                                            button type="submit" name="action" value="unset_admin" { "Revoke admin" }
                                        } @else {
                                            button type="submit" name="action" value="set_admin" { "Make admin" }
                                        }
                                    }
                                    @if local {
                                        details.inline {
                                            summary { "Reset password" }
                                            form method="post" action={"/admin/users/" (u.id)} {
                                                (csrf(&viewer))
                                                input type="hidden" name="action" value="password";
                                                label for={"pw-" (u.id)} { "New password for " (u.username) }
                                                input id={"pw-" (u.id)} type="password" name="password" autocomplete="new-password" required minlength="8";
                                                button type="submit" { "Set password" }
                                            }
                                        }
                                    }
                                    form.inline method="post" action={"/admin/users/" (u.id)} {
                                        (csrf(&viewer))
                                        button.danger type="submit" name="action" value="delete" aria-label={"Delete " (u.username)} { "Delete" }
                                    }
                                } @else { span.muted { "you" } }
                            }
                        }
                    }
                }
            }
            (pager(current, total, PAGE_SIZE, |n| format!("/admin/users?page={n}&q={}", q(search))))
        }
        @if local {
            section.card {
                h2 { "New user" }
                form method="post" action="/admin/users" {
                    (csrf(&viewer))
                    label for="username" { "User name" }
                    input #username name="username" required autocomplete="off" pattern="[a-z0-9]+([._-][a-z0-9]+)*" title="lower-case letters, digits, '.', '_' and '-'";
                    label for="email" { "E-mail (optional)" }
                    input #email type="email" name="email" autocomplete="off";
                    label for="realname" { "Full name (optional)" }
                    input #realname name="realname" autocomplete="off";
                    label for="password" { "Password (8 to 128 characters, with upper- and lower-case letters and a digit)" }
                    input #password type="password" name="password" required minlength="8" autocomplete="new-password";
                    button type="submit" { "Create user" }
                }
            }
        }
    };
    Ok(page(&viewer, "Users", "users", body))
}

#[derive(Deserialize)]
pub struct NewUserForm {
    username: String,
    password: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    realname: String,
}

pub async fn create(State(reg): State<AppState>, c: Checked<NewUserForm>) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let opt = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
    reg.identity
        .create_user(
            &v.who,
            v.ip.as_deref(),
            f.username.trim(),
            &f.password,
            opt(&f.email).as_deref(),
            opt(&f.realname).as_deref(),
        )
        .await?;
    back(&format!("/admin/users?q={}", q(f.username.trim())))
}

#[derive(Deserialize)]
pub struct UserAction {
    action: String,
    #[serde(default)]
    password: String,
}

pub async fn act(
    State(reg): State<AppState>,
    Path(id): Path<i64>,
    c: Checked<UserAction>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let ip = v.ip.as_deref();
    match f.action.as_str() {
        "set_admin" | "unset_admin" => {
            reg.identity
                .set_sysadmin(&v.who, ip, id, f.action == "set_admin")
                .await?
        }
        "password" => {
            reg.identity
                .change_password(&v.who, ip, id, None, &f.password)
                .await?
        }
        "delete" => reg.identity.delete_user(&v.who, ip, id).await?,
        other => {
            return Err(RegistryError::bad_request(format!("unknown action {other:?}")).into());
        }
    }
    back("/admin/users")
}
