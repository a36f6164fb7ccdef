//! Management rules for users, projects, members and robot accounts: who may
//! change what, what a valid name or password is, and the audit trail of
//! every change.

use axum::http::StatusCode;

use super::Registry;
use crate::auth::rbac::{Action, Role};
use crate::auth::{Principal, password, robot_grants};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::metadata::identity::{Member, NewRobot, NewUser, PageReq, Project, Robot, User};
use crate::metadata::now;

/// How a project is named in a path: by numeric id or by name.
pub fn is_id(s: &str) -> Option<i64> {
    s.parse().ok()
}

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
    tokio::task::spawn_blocking(move || password::hash(&secret))
        .await
        .map_err(|e| RegistryError::Internal(e.to_string()))
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

impl Registry {
    /// First start: create `admin` with the given password, or a generated one
    /// (returned so the caller can show it once).
    pub async fn bootstrap_admin(&self, password: Option<&str>) -> Result<Option<String>> {
        if self.identity.user_by_name("admin").await?.is_some() {
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
        self.identity
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

    // ---- users

    pub async fn create_user(
        &self,
        who: &Principal,
        ip: Option<&str>,
        username: &str,
        pw: &str,
        email: Option<&str>,
        realname: Option<&str>,
    ) -> Result<i64> {
        self.require_sysadmin(who)?;
        if !valid_account_name(username) || username.starts_with("robot") {
            return Err(RegistryError::bad_request(
                "user names are lower-case letters, digits, '.', '_' and '-', and may not start with \"robot\"",
            ));
        }
        check_password(pw)?;
        let pw = pw.to_string();
        let hash = hash_secret(pw).await?;
        let id = self
            .identity
            .create_user(NewUser {
                username,
                password_hash: &hash,
                email,
                realname,
                sysadmin: false,
            })
            .await?
            .ok_or_else(|| RegistryError::conflict(format!("user {username} already exists")))?;
        self.audit(who, "create", "user", username, ip);
        Ok(id)
    }

    pub async fn list_users(&self, who: &Principal, page: PageReq) -> Result<(Vec<User>, i64)> {
        self.require_sysadmin(who)?;
        Ok(self.identity.list_users(page).await?)
    }

    pub async fn user(&self, who: &Principal, id: i64) -> Result<User> {
        if who.user_id() != Some(id) {
            self.require_sysadmin(who)?;
        }
        self.identity
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
            .identity
            .user_by_id(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("user {id} not found")))?;
        if who.user_id() == Some(id) {
            let old = old.unwrap_or_default().to_string();
            let ok = tokio::task::spawn_blocking(move || password::verify(&old, &hash))
                .await
                .unwrap_or(false);
            if !ok {
                return Err(RegistryError::api(
                    StatusCode::FORBIDDEN,
                    "FORBIDDEN",
                    "the old password is wrong",
                ));
            }
        } else {
            self.require_sysadmin(who)?;
        }
        check_password(new)?;
        let new = new.to_string();
        let hash = hash_secret(new).await?;
        self.identity.set_password(id, &hash).await?;
        self.forget_credentials();
        self.audit(who, "update", "user", &user.username, ip);
        Ok(())
    }

    pub async fn set_sysadmin(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        sysadmin: bool,
    ) -> Result<()> {
        self.require_sysadmin(who)?;
        let user = self.user(who, id).await?;
        self.identity.set_sysadmin(id, sysadmin).await?;
        self.forget_credentials();
        self.audit(who, "update", "user", &user.username, ip);
        Ok(())
    }

    pub async fn delete_user(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        self.require_sysadmin(who)?;
        if who.user_id() == Some(id) {
            return Err(RegistryError::api(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "you cannot delete yourself",
            ));
        }
        let user = self.user(who, id).await?;
        self.identity.delete_user(id).await?;
        self.forget_credentials();
        self.audit(who, "delete", "user", &user.username, ip);
        Ok(())
    }

    // ---- projects

    pub async fn project(&self, reference: &str) -> Result<Project> {
        let found = match is_id(reference) {
            Some(id) => self.identity.project_by_id(id).await?,
            None => self.identity.project_by_name(reference).await?,
        };
        found.ok_or_else(|| RegistryError::not_found(format!("project {reference} not found")))
    }

    /// The project, if `who` may do `action` in it. A private project the
    /// caller cannot see is reported as not found, not as forbidden.
    pub async fn project_for(
        &self,
        who: &Principal,
        reference: &str,
        action: Action,
    ) -> Result<Project> {
        let project = self.project(reference).await?;
        match self.may(who, &project.name, action).await? {
            Some(true) => Ok(project),
            _ if self.may(who, &project.name, Action::ReadProject).await? != Some(true) => {
                if matches!(who, Principal::Anonymous) {
                    Err(RegistryError::new(
                        ErrorCode::Unauthorized,
                        "authentication required",
                    ))
                } else {
                    Err(RegistryError::not_found(format!(
                        "project {reference} not found"
                    )))
                }
            }
            _ => Err(RegistryError::api(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                format!(
                    "{} may not {action:?} in project {}",
                    who.name(),
                    project.name
                ),
            )),
        }
    }

    pub async fn create_project(
        &self,
        who: &Principal,
        ip: Option<&str>,
        name: &str,
        public: bool,
    ) -> Result<i64> {
        if matches!(who, Principal::Anonymous | Principal::Robot { .. }) {
            return Err(RegistryError::new(
                ErrorCode::Unauthorized,
                "authentication required",
            ));
        }
        if name.contains('/') || crate::names::RepoName::parse(name).is_err() || name.len() > 255 {
            return Err(RegistryError::bad_request(format!(
                "invalid project name {name:?}: lower-case letters, digits, '.', '_' and '-'"
            )));
        }
        let id = self
            .identity
            .create_project(name, public, who.user_id())
            .await?
            .ok_or_else(|| RegistryError::conflict(format!("project {name} already exists")))?;
        if let Some(uid) = who.user_id() {
            self.identity
                .add_member(id, uid, Role::ProjectAdmin)
                .await?;
        }
        self.audit(who, "create", "project", name, ip);
        Ok(id)
    }

    pub async fn list_projects(
        &self,
        who: &Principal,
        name: Option<&str>,
        page: PageReq,
    ) -> Result<(Vec<Project>, i64)> {
        let viewer = if who.is_sysadmin() {
            None
        } else {
            Some(who.user_id().unwrap_or(-1))
        };
        Ok(self.identity.list_projects(viewer, name, page).await?)
    }

    pub async fn update_project(
        &self,
        who: &Principal,
        ip: Option<&str>,
        reference: &str,
        public: bool,
    ) -> Result<()> {
        let p = self
            .project_for(who, reference, Action::UpdateProject)
            .await?;
        self.identity.set_project_public(p.id, public).await?;
        self.audit(who, "update", "project", &p.name, ip);
        Ok(())
    }

    pub async fn delete_project(
        &self,
        who: &Principal,
        ip: Option<&str>,
        reference: &str,
    ) -> Result<()> {
        let p = self
            .project_for(who, reference, Action::DeleteProject)
            .await?;
        if !self.identity.delete_project(p.id).await? {
            return Err(RegistryError::api(
                StatusCode::PRECONDITION_FAILED,
                "PRECONDITION",
                format!(
                    "project {} still has repositories; delete them first",
                    p.name
                ),
            ));
        }
        self.audit(who, "delete", "project", &p.name, ip);
        Ok(())
    }

    /// The caller's role in a project (`current_user_role_id` in the API).
    pub async fn role_in(&self, who: &Principal, project: &str) -> Result<Option<Role>> {
        Ok(self
            .identity
            .project_access(project, who.user_id())
            .await?
            .and_then(|a| a.role))
    }

    // ---- members

    pub async fn list_members(&self, who: &Principal, project: &str) -> Result<Vec<Member>> {
        let p = self.project_for(who, project, Action::ReadMembers).await?;
        Ok(self.identity.list_members(p.id).await?)
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
            .project_for(who, project, Action::ManageMembers)
            .await?;
        let user = match (username, user_id) {
            (Some(name), _) => self.identity.user_by_name(name).await?,
            (None, Some(id)) => self.identity.user_by_id(id).await?,
            (None, None) => {
                return Err(RegistryError::bad_request(
                    "member_user needs a username or user_id",
                ));
            }
        }
        .map(|(u, _)| u)
        .ok_or_else(|| RegistryError::not_found("user not found"))?;
        let id = self
            .identity
            .add_member(p.id, user.id, role)
            .await?
            .ok_or_else(|| {
                RegistryError::conflict(format!(
                    "{} is already a member of {}",
                    user.username, p.name
                ))
            })?;
        self.forget_credentials();
        self.audit(
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
        let p = self
            .project_for(who, project, Action::ManageMembers)
            .await?;
        let m = self
            .identity
            .member(p.id, member_id)
            .await?
            .ok_or_else(|| RegistryError::not_found("member not found"))?;
        self.identity.update_member(p.id, member_id, role).await?;
        self.audit(
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
        let p = self
            .project_for(who, project, Action::ManageMembers)
            .await?;
        let m = self
            .identity
            .member(p.id, member_id)
            .await?
            .ok_or_else(|| RegistryError::not_found("member not found"))?;
        self.identity.remove_member(p.id, member_id).await?;
        self.audit(
            who,
            "delete",
            "member",
            &format!("{}:{}", p.name, m.username),
            ip,
        );
        Ok(())
    }

    // ---- robots

    /// Project-level robots need ManageRobots there; system-level ones a sysadmin.
    async fn robot_scope(
        &self,
        who: &Principal,
        level: &str,
        permissions: &serde_json::Value,
    ) -> Result<Option<Project>> {
        let grants = robot_grants(permissions).map_err(RegistryError::bad_request)?;
        match level {
            "system" => {
                self.require_sysadmin(who)?;
                Ok(None)
            }
            "project" => {
                let [grant] = grants.as_slice() else {
                    return Err(RegistryError::bad_request(
                        "a project-level robot has exactly one permission entry, for its project",
                    ));
                };
                Ok(Some(
                    self.project_for(who, &grant.namespace, Action::ManageRobots)
                        .await?,
                ))
            }
            other => Err(RegistryError::bad_request(format!(
                "level must be \"system\" or \"project\", not {other:?}"
            ))),
        }
    }

    /// Create a robot; returns it and its secret (shown this once).
    pub async fn create_robot(
        &self,
        who: &Principal,
        ip: Option<&str>,
        spec: &RobotSpec,
    ) -> Result<(Robot, String)> {
        if !valid_account_name(&spec.name) {
            return Err(RegistryError::bad_request(
                "robot names are lower-case letters, digits, '.', '_' and '-'",
            ));
        }
        let project = self
            .robot_scope(who, &spec.level, &spec.permissions)
            .await?;
        let full = match &project {
            Some(p) => format!("robot${}+{}", p.name, spec.name),
            None => format!("robot${}", spec.name),
        };
        let secret = password::generate_secret();
        let s = secret.clone();
        let hash = hash_secret(s).await?;
        let expires_at = if spec.duration < 0 {
            -1
        } else {
            now() + spec.duration * 86_400
        };
        let id = self
            .identity
            .create_robot(NewRobot {
                name: &full,
                description: &spec.description,
                level: &spec.level,
                project_id: project.as_ref().map(|p| p.id),
                secret_hash: &hash,
                permissions: &spec.permissions,
                disabled: spec.disable,
                expires_at,
            })
            .await?
            .ok_or_else(|| RegistryError::conflict(format!("robot {full} already exists")))?;
        self.audit(who, "create", "robot", &full, ip);
        let robot = self
            .identity
            .robot_by_id(id)
            .await?
            .ok_or_else(|| RegistryError::Internal("robot vanished".into()))?;
        Ok((robot, secret))
    }

    /// The robot, if `who` may manage it.
    async fn robot_for(&self, who: &Principal, id: i64, action: Action) -> Result<Robot> {
        let robot = self
            .identity
            .robot_by_id(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("robot {id} not found")))?;
        match robot.project_id {
            Some(pid) if !who.is_sysadmin() => {
                self.project_for(who, &pid.to_string(), action).await?;
            }
            _ => self.require_sysadmin(who)?,
        }
        Ok(robot)
    }

    pub async fn list_robots(&self, who: &Principal, project: Option<&str>) -> Result<Vec<Robot>> {
        match project {
            Some(p) => {
                let p = self.project_for(who, p, Action::ReadRobots).await?;
                Ok(self.identity.list_robots(Some(p.id)).await?)
            }
            None => {
                self.require_sysadmin(who)?;
                Ok(self.identity.list_robots(None).await?)
            }
        }
    }

    pub async fn robot(&self, who: &Principal, id: i64) -> Result<Robot> {
        self.robot_for(who, id, Action::ReadRobots).await
    }

    pub async fn update_robot(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        update: &RobotUpdate,
    ) -> Result<()> {
        let robot = self.robot_for(who, id, Action::ManageRobots).await?;
        let permissions = update.permissions.as_ref().unwrap_or(&robot.permissions);
        if robot.level == "project" {
            let grants = robot_grants(permissions).map_err(RegistryError::bad_request)?;
            let project = self
                .project(&robot.project_id.unwrap_or_default().to_string())
                .await?;
            if grants.len() != 1 || grants[0].namespace != project.name {
                return Err(RegistryError::bad_request(format!(
                    "a robot of project {} may only hold permissions in it",
                    project.name
                )));
            }
        }
        let expires_at = match update.duration {
            Some(d) if d < 0 => -1,
            Some(d) => robot.created_at + d * 86_400,
            None => robot.expires_at,
        };
        self.identity
            .update_robot(
                id,
                &update.description,
                update.disable,
                permissions,
                expires_at,
            )
            .await?;
        self.forget_credentials();
        self.audit(who, "update", "robot", &robot.name, ip);
        Ok(())
    }

    pub async fn delete_robot(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        let robot = self.robot_for(who, id, Action::ManageRobots).await?;
        self.identity.delete_robot(id).await?;
        self.forget_credentials();
        self.audit(who, "delete", "robot", &robot.name, ip);
        Ok(())
    }

    /// A new secret: the given one (checked like a password) or a generated one.
    pub async fn refresh_robot_secret(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        secret: Option<&str>,
    ) -> Result<String> {
        let robot = self.robot_for(who, id, Action::ManageRobots).await?;
        let secret = match secret {
            Some(s) => {
                check_password(s)?;
                s.to_string()
            }
            None => password::generate_secret(),
        };
        let s = secret.clone();
        let hash = hash_secret(s).await?;
        self.identity.set_robot_secret(id, &hash).await?;
        self.forget_credentials();
        self.audit(who, "update", "robot", &robot.name, ip);
        Ok(secret)
    }

    // ---- audit log

    pub async fn audit_log(
        &self,
        who: &Principal,
        project: Option<&str>,
        page: PageReq,
    ) -> Result<(Vec<crate::metadata::identity::AuditEntry>, i64)> {
        match project {
            Some(p) => {
                let p = self.project_for(who, p, Action::ReadLogs).await?;
                Ok(self.identity.list_audit(Some(&p.name), page).await?)
            }
            None => {
                self.require_sysadmin(who)?;
                Ok(self.identity.list_audit(None, page).await?)
            }
        }
    }
}
