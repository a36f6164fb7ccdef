//! Management rules for users, projects, members and robot accounts: who may
//! change what, what a valid name or password is, and the audit trail of
//! every change.

mod members;
mod projects;
mod robots;
mod roles;
mod users;

use std::sync::Arc;

use super::access::Access;
use crate::auth::password;
use crate::error::{RegistryError, Result};
use crate::metadata::IdentityStore;
use crate::metadata::identity::NewUser;

pub use super::access::is_id;
pub use members::GroupRef;
pub use roles::RoleRequest;

fn valid_account_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Harbor's rule: 8 to 128 characters with an upper-case letter, a lower-case letter and a digit.
pub fn check_password(p: &str) -> Result<()> {
    let ok = (8..=128).contains(&p.chars().count())
        && p.chars().any(|c| c.is_ascii_uppercase())
        && p.chars().any(|c| c.is_ascii_lowercase())
        && p.chars().any(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(RegistryError::bad_request(
            "password must be 8 to 128 characters with at least one upper-case letter, one lower-case letter and one digit",
        ))
    }
}

/// argon2 is deliberately slow: hash on the blocking pool, never an async worker.
async fn hash_secret(secret: String) -> Result<String> {
    Ok(password::limited(move || password::hash(&secret)).await)
}

/// A robot as requested through the API.
/// What updating a robot may change; `duration` and `permissions` left out stay as they are.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RobotUpdate {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub disable: bool,
    /// Days from the robot's creation; -1 never expires.
    pub duration: Option<i64>,
    pub permissions: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct RobotSpec {
    pub name: String,
    pub description: String,
    pub level: String,
    /// Days; -1 never expires.
    pub duration: i64,
    pub disable: bool,
    pub permissions: serde_json::Value,
}

/// Users, projects, members and robot accounts: who may change what, and the
/// audit trail of each change. Its rules are about principals, so it asks
/// [`Access`] itself.
pub struct Identity {
    store: Arc<dyn IdentityStore>,
    access: Arc<Access>,
}

impl Identity {
    pub fn new(store: Arc<dyn IdentityStore>, access: Arc<Access>) -> Self {
        Identity { store, access }
    }

    /// The store itself, for bulk loads that bypass the checks and the audit
    /// (`wharf dev populate` creating its projects in whichever database the
    /// registry was opened on).
    pub fn store(&self) -> &Arc<dyn IdentityStore> {
        &self.store
    }

    /// First start: create `admin` with the given password, or a generated one
    /// (returned so the caller can show it once).
    pub async fn bootstrap_admin(&self, password: Option<&str>) -> Result<Option<String>> {
        if self.store.user_by_name("admin").await?.is_some() {
            return Ok(None);
        }
        let (pw, generated) = match password {
            Some(p) => (p.to_string(), None),
            None => {
                let p = password::generate_secret();
                (p.clone(), Some(p))
            }
        };
        let hash = hash_secret(pw).await?;
        self.store
            .create_user(NewUser {
                username: "admin",
                password_hash: &hash,
                email: None,
                realname: Some("system admin"),
                sysadmin: true,
            })
            .await?;
        Ok(generated)
    }
}
