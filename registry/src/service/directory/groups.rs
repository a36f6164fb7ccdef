//! User groups (`/usergroups`): LDAP groups named by DN, OIDC groups by name.
//! An LDAP group is checked against the directory when LDAP is the mode, so a
//! typo in a DN is an error, not a group nobody can ever be in.

use super::{Directory, ldap, settings::AuthMode, unavailable};
use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
use crate::error::{RegistryError, Result};
use crate::metadata::identity::{GROUP_TYPE_LDAP, GROUP_TYPE_OIDC, PageReq, UserGroup};

impl Directory {
    pub async fn list_groups(
        &self,
        who: &Principal,
        name: Option<&str>,
        ldap_group_dn: Option<&str>,
        page: PageReq,
    ) -> Result<(Vec<UserGroup>, i64)> {
        self.access
            .require_system(who, SystemAction::ManageUserGroups)?;
        if let Some(dn) = ldap_group_dn {
            let found = self.store.groups_by_dn(&[dn.to_string()]).await?;
            let n = found.len() as i64;
            return Ok((found, n));
        }
        Ok(self.store.list_groups(name, page).await?)
    }

    /// Harbor's `/usergroups/search` (every group, a page at a time, when the
    /// name is empty): group names for member forms, so project
    /// administrators (any signed-in account, as for user search) can find the
    /// group to add without the right to manage groups.
    pub async fn find_groups(
        &self,
        who: &Principal,
        name: &str,
        page: PageReq,
    ) -> Result<(Vec<UserGroup>, i64)> {
        if matches!(who, Principal::Anonymous) {
            return Err(RegistryError::new(
                crate::error::ErrorCode::Unauthorized,
                "authentication required",
            ));
        }
        let name = Some(name.trim()).filter(|n| !n.is_empty());
        Ok(self.store.list_groups(name, page).await?)
    }

    pub async fn group(&self, who: &Principal, id: i64) -> Result<UserGroup> {
        self.access
            .require_system(who, SystemAction::ManageUserGroups)?;
        self.store
            .group_by_id(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("user group {id} not found")))
    }

    pub async fn create_group(
        &self,
        who: &Principal,
        ip: Option<&str>,
        group_name: &str,
        group_type: i64,
        ldap_group_dn: &str,
    ) -> Result<i64> {
        self.access
            .require_system(who, SystemAction::ManageUserGroups)?;
        let (name, dn) = match group_type {
            GROUP_TYPE_LDAP => {
                let dn = ldap_group_dn.trim();
                if dn.is_empty() {
                    return Err(RegistryError::bad_request(
                        "an LDAP group (group_type 1) needs ldap_group_dn",
                    ));
                }
                let mut name = group_name.trim().to_string();
                let s = self.settings();
                if s.mode == AuthMode::Ldap {
                    let mut session = ldap::Session::open(&s.ldap).await.map_err(unavailable)?;
                    let found = session.search_groups(None, Some(dn)).await;
                    session.close().await;
                    let found = found.map_err(unavailable)?;
                    let Some(g) = found.first() else {
                        return Err(RegistryError::bad_request(format!(
                            "LDAP group {dn} not found in the directory"
                        )));
                    };
                    if name.is_empty() {
                        name = g.name.clone();
                    }
                }
                if name.is_empty() {
                    return Err(RegistryError::bad_request("group_name is required"));
                }
                (name, dn.to_string())
            }
            GROUP_TYPE_OIDC => {
                let name = group_name.trim();
                if name.is_empty() {
                    return Err(RegistryError::bad_request(
                        "an OIDC group (group_type 3) needs group_name",
                    ));
                }
                (name.to_string(), String::new())
            }
            other => {
                return Err(RegistryError::bad_request(format!(
                    "group_type {other} is not supported (1 LDAP, 3 OIDC)"
                )));
            }
        };
        let id = self
            .store
            .create_group(&name, group_type, &dn)
            .await?
            .ok_or_else(|| RegistryError::conflict(format!("user group {name} already exists")))?;
        // Memberships are read at login: let the next request log in afresh.
        self.access.forget_credentials();
        self.access.audit(who, "create", "user_group", &name, ip);
        Ok(id)
    }

    pub async fn rename_group(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        group_name: &str,
    ) -> Result<()> {
        let g = self.group(who, id).await?;
        let name = group_name.trim();
        if name.is_empty() {
            return Err(RegistryError::bad_request("group_name is required"));
        }
        if !self.store.rename_group(id, name).await? {
            return Err(RegistryError::conflict(format!(
                "user group {name} already exists"
            )));
        }
        self.access.audit(
            who,
            "update",
            "user_group",
            &format!("{} -> {name}", g.group_name),
            ip,
        );
        Ok(())
    }

    pub async fn delete_group(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        let g = self.group(who, id).await?;
        self.store.delete_group(id).await?;
        self.access.forget_credentials();
        self.access
            .audit(who, "delete", "user_group", &g.group_name, ip);
        Ok(())
    }
}
