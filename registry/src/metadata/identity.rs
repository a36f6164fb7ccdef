//! Who may do what: users, projects, members, robots, the audit log and server
//! secrets. A second store trait beside [`super::MetadataStore`], implemented
//! by the same backends and held to its own sections of the conformance suite.

use std::collections::HashMap;

use async_trait::async_trait;

use super::Result;
use crate::auth::rbac::{ActionSet, Grant, RoleDef, RoleId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub realname: Option<String>,
    pub sysadmin: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub email: Option<&'a str>,
    pub realname: Option<&'a str>,
    pub sysadmin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub public: bool,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub repo_count: i64,
}

/// A principal's standing in one project, fetched in one query per check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectAccess {
    pub project_id: i64,
    pub public: bool,
    /// What the principal's memberships (own and groups') grant.
    pub grant: Grant,
}

/// What a project member is: Harbor's `entity_type` `u` or `g`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    User,
    Group,
}

impl EntityType {
    /// Harbor's letter for it.
    pub fn letter(self) -> &'static str {
        match self {
            EntityType::User => "u",
            EntityType::Group => "g",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: i64,
    pub project_id: i64,
    pub entity_type: EntityType,
    /// The user's or the group's id.
    pub entity_id: i64,
    /// The user's name, or the group's.
    pub entity_name: String,
    pub role: RoleId,
    pub role_name: String,
}

/// Why a custom role was not deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleDeletion {
    Deleted,
    NotFound,
    /// Members (users or groups) of some project still hold it.
    InUse,
}

/// Harbor's user group types.
pub const GROUP_TYPE_LDAP: i64 = 1;
pub const GROUP_TYPE_OIDC: i64 = 3;

/// A user group: an LDAP group named by its DN, or an OIDC group by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserGroup {
    pub id: i64,
    pub group_name: String,
    pub group_type: i64,
    /// Empty for groups that are not LDAP groups.
    pub ldap_group_dn: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Robot {
    pub id: i64,
    /// Full name, `robot$name` or `robot$project+name`.
    pub name: String,
    pub description: String,
    /// `system` or `project`.
    pub level: String,
    pub project_id: Option<i64>,
    /// Harbor's `permissions` array, as JSON.
    pub permissions: serde_json::Value,
    pub disabled: bool,
    /// Unix seconds; -1 never expires.
    pub expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewRobot<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub level: &'a str,
    pub project_id: Option<i64>,
    pub secret_hash: &'a str,
    pub permissions: &'a serde_json::Value,
    pub disabled: bool,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub op_time: i64,
    pub username: String,
    pub operation: String,
    pub resource_type: String,
    pub resource: String,
    pub project: Option<String>,
    pub client_ip: Option<String>,
}

/// Which audit entries a listing shows: `project` and `operation` exactly,
/// `username` and `resource` as substrings (Harbor's `=~`), `resource_type` exactly.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub project: Option<String>,
    pub username: Option<String>,
    pub operation: Option<String>,
    pub resource_type: Option<String>,
    pub resource: Option<String>,
}

impl AuditFilter {
    pub fn project(name: &str) -> Self {
        AuditFilter {
            project: Some(name.to_string()),
            ..Default::default()
        }
    }
}

/// Paging for management listings: 1-based page, and the total count.
#[derive(Debug, Clone, Copy)]
pub struct PageReq {
    pub page: u32,
    pub page_size: u32,
}

impl PageReq {
    pub fn offset(&self) -> i64 {
        (self.page.max(1) as i64 - 1) * self.page_size as i64
    }
}

#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// `None` if the name is taken.
    async fn create_user(&self, user: NewUser<'_>) -> Result<Option<i64>>;
    /// The user and their password hash.
    async fn user_by_name(&self, username: &str) -> Result<Option<(User, String)>>;
    async fn user_by_id(&self, id: i64) -> Result<Option<(User, String)>>;
    /// Users by id; `name`: only those whose name contains it.
    async fn list_users(&self, name: Option<&str>, page: PageReq) -> Result<(Vec<User>, i64)>;
    async fn set_password(&self, id: i64, password_hash: &str) -> Result<bool>;
    async fn set_sysadmin(&self, id: i64, sysadmin: bool) -> Result<bool>;
    async fn delete_user(&self, id: i64) -> Result<bool>;
    async fn count_users(&self) -> Result<i64>;

    /// `None` if the name is taken.
    async fn create_project(
        &self,
        name: &str,
        public: bool,
        owner_id: Option<i64>,
    ) -> Result<Option<i64>>;
    async fn project_by_name(&self, name: &str) -> Result<Option<Project>>;
    async fn project_by_id(&self, id: i64) -> Result<Option<Project>>;
    /// Projects visible to `viewer` (all for `None` = sysadmin): public ones and those they are a member of.
    async fn list_projects(
        &self,
        viewer: Option<i64>,
        name: Option<&str>,
        page: PageReq,
    ) -> Result<(Vec<Project>, i64)>;
    async fn set_project_public(&self, id: i64, public: bool) -> Result<bool>;
    /// Refused (false) while the project has repositories.
    async fn delete_project(&self, id: i64) -> Result<bool>;
    /// Project visibility and what the user holds in it (`user_id` None: anonymous):
    /// the union of their own role and the roles of the groups they belong to.
    /// (The same read as `project_with_access`: one statement per backend.)
    async fn project_access(
        &self,
        project: &str,
        user_id: Option<i64>,
    ) -> Result<Option<ProjectAccess>> {
        Ok(self
            .project_with_access(project, user_id)
            .await?
            .map(|(_, access)| access))
    }
    /// The project named `name` and what `user_id` holds in it (as `project_access`),
    /// in one read: the check that starts every project-scoped request.
    async fn project_with_access(
        &self,
        name: &str,
        user_id: Option<i64>,
    ) -> Result<Option<(Project, ProjectAccess)>>;
    /// The role to show for the user (the one granting most, of their own and their
    /// groups') in each of the given projects they are a member of.
    async fn member_roles(&self, user_id: i64, project_ids: &[i64])
    -> Result<HashMap<i64, RoleId>>;

    /// `None` if the user is already a member.
    async fn add_member(&self, project_id: i64, user_id: i64, role: RoleId) -> Result<Option<i64>>;
    async fn list_members(&self, project_id: i64) -> Result<Vec<Member>>;
    async fn member(&self, project_id: i64, member_id: i64) -> Result<Option<Member>>;
    async fn update_member(&self, project_id: i64, member_id: i64, role: RoleId) -> Result<bool>;
    async fn remove_member(&self, project_id: i64, member_id: i64) -> Result<bool>;

    /// `None` if the name is taken.
    async fn create_robot(&self, robot: NewRobot<'_>) -> Result<Option<i64>>;
    /// The robot and its secret hash.
    async fn robot_by_name(&self, name: &str) -> Result<Option<(Robot, String)>>;
    async fn robot_by_id(&self, id: i64) -> Result<Option<Robot>>;
    async fn list_robots(&self, project_id: Option<i64>) -> Result<Vec<Robot>>;
    async fn update_robot(
        &self,
        id: i64,
        description: &str,
        disabled: bool,
        permissions: &serde_json::Value,
        expires_at: i64,
    ) -> Result<bool>;
    async fn set_robot_secret(&self, id: i64, secret_hash: &str) -> Result<bool>;
    async fn delete_robot(&self, id: i64) -> Result<bool>;

    /// `None` if the group's DN (LDAP) or name (other types) is taken.
    async fn create_group(
        &self,
        group_name: &str,
        group_type: i64,
        ldap_group_dn: &str,
    ) -> Result<Option<i64>>;
    async fn group_by_id(&self, id: i64) -> Result<Option<UserGroup>>;
    /// LDAP groups by DN, compared without regard to case.
    async fn groups_by_dn(&self, dns: &[String]) -> Result<Vec<UserGroup>>;
    /// Groups whose name contains `name` (all when `None`), by id.
    async fn list_groups(&self, name: Option<&str>, page: PageReq)
    -> Result<(Vec<UserGroup>, i64)>;
    async fn rename_group(&self, id: i64, group_name: &str) -> Result<bool>;
    /// Also removes the group from every project.
    async fn delete_group(&self, id: i64) -> Result<bool>;
    /// Replace the groups a user belongs to (as the directory said at login).
    async fn set_user_groups(&self, user_id: i64, group_ids: &[i64]) -> Result<()>;
    async fn user_groups(&self, user_id: i64) -> Result<Vec<i64>>;
    /// `None` if the group is already a member.
    async fn add_group_member(
        &self,
        project_id: i64,
        group_id: i64,
        role: RoleId,
    ) -> Result<Option<i64>>;

    /// Custom project roles (the built-in ones live in the permission table), by id.
    async fn list_roles(&self) -> Result<Vec<RoleDef>>;
    async fn role_by_id(&self, id: i64) -> Result<Option<RoleDef>>;
    /// `None` if the name is taken.
    async fn create_role(
        &self,
        name: &str,
        description: &str,
        actions: ActionSet,
    ) -> Result<Option<i64>>;
    /// `None` if the new name is taken, `Some(false)` if there is no such role.
    async fn update_role(
        &self,
        id: i64,
        name: &str,
        description: &str,
        actions: ActionSet,
    ) -> Result<Option<bool>>;
    async fn delete_role(&self, id: i64) -> Result<RoleDeletion>;

    /// A stored configuration value (JSON text), by Harbor's item name.
    async fn configuration(&self, name: &str) -> Result<Option<String>>;
    /// Set several items at once (all or none).
    async fn set_configuration(&self, items: &[(String, String)]) -> Result<()>;

    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<()>;
    /// Newest first, narrowed by `filter` (every field given must hold).
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageReq,
    ) -> Result<(Vec<AuditEntry>, i64)>;
}
