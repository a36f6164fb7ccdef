//! User accounts: created by administrators, passwords changed by their owners.

use super::{Identity, check_password, hash_secret, valid_account_name};
use crate::auth::Principal;
use crate::auth::password;
use crate::auth::rbac::SystemAction;
use crate::error::{RegistryError, Result};
use crate::metadata::identity::{NewUser, PageReq, User};

impl Identity {
    pub async fn create_user(
        &self,
        who: &Principal,
        ip: Option<&str>,
        username: &str,
        pw: &str,
        email: Option<&str>,
        realname: Option<&str>,
    ) -> Result<i64> {
        self.access.require_system(who, SystemAction::ManageUsers)?;
        if let Some(mode) = self.access.external_mode() {
            return Err(RegistryError::forbidden(format!(
                "local users are created only in db_auth mode; in {mode} mode users come from the directory or identity provider and are created at their first login"
            )));
        }
        if !valid_account_name(username) || username.starts_with("robot") {
            return Err(RegistryError::bad_request(
                "user names are lower-case letters, digits, '.', '_' and '-', and may not start with \"robot\"",
            ));
        }
        check_password(pw)?;
        let pw = pw.to_string();
        let hash = hash_secret(pw).await?;
        let id = self
            .store
            .create_user(NewUser {
                username,
                password_hash: &hash,
                email,
                realname,
                sysadmin: false,
            })
            .await?
            .ok_or_else(|| RegistryError::conflict(format!("user {username} already exists")))?;
        self.access.audit(who, "create", "user", username, ip);
        Ok(id)
    }

    /// Users by id; `name`: only those whose name contains it.
    pub async fn list_users(
        &self,
        who: &Principal,
        name: Option<&str>,
        page: PageReq,
    ) -> Result<(Vec<User>, i64)> {
        self.access.require_system(who, SystemAction::ReadUsers)?;
        Ok(self.store.list_users(name, page).await?)
    }

    pub async fn user(&self, who: &Principal, id: i64) -> Result<User> {
        if who.user_id() != Some(id) {
            self.access.require_system(who, SystemAction::ReadUsers)?;
        }
        self.store
            .user_by_id(id)
            .await?
            .map(|(u, _)| u)
            .ok_or_else(|| RegistryError::not_found(format!("user {id} not found")))
    }

    /// Users change their own password (old one required); admins reset anyone's.
    pub async fn change_password(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        old: Option<&str>,
        new: &str,
    ) -> Result<()> {
        let (user, hash) = self
            .store
            .user_by_id(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("user {id} not found")))?;
        if who.user_id() == Some(id) {
            let old = old.unwrap_or_default().to_string();
            let ok = password::limited(move || password::verify(&old, &hash)).await;
            if !ok {
                return Err(RegistryError::forbidden("the old password is wrong"));
            }
        } else {
            self.access.require_system(who, SystemAction::ManageUsers)?;
        }
        check_password(new)?;
        let new = new.to_string();
        let hash = hash_secret(new).await?;
        self.store.set_password(id, &hash).await?;
        self.access.forget_credentials();
        self.access.audit(who, "update", "user", &user.username, ip);
        Ok(())
    }

    pub async fn set_sysadmin(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        sysadmin: bool,
    ) -> Result<()> {
        self.access.require_system(who, SystemAction::ManageUsers)?;
        let user = self.user(who, id).await?;
        self.store.set_sysadmin(id, sysadmin).await?;
        self.access.forget_credentials();
        self.access.audit(who, "update", "user", &user.username, ip);
        Ok(())
    }

    pub async fn delete_user(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        self.access.require_system(who, SystemAction::ManageUsers)?;
        if who.user_id() == Some(id) {
            return Err(RegistryError::forbidden("you cannot delete yourself"));
        }
        let user = self.user(who, id).await?;
        self.store.delete_user(id).await?;
        self.access.forget_credentials();
        self.access.audit(who, "delete", "user", &user.username, ip);
        Ok(())
    }
}
