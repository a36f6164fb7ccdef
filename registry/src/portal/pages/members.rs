//! `/projects/{p}/members`: who is in the project with which role (built-in or
//! custom), and, for those who may manage members, forms to add a user or a user
//! group, change a member's role and remove a member. Every change goes through
//! `Identity`, which checks the right again.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;

use super::project::{header, rights};
use crate::auth::rbac::{Action, RoleDef, RoleId};
use crate::error::RegistryError;
use crate::http::AppState;
use crate::metadata::identity::{EntityType, PageReq};
use crate::portal::error::PageResult;
use crate::portal::layout;
use crate::portal::session::{Checked, Viewer};
use crate::service::identity::GroupRef;

/// Groups offered in the "add a group" form (the rest are found by typing more).
const GROUPS_SHOWN: u32 = 100;

fn role_select(id: &str, roles: &[RoleDef], current: Option<RoleId>) -> Markup {
    html! {
        select #(id) name="role_id" {
            @for r in roles {
                option value=(r.id.0) selected[current == Some(r.id)] {
                    (r.name) @if !r.builtin { " (custom)" }
                }
            }
        }
    }
}

pub async fn show(
    State(reg): State<AppState>,
    viewer: Viewer,
    Path(project): Path<String>,
) -> PageResult {
    let p = reg
        .access
        .project_for(&viewer.who, &project, Action::ReadMembers)
        .await?;
    let members = reg.identity.list_members(&viewer.who, &p.name).await?;
    let rights = rights(&reg, &viewer, &p.name).await?;
    let manage = rights.manage_members;
    let (roles, groups) = if manage {
        let roles = reg.identity.list_roles(&viewer.who).await?;
        let groups = reg
            .directory
            .find_groups(
                &viewer.who,
                "",
                PageReq {
                    page: 1,
                    page_size: GROUPS_SHOWN,
                },
            )
            .await?
            .0;
        (roles, groups)
    } else {
        (Vec::new(), Vec::new())
    };
    let action = format!("/projects/{}/members", p.name);
    let body = html! {
        (header(&p, &rights, "members"))
        table.list #members {
            caption { "Members and their roles" }
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Role" }
                @if manage { th scope="col" { "Remove" } }
            } }
            tbody {
                @for m in &members {
                    @let kind = match m.entity_type { EntityType::User => "user", EntityType::Group => "group" };
                    tr data-member=(m.entity_name) {
                        td { (m.entity_name) }
                        td { (kind) }
                        td {
                            @if manage {
                                form.inline method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    input type="hidden" name="action" value="update";
                                    input type="hidden" name="member_id" value=(m.id);
                                    label.sr for={"role-" (m.id)} { "Role of " (m.entity_name) }
                                    (role_select(&format!("role-{}", m.id), &roles, Some(m.role)))
                                    button type="submit" aria-label={"Change the role of " (m.entity_name)} { "Change" }
                                }
                            } @else {
                                (m.role_name)
                            }
                        }
                        @if manage {
                            td {
                                form.inline method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    input type="hidden" name="action" value="remove";
                                    input type="hidden" name="member_id" value=(m.id);
                                    button.danger type="submit" aria-label={"Remove " (m.entity_name)} { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if manage {
            div #member-forms {
            section.card {
                h2 { "Add a user" }
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input type="hidden" name="action" value="add_user";
                    label for="member-user" { "User name" }
                    input #member-user name="username" required autocomplete="off";
                    label for="member-user-role" { "Role" }
                    (role_select("member-user-role", &roles, Some(RoleId(2))))
                    button type="submit" { "Add user" }
                }
            }
            section.card {
                h2 { "Add a user group" }
                @if groups.is_empty() {
                    p.empty { "No user groups exist yet. A system administrator creates them (LDAP or OIDC groups) under "
                        code { "/api/v2.0/usergroups" } "." }
                } @else {
                    form method="post" action=(action) {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        input type="hidden" name="action" value="add_group";
                        label for="member-group" { "Group" }
                        select #member-group name="group_id" {
                            @for g in &groups { option value=(g.id) { (g.group_name) } }
                        }
                        label for="member-group-role" { "Role" }
                        (role_select("member-group-role", &roles, Some(RoleId(3))))
                        button type="submit" { "Add group" }
                    }
                }
            }
            }
        }
    };
    Ok(
        Html(layout::page(&viewer, &format!("{} members", p.name), body).into_string())
            .into_response(),
    )
}

#[derive(Deserialize)]
pub struct MemberForm {
    action: String,
    #[serde(default)]
    username: String,
    group_id: Option<i64>,
    member_id: Option<i64>,
    role_id: Option<i64>,
}

pub async fn change(
    State(reg): State<AppState>,
    Path(project): Path<String>,
    c: Checked<MemberForm>,
) -> PageResult {
    let (v, f) = (c.viewer, c.form);
    let ip = v.ip.as_deref();
    let role = || {
        f.role_id
            .map(RoleId)
            .ok_or_else(|| RegistryError::bad_request("choose a role"))
    };
    let member = || {
        f.member_id
            .ok_or_else(|| RegistryError::bad_request("no member named"))
    };
    match f.action.as_str() {
        "add_user" => {
            let name = f.username.trim();
            if name.is_empty() {
                return Err(RegistryError::bad_request("name the user to add").into());
            }
            reg.identity
                .add_member(&v.who, ip, &project, Some(name), None, role()?)
                .await?;
        }
        "add_group" => {
            let group = GroupRef {
                id: f.group_id,
                ..Default::default()
            };
            reg.identity
                .add_group_member(&v.who, ip, &project, &group, role()?)
                .await?;
        }
        "update" => {
            reg.identity
                .update_member(&v.who, ip, &project, member()?, role()?)
                .await?;
        }
        "remove" => {
            reg.identity
                .remove_member(&v.who, ip, &project, member()?)
                .await?;
        }
        other => {
            return Err(RegistryError::bad_request(format!("unknown action {other:?}")).into());
        }
    }
    Ok(Redirect::to(&format!("/projects/{project}/members")).into_response())
}
