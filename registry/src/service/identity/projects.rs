//! Projects: created by users, public or private, deleted when empty.

use super::Identity;
use crate::auth::Principal;
use crate::auth::rbac::{Action, Role, SystemAction};
use crate::error::{ApiErrorKind, RegistryError, Result};
use crate::metadata::identity::{PageReq, Project};

impl Identity {
    pub async fn create_project(
        &self,
        who: &Principal,
        ip: Option<&str>,
        name: &str,
        public: bool,
    ) -> Result<i64> {
        self.access
            .require_system(who, SystemAction::CreateProject)?;
        if name.contains('/') || crate::names::RepoName::parse(name).is_err() || name.len() > 255 {
            return Err(RegistryError::bad_request(format!(
                "invalid project name {name:?}: lower-case letters, digits, '.', '_' and '-'"
            )));
        }
        let id = self
            .store
            .create_project(name, public, who.user_id())
            .await?
            .ok_or_else(|| RegistryError::conflict(format!("project {name} already exists")))?;
        if let Some(uid) = who.user_id() {
            self.store
                .add_member(id, uid, Role::ProjectAdmin.into())
                .await?;
        }
        self.access.audit(who, "create", "project", name, ip);
        Ok(id)
    }

    /// Creates project `name`, private, unless it exists; true when it was created.
    /// What a replication pulling into this registry does for a destination project
    /// that is missing, as Harbor's does: the registry itself creates it, so nobody
    /// becomes its member and only system administrators see it until members are added.
    pub async fn ensure_project(&self, name: &str) -> Result<Option<i64>> {
        if self.store.project_by_name(name).await?.is_some() {
            return Ok(None);
        }
        if crate::names::RepoName::parse(name).is_err() || name.contains('/') {
            return Err(RegistryError::bad_request(format!(
                "invalid project name {name:?}: lower-case letters, digits, '.', '_' and '-'"
            )));
        }
        // Another run may create it between the look-up and here: that is no failure.
        Ok(self.store.create_project(name, false, None).await?)
    }

    pub async fn list_projects(
        &self,
        who: &Principal,
        name: Option<&str>,
        page: PageReq,
    ) -> Result<(Vec<Project>, i64)> {
        let viewer = if who.may_system(SystemAction::SeeAllProjects) {
            None
        } else {
            Some(who.user_id().unwrap_or(-1))
        };
        Ok(self.store.list_projects(viewer, name, page).await?)
    }

    pub async fn update_project(
        &self,
        who: &Principal,
        ip: Option<&str>,
        reference: &str,
        public: bool,
    ) -> Result<()> {
        let p = self
            .access
            .project_for(who, reference, Action::UpdateProject)
            .await?;
        self.store.set_project_public(p.id, public).await?;
        self.access.audit(who, "update", "project", &p.name, ip);
        Ok(())
    }

    pub async fn delete_project(
        &self,
        who: &Principal,
        ip: Option<&str>,
        reference: &str,
    ) -> Result<()> {
        let p = self
            .access
            .project_for(who, reference, Action::DeleteProject)
            .await?;
        if !self.store.delete_project(p.id).await? {
            return Err(RegistryError::api(
                ApiErrorKind::Precondition,
                format!(
                    "project {} still has repositories; delete them first",
                    p.name
                ),
            ));
        }
        self.access.audit(who, "delete", "project", &p.name, ip);
        Ok(())
    }
}
