//! Project members and their roles.

use super::Identity;
use crate::auth::Principal;
use crate::auth::rbac::{Action, Role};
use crate::error::{RegistryError, Result};
use crate::metadata::identity::{Member, Project};

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
        role: Role,
    ) -> Result<i64> {
        let p = self
            .access
            .project_for(who, project, Action::ManageMembers)
            .await?;
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

    pub async fn update_member(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        member_id: i64,
        role: Role,
    ) -> Result<()> {
        let (p, m) = self.managed_member(who, project, member_id).await?;
        self.store.update_member(p.id, member_id, role).await?;
        self.access.audit(
            who,
            "update",
            "member",
            &format!("{}:{}", p.name, m.username),
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
            &format!("{}:{}", p.name, m.username),
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
