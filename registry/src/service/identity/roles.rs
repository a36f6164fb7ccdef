//! Project roles: the five built into the permission table, and custom roles a
//! system administrator defines as a set of the table's project actions. Members
//! and groups hold either kind the same way (`role_id`).

use super::Identity;
use crate::auth::Principal;
use crate::auth::rbac::{ActionSet, Role, RoleDef, RoleId, SystemAction};
use crate::error::{RegistryError, Result};
use crate::metadata::identity::RoleDeletion;

/// A custom role as requested: names of project actions (`pull`, `scan`, …).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RoleRequest {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub actions: Vec<String>,
}

impl RoleRequest {
    fn checked(&self) -> Result<(String, ActionSet)> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(RegistryError::bad_request(
                "a role needs a name of 1 to 64 printable characters",
            ));
        }
        if Role::ALL
            .iter()
            .any(|r| r.name().eq_ignore_ascii_case(name))
        {
            return Err(RegistryError::conflict(format!(
                "{name} is the name of a built-in role"
            )));
        }
        let actions = ActionSet::parse(self.actions.iter().map(String::as_str)).map_err(|bad| {
            RegistryError::bad_request(format!(
                "unknown project action(s) {}; the actions are those of docs/permissions.md: {}",
                bad.join(", "),
                crate::auth::rbac::TABLE
                    .iter()
                    .map(|(a, _)| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if actions.is_empty() {
            return Err(RegistryError::bad_request(
                "a role needs at least one action",
            ));
        }
        Ok((name.to_string(), actions))
    }
}

impl Identity {
    /// Every project role, built-in first. Any signed-in account may read them
    /// (they are what member forms offer).
    pub async fn list_roles(&self, who: &Principal) -> Result<Vec<RoleDef>> {
        self.signed_in(who)?;
        let mut all = RoleDef::builtins();
        all.extend(self.store.list_roles().await?);
        Ok(all)
    }

    pub async fn get_role(&self, who: &Principal, id: i64) -> Result<RoleDef> {
        self.signed_in(who)?;
        self.role(id).await
    }

    fn signed_in(&self, who: &Principal) -> Result<()> {
        if matches!(who, Principal::Anonymous) && self.access.auth_enabled() {
            return Err(RegistryError::new(
                crate::error::ErrorCode::Unauthorized,
                "authentication required",
            ));
        }
        Ok(())
    }

    /// The role a request's `role_id` names, or a 400 saying which ids exist.
    pub(super) async fn member_role(&self, id: RoleId) -> Result<RoleDef> {
        self.find_role(id.0).await?.ok_or_else(|| {
            RegistryError::bad_request(format!(
                "unknown role_id {} (1 projectAdmin, 2 developer, 3 guest, 4 maintainer, 5 limitedGuest, or a custom role from /roles)",
                id.0
            ))
        })
    }

    async fn role(&self, id: i64) -> Result<RoleDef> {
        self.find_role(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("no project role with id {id}")))
    }

    async fn find_role(&self, id: i64) -> Result<Option<RoleDef>> {
        Ok(match RoleId(id).builtin() {
            Some(r) => Some(RoleDef::builtin(r)),
            None => self.store.role_by_id(id).await?,
        })
    }

    pub async fn create_role(
        &self,
        who: &Principal,
        ip: Option<&str>,
        req: &RoleRequest,
    ) -> Result<i64> {
        self.access.require_system(who, SystemAction::ManageRoles)?;
        let (name, actions) = req.checked()?;
        let id = self
            .store
            .create_role(&name, req.description.trim(), actions)
            .await?
            .ok_or_else(|| RegistryError::conflict(format!("a role named {name} exists")))?;
        self.access.audit(who, "create", "role", &name, ip);
        Ok(id)
    }

    pub async fn update_role(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        req: &RoleRequest,
    ) -> Result<()> {
        self.access.require_system(who, SystemAction::ManageRoles)?;
        refuse_builtin(id)?;
        let (name, actions) = req.checked()?;
        match self
            .store
            .update_role(id, &name, req.description.trim(), actions)
            .await?
        {
            None => {
                return Err(RegistryError::conflict(format!(
                    "a role named {name} exists"
                )));
            }
            Some(false) => return Err(RegistryError::not_found(format!("no custom role {id}"))),
            Some(true) => {}
        }
        self.access.forget_credentials();
        self.access.audit(who, "update", "role", &name, ip);
        Ok(())
    }

    pub async fn delete_role(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        self.access.require_system(who, SystemAction::ManageRoles)?;
        refuse_builtin(id)?;
        let name = self.role(id).await?.name;
        match self.store.delete_role(id).await? {
            RoleDeletion::Deleted => {}
            RoleDeletion::NotFound => {
                return Err(RegistryError::not_found(format!("no custom role {id}")));
            }
            RoleDeletion::InUse => {
                return Err(RegistryError::conflict(format!(
                    "role {name} is held by project members; give them another role first"
                )));
            }
        }
        self.access.audit(who, "delete", "role", &name, ip);
        Ok(())
    }
}

fn refuse_builtin(id: i64) -> Result<()> {
    match RoleId(id).builtin() {
        Some(r) => Err(RegistryError::forbidden(format!(
            "{} is a built-in role and cannot be changed",
            r.name()
        ))),
        None => Ok(()),
    }
}
