//! Robot accounts: project-level or system-level, with Harbor-style permissions.

use super::{Identity, RobotSpec, RobotUpdate, check_password, hash_secret, valid_account_name};
use crate::auth::Principal;
use crate::auth::rbac::{Action, SystemAction};
use crate::auth::{password, robot_grants};
use crate::error::{RegistryError, Result};
use crate::metadata::identity::AuditFilter;
use crate::metadata::identity::{NewRobot, PageReq, Project, Robot};
use crate::metadata::now;

impl Identity {
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
                self.access
                    .require_system(who, SystemAction::ManageSystemRobots)?;
                Ok(None)
            }
            "project" => {
                let [grant] = grants.as_slice() else {
                    return Err(RegistryError::bad_request(
                        "a project-level robot has exactly one permission entry, for its project",
                    ));
                };
                Ok(Some(
                    self.access
                        .project_for(who, &grant.namespace, Action::ManageRobots)
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
            .store
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
        self.access.audit(who, "create", "robot", &full, ip);
        let robot = self
            .store
            .robot_by_id(id)
            .await?
            .ok_or_else(|| RegistryError::Internal("robot vanished".into()))?;
        Ok((robot, secret))
    }

    /// The robot, if `who` may manage it.
    async fn robot_for(&self, who: &Principal, id: i64, action: Action) -> Result<Robot> {
        let robot = self
            .store
            .robot_by_id(id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("robot {id} not found")))?;
        match robot.project_id {
            // A project's robot is the project's business (system admins may act in every project).
            Some(pid) => {
                self.access
                    .project_for(who, &pid.to_string(), action)
                    .await?;
            }
            None => self
                .access
                .require_system(who, SystemAction::ManageSystemRobots)?,
        }
        Ok(robot)
    }

    pub async fn list_robots(&self, who: &Principal, project: Option<&str>) -> Result<Vec<Robot>> {
        match project {
            Some(p) => {
                let p = self.access.project_for(who, p, Action::ReadRobots).await?;
                Ok(self.store.list_robots(Some(p.id)).await?)
            }
            None => {
                self.access
                    .require_system(who, SystemAction::ManageSystemRobots)?;
                Ok(self.store.list_robots(None).await?)
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
                .access
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
        self.store
            .update_robot(
                id,
                &update.description,
                update.disable,
                permissions,
                expires_at,
            )
            .await?;
        self.access.forget_credentials();
        self.access.audit(who, "update", "robot", &robot.name, ip);
        Ok(())
    }

    pub async fn delete_robot(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        let robot = self.robot_for(who, id, Action::ManageRobots).await?;
        self.store.delete_robot(id).await?;
        self.access.forget_credentials();
        self.access.audit(who, "delete", "robot", &robot.name, ip);
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
        self.store.set_robot_secret(id, &hash).await?;
        self.access.forget_credentials();
        self.access.audit(who, "update", "robot", &robot.name, ip);
        Ok(secret)
    }

    pub async fn audit_log(
        &self,
        who: &Principal,
        project: Option<&str>,
        page: PageReq,
    ) -> Result<(Vec<crate::metadata::identity::AuditEntry>, i64)> {
        match project {
            Some(p) => {
                let p = self.access.project_for(who, p, Action::ReadLogs).await?;
                Ok(self
                    .store
                    .list_audit(&AuditFilter::project(&p.name), page)
                    .await?)
            }
            None => {
                self.search_audit_log(who, &AuditFilter::default(), page)
                    .await
            }
        }
    }

    /// The whole registry's audit log, narrowed by `filter` (system administrators).
    pub async fn search_audit_log(
        &self,
        who: &Principal,
        filter: &AuditFilter,
        page: PageReq,
    ) -> Result<(Vec<crate::metadata::identity::AuditEntry>, i64)> {
        self.access
            .require_system(who, SystemAction::ReadAuditLog)?;
        Ok(self.store.list_audit(filter, page).await?)
    }
}
