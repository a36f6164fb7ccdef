//! Project members and their roles.

use super::Identity;
use crate::auth::Principal;
use crate::auth::rbac::{Action, RoleId};
use crate::error::{RegistryError, Result};
use crate::metadata::identity::{GROUP_TYPE_LDAP, GROUP_TYPE_OIDC, Member, Project};

/// A group named in Harbor's `member_group`: by id, or by LDAP DN / OIDC name
/// (created when it does not exist yet, as Harbor does).
#[derive(Debug, Clone, Default)]
pub struct GroupRef {
    pub id: Option<i64>,
    pub group_name: Option<String>,
    pub group_type: Option<i64>,
    pub ldap_group_dn: Option<String>,
}

impl Identity {
    pub async fn list_members(&self, who: &Principal, project: &str) -> Result<Vec<Member>> {
        let p = self
            .access
            .project_for(who, project, Action::ReadMembers)
            .await?;
        Ok(self.store.list_members(p.id).await?)
    }

    pub async fn add_member(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        username: Option<&str>,
        user_id: Option<i64>,
        role: RoleId,
    ) -> Result<i64> {
        let p = self
            .access
            .project_for(who, project, Action::ManageMembers)
            .await?;
        self.member_role(role).await?;
        let user = match (username, user_id) {
            (Some(name), _) => self.store.user_by_name(name).await?,
            (None, Some(id)) => self.store.user_by_id(id).await?,
            (None, None) => {
                return Err(RegistryError::bad_request(
                    "member_user needs a username or user_id",
                ));
            }
        }
        .map(|(u, _)| u)
        .ok_or_else(|| RegistryError::not_found("user not found"))?;
        let id = self
            .store
            .add_member(p.id, user.id, role)
            .await?
            .ok_or_else(|| {
                RegistryError::conflict(format!(
                    "{} is already a member of {}",
                    user.username, p.name
                ))
            })?;
        self.access.forget_credentials();
        self.access.audit(
            who,
            "create",
            "member",
            &format!("{}:{}", p.name, user.username),
            ip,
        );
        Ok(id)
    }

    /// Make a user group a member: its users then have at least `role` in the project.
    pub async fn add_group_member(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        group: &GroupRef,
        role: RoleId,
    ) -> Result<i64> {
        let p = self
            .access
            .project_for(who, project, Action::ManageMembers)
            .await?;
        self.member_role(role).await?;
        let g = match (group.id, group.ldap_group_dn.as_deref()) {
            (Some(id), _) if id > 0 => self.store.group_by_id(id).await?,
            (_, Some(dn)) if !dn.trim().is_empty() => {
                let dn = dn.trim();
                match self.store.groups_by_dn(&[dn.to_string()]).await?.pop() {
                    Some(g) => Some(g),
                    None => {
                        let name = group
                            .group_name
                            .clone()
                            .filter(|n| !n.trim().is_empty())
                            .unwrap_or_else(|| dn.to_string());
                        self.store.create_group(&name, GROUP_TYPE_LDAP, dn).await?;
                        self.store.groups_by_dn(&[dn.to_string()]).await?.pop()
                    }
                }
            }
            _ => match (group.group_name.as_deref(), group.group_type) {
                (Some(name), Some(GROUP_TYPE_OIDC)) if !name.trim().is_empty() => {
                    let name = name.trim();
                    let _ = self.store.create_group(name, GROUP_TYPE_OIDC, "").await?;
                    let (found, _) = self
                        .store
                        .list_groups(
                            Some(name),
                            crate::metadata::identity::PageReq {
                                page: 1,
                                page_size: 100,
                            },
                        )
                        .await?;
                    found
                        .into_iter()
                        .find(|g| g.group_type == GROUP_TYPE_OIDC && g.group_name == name)
                }
                _ => {
                    return Err(RegistryError::bad_request(
                        "member_group needs an id, an ldap_group_dn, or a group_name with group_type 3",
                    ));
                }
            },
        }
        .ok_or_else(|| RegistryError::not_found("user group not found"))?;
        let id = self
            .store
            .add_group_member(p.id, g.id, role)
            .await?
            .ok_or_else(|| {
                RegistryError::conflict(format!(
                    "group {} is already a member of {}",
                    g.group_name, p.name
                ))
            })?;
        self.access.forget_credentials();
        self.access.audit(
            who,
            "create",
            "member",
            &format!("{}:{}", p.name, g.group_name),
            ip,
        );
        Ok(id)
    }

    pub async fn update_member(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        member_id: i64,
        role: RoleId,
    ) -> Result<()> {
        let (p, m) = self.managed_member(who, project, member_id).await?;
        self.member_role(role).await?;
        self.store.update_member(p.id, member_id, role).await?;
        self.access.forget_credentials();
        self.access.audit(
            who,
            "update",
            "member",
            &format!("{}:{}", p.name, m.entity_name),
            ip,
        );
        Ok(())
    }

    pub async fn remove_member(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        member_id: i64,
    ) -> Result<()> {
        let (p, m) = self.managed_member(who, project, member_id).await?;
        self.store.remove_member(p.id, member_id).await?;
        self.access.audit(
            who,
            "delete",
            "member",
            &format!("{}:{}", p.name, m.entity_name),
            ip,
        );
        Ok(())
    }

    /// A member of a project `who` may manage members of.
    async fn managed_member(
        &self,
        who: &Principal,
        project: &str,
        member_id: i64,
    ) -> Result<(Project, Member)> {
        let p = self
            .access
            .project_for(who, project, Action::ManageMembers)
            .await?;
        let m = self
            .store
            .member(p.id, member_id)
            .await?
            .ok_or_else(|| RegistryError::not_found("member not found"))?;
        Ok((p, m))
    }
}
