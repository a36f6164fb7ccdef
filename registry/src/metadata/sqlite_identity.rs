//! [`IdentityStore`] on SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;

use super::columns::Columns;
use super::identity::{
    AuditEntry, AuditFilter, EntityType, IdentityStore, Member, NewRobot, NewUser, PageReq,
    Project, ProjectAccess, Robot, RoleDeletion, User, UserGroup,
};
use super::sqlite::paged;
use super::{MetadataError, Result, SqliteMetadata, now};
use crate::auth::rbac::{ActionSet, Grant, RoleDef, RoleId};

/// Unique-constraint violations become `None` ("name taken"), not errors.
pub(super) fn unless_taken<T>(r: std::result::Result<T, sqlx::Error>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn user(r: &impl Columns) -> Result<User> {
    Ok(User {
        id: r.col("id")?,
        username: r.col("username")?,
        email: r.col("email")?,
        realname: r.col("realname")?,
        sysadmin: r.col::<i64>("sysadmin")? != 0,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

/// A custom role's stored action names (a JSON array), as a set.
pub(super) fn stored_actions(json: &str) -> serde_json::Result<ActionSet> {
    let names: Vec<String> = serde_json::from_str(json)?;
    Ok(ActionSet::parse_known(names.iter().map(String::as_str)))
}

/// What a role grants: a built-in role's column of the permission table, or a
/// custom role's stored actions (`None` if no such role).
pub(super) fn role_actions(id: i64, custom: Option<&str>) -> ActionSet {
    match RoleId(id).builtin() {
        Some(r) => ActionSet::of_role(r),
        None => custom
            .and_then(|json| stored_actions(json).ok())
            .unwrap_or_default(),
    }
}

/// A role id and its name: a built-in role's own, a custom role's stored one.
pub(super) fn role_name(id: i64, custom: Option<String>) -> String {
    match RoleId(id).builtin() {
        Some(r) => r.name().to_string(),
        None => custom.unwrap_or_else(|| format!("role {id}")),
    }
}

pub(super) fn custom_role(r: &impl Columns) -> Result<RoleDef> {
    let actions: String = r.col("actions")?;
    Ok(RoleDef {
        id: RoleId(r.col("id")?),
        name: r.col("name")?,
        description: r.col("description")?,
        actions: stored_actions(&actions)
            .map_err(|e| MetadataError::Corrupt(format!("role actions: {e}")))?,
        builtin: false,
    })
}

/// The grant of several memberships: (role id, a custom role's stored actions).
pub(super) fn grant(memberships: &[(i64, Option<String>)]) -> Grant {
    let mut g = Grant::default();
    for (id, custom) in memberships {
        g.add(RoleId(*id), role_actions(*id, custom.as_deref()));
    }
    g
}

pub(super) const PROJECT_COLUMNS: &str =
    "p.id, p.name, p.public, p.owner_id, u.username AS owner_name, p.created_at, p.updated_at,
    (SELECT count(*) FROM repositories r WHERE r.project_id = p.id) AS repo_count";

/// The `roles` column of `project_access`: what the user's memberships (own, `?1`,
/// and their groups') grant in project `p`, as JSON pairs of role and actions.
fn roles_column() -> String {
    format!(
        "(SELECT json_group_array(json_array(role_id, actions)) FROM ({}) WHERE project_id = p.id) AS roles",
        user_grants()
    )
}

/// A project's visibility and what the user holds in it, from the `id`, `public`
/// and `roles` columns that both stores' `project_access` read.
pub(super) fn access_of(id: i64, public: i64, roles: &str) -> Result<ProjectAccess> {
    let roles: Vec<(i64, Option<String>)> =
        serde_json::from_str(roles).map_err(|e| MetadataError::Corrupt(e.to_string()))?;
    Ok(ProjectAccess {
        project_id: id,
        public: public != 0,
        grant: grant(&roles),
    })
}

/// [`access_of`] a row with `id`, `public` and [`roles_column`].
pub(super) fn project_access(r: &impl Columns) -> Result<ProjectAccess> {
    access_of(r.col("id")?, r.col("public")?, &r.col::<String>("roles")?)
}

pub(super) fn project(r: &impl Columns) -> Result<Project> {
    Ok(Project {
        id: r.col("id")?,
        name: r.col("name")?,
        public: r.col::<i64>("public")? != 0,
        owner_id: r.col("owner_id")?,
        owner_name: r.col("owner_name")?,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
        repo_count: r.col("repo_count")?,
    })
}

/// Members with their user's or group's name (the columns [`member`] reads).
pub(super) const MEMBER_SELECT: &str =
    "SELECT m.id, m.project_id, m.user_id, m.group_id, m.role_id,
    coalesce(u.username, g.group_name) AS entity_name, r.name AS role_name FROM project_members m
    LEFT JOIN users u ON u.id = m.user_id LEFT JOIN user_groups g ON g.id = m.group_id
    LEFT JOIN roles r ON r.id = m.role_id";

pub(super) fn member(r: &impl Columns) -> Result<Member> {
    let (entity_type, entity_id) = match r.col::<Option<i64>>("user_id")? {
        Some(id) => (EntityType::User, id),
        None => (EntityType::Group, r.col("group_id")?),
    };
    Ok(Member {
        id: r.col("id")?,
        project_id: r.col("project_id")?,
        entity_type,
        entity_id,
        entity_name: r.col("entity_name")?,
        role: RoleId(r.col("role_id")?),
        role_name: role_name(r.col("role_id")?, r.col("role_name")?),
    })
}

pub(super) fn group(r: &impl Columns) -> Result<UserGroup> {
    Ok(UserGroup {
        id: r.col("id")?,
        group_name: r.col("group_name")?,
        group_type: r.col("group_type")?,
        ldap_group_dn: r.col("ldap_group_dn")?,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

/// A user's memberships: their own rows and those of the groups they belong to.
const USER_MEMBERSHIPS: &str = "SELECT project_id, role_id FROM project_members WHERE user_id = ?1
    UNION ALL SELECT m.project_id, m.role_id FROM project_members m
    JOIN user_group_users ug ON ug.group_id = m.group_id WHERE ug.user_id = ?1";

/// [`USER_MEMBERSHIPS`] with each custom role's actions (NULL for built-in roles).
const USER_GRANTS: &str =
    "SELECT um.project_id, um.role_id, cr.actions FROM ({USER_MEMBERSHIPS}) um
    LEFT JOIN roles cr ON cr.id = um.role_id";

fn user_grants() -> String {
    USER_GRANTS.replace("{USER_MEMBERSHIPS}", USER_MEMBERSHIPS)
}

pub(super) fn robot(r: &impl Columns) -> Result<Robot> {
    let permissions: String = r.col("permissions")?;
    Ok(Robot {
        id: r.col("id")?,
        name: r.col("name")?,
        description: r.col("description")?,
        level: r.col("level")?,
        project_id: r.col("project_id")?,
        permissions: serde_json::from_str(&permissions)
            .map_err(|e| MetadataError::Corrupt(e.to_string()))?,
        disabled: r.col::<i64>("disabled")? != 0,
        expires_at: r.col("expires_at")?,
        created_at: r.col("created_at")?,
        updated_at: r.col("updated_at")?,
    })
}

pub(super) fn audit(r: &impl Columns) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.col("id")?,
        op_time: r.col("op_time")?,
        username: r.col("username")?,
        operation: r.col("operation")?,
        resource_type: r.col("resource_type")?,
        resource: r.col("resource")?,
        project: r.col("project")?,
        client_ip: r.col("client_ip")?,
    })
}

/// Binds an audit listing's five filters in the order both backends' queries
/// number them (project, username, operation, resource type, resource), so the
/// page query and its count query cannot bind them differently; on either
/// backend (`sqlx::query` of SQLite or of PostgreSQL).
pub(super) fn bind_audit_filter<'q, DB: sqlx::Database>(
    query: sqlx::query::Query<'q, DB, DB::Arguments>,
    filter: &'q AuditFilter,
) -> sqlx::query::Query<'q, DB, DB::Arguments>
where
    &'q Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query
        .bind(&filter.project)
        .bind(&filter.username)
        .bind(&filter.operation)
        .bind(&filter.resource_type)
        .bind(&filter.resource)
}

#[async_trait]
impl IdentityStore for SqliteMetadata {
    async fn create_user(&self, u: NewUser<'_>) -> Result<Option<i64>> {
        let now = now();
        let r = sqlx::query(
            "INSERT INTO users (username, password_hash, email, realname, sysadmin, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(u.username)
        .bind(u.password_hash)
        .bind(u.email)
        .bind(u.realname)
        .bind(u.sysadmin as i64)
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await;
        Ok(unless_taken(r)?.map(|done| done.last_insert_rowid()))
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((user(&r)?, r.try_get("password_hash")?)))
            .transpose()
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<(User, String)>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((user(&r)?, r.try_get("password_hash")?)))
            .transpose()
    }

    async fn list_users(&self, name: Option<&str>, page: PageReq) -> Result<(Vec<User>, i64)> {
        let rows = sqlx::query(paged(
            "SELECT * FROM users WHERE ?1 IS NULL OR instr(username, ?1) > 0 ORDER BY id",
            page,
        ))
        .bind(name)
        .fetch_all(&self.read)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE ?1 IS NULL OR instr(username, ?1) > 0",
        )
        .bind(name)
        .fetch_one(&self.read)
        .await?;
        Ok((rows.iter().map(user).collect::<Result<_>>()?, total))
    }

    async fn set_password(&self, id: i64, password_hash: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
            .bind(password_hash)
            .bind(now())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_sysadmin(&self, id: i64, sysadmin: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET sysadmin = ?, updated_at = ? WHERE id = ?")
            .bind(sysadmin as i64)
            .bind(now())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.read)
            .await?)
    }

    async fn create_project(
        &self,
        name: &str,
        public: bool,
        owner_id: Option<i64>,
    ) -> Result<Option<i64>> {
        let now = now();
        let mut tx = self.write.begin().await?;
        let r = sqlx::query("INSERT INTO projects (name, public, owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
            .bind(name)
            .bind(public as i64)
            .bind(owner_id)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await;
        let Some(id) = unless_taken(r)?.map(|done| done.last_insert_rowid()) else {
            return Ok(None);
        };
        // Repositories pushed before the project existed (access control off)
        // join it now. `name/` ≤ repository < `name0` is exactly the names that
        // start with `name/` ('0' follows '/'), and lets the name index answer.
        sqlx::query(
            "UPDATE repositories SET project_id = ?1
             WHERE project_id IS NULL AND name >= ?2 || '/' AND name < ?2 || '0'",
        )
        .bind(id)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    async fn project_by_name(&self, name: &str) -> Result<Option<Project>> {
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p LEFT JOIN users u ON u.id = p.owner_id WHERE p.name = ?"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| project(&r)).transpose()
    }

    async fn project_by_id(&self, id: i64) -> Result<Option<Project>> {
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p LEFT JOIN users u ON u.id = p.owner_id WHERE p.id = ?"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| project(&r)).transpose()
    }

    async fn list_projects(
        &self,
        viewer: Option<i64>,
        name: Option<&str>,
        page: PageReq,
    ) -> Result<(Vec<Project>, i64)> {
        let filter = "(?1 IS NULL OR p.public = 1 OR EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = p.id AND (m.user_id = ?1
                        OR m.group_id IN (SELECT group_id FROM user_group_users WHERE user_id = ?1))))
                      AND (?2 IS NULL OR instr(p.name, lower(?2)) > 0)";
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p LEFT JOIN users u ON u.id = p.owner_id WHERE {filter} ORDER BY p.name"
        );
        let rows = sqlx::query(paged(&sql, page))
            .bind(viewer)
            .bind(name)
            .fetch_all(&self.read)
            .await?;
        let count_sql = format!("SELECT count(*) FROM projects p WHERE {filter}");
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
            .bind(viewer)
            .bind(name)
            .fetch_one(&self.read)
            .await?;
        Ok((rows.iter().map(project).collect::<Result<_>>()?, total))
    }

    async fn set_project_public(&self, id: i64, public: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE projects SET public = ?, updated_at = ? WHERE id = ?")
            .bind(public as i64)
            .bind(now())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_project(&self, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM projects WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM repositories r WHERE r.project_id = ?1)",
        )
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn project_with_access(
        &self,
        name: &str,
        user_id: Option<i64>,
    ) -> Result<Option<(Project, ProjectAccess)>> {
        let sql = format!(
            "SELECT {PROJECT_COLUMNS}, {}
             FROM projects p LEFT JOIN users u ON u.id = p.owner_id WHERE p.name = ?2",
            roles_column()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((project(&r)?, project_access(&r)?)))
            .transpose()
    }

    async fn member_roles(
        &self,
        user_id: i64,
        project_ids: &[i64],
    ) -> Result<HashMap<i64, RoleId>> {
        if project_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = serde_json::to_string(project_ids).expect("ids serialize");
        let sql = format!(
            "SELECT project_id, role_id, actions FROM ({}) WHERE project_id IN (SELECT value FROM json_each(?2))",
            user_grants()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(ids)
            .fetch_all(&self.read)
            .await?;
        let mut by_project: HashMap<i64, Vec<(i64, Option<String>)>> = HashMap::new();
        for r in &rows {
            by_project
                .entry(r.try_get("project_id")?)
                .or_default()
                .push((r.try_get("role_id")?, r.try_get("actions")?));
        }
        Ok(by_project
            .into_iter()
            .filter_map(|(project, roles)| grant(&roles).role.map(|r| (project, r)))
            .collect())
    }

    async fn add_member(&self, project_id: i64, user_id: i64, role: RoleId) -> Result<Option<i64>> {
        let r = sqlx::query("INSERT INTO project_members (project_id, user_id, role_id, created_at) VALUES (?, ?, ?, ?)")
            .bind(project_id)
            .bind(user_id)
            .bind(role.0)
            .bind(now())
            .execute(&self.write)
            .await;
        Ok(unless_taken(r)?.map(|done| done.last_insert_rowid()))
    }

    async fn list_members(&self, project_id: i64) -> Result<Vec<Member>> {
        let sql = format!("{MEMBER_SELECT} WHERE m.project_id = ? ORDER BY m.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(member).collect()
    }

    async fn member(&self, project_id: i64, member_id: i64) -> Result<Option<Member>> {
        let sql = format!("{MEMBER_SELECT} WHERE m.project_id = ? AND m.id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .bind(member_id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| member(&r)).transpose()
    }

    async fn update_member(&self, project_id: i64, member_id: i64, role: RoleId) -> Result<bool> {
        let done =
            sqlx::query("UPDATE project_members SET role_id = ? WHERE project_id = ? AND id = ?")
                .bind(role.0)
                .bind(project_id)
                .bind(member_id)
                .execute(&self.write)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_member(&self, project_id: i64, member_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM project_members WHERE project_id = ? AND id = ?")
            .bind(project_id)
            .bind(member_id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_robot(&self, r: NewRobot<'_>) -> Result<Option<i64>> {
        let now = now();
        let res = sqlx::query(
            "INSERT INTO robots (name, description, level, project_id, secret_hash, permissions, disabled, expires_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.name)
        .bind(r.description)
        .bind(r.level)
        .bind(r.project_id)
        .bind(r.secret_hash)
        .bind(r.permissions.to_string())
        .bind(r.disabled as i64)
        .bind(r.expires_at)
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await;
        Ok(unless_taken(res)?.map(|done| done.last_insert_rowid()))
    }

    async fn robot_by_name(&self, name: &str) -> Result<Option<(Robot, String)>> {
        let row = sqlx::query("SELECT * FROM robots WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((robot(&r)?, r.try_get("secret_hash")?)))
            .transpose()
    }

    async fn robot_by_id(&self, id: i64) -> Result<Option<Robot>> {
        let row = sqlx::query("SELECT * FROM robots WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| robot(&r)).transpose()
    }

    async fn list_robots(&self, project_id: Option<i64>) -> Result<Vec<Robot>> {
        let rows =
            sqlx::query("SELECT * FROM robots WHERE ?1 IS NULL OR project_id = ?1 ORDER BY id")
                .bind(project_id)
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(robot).collect()
    }

    async fn update_robot(
        &self,
        id: i64,
        description: &str,
        disabled: bool,
        permissions: &serde_json::Value,
        expires_at: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE robots SET description = ?, disabled = ?, permissions = ?, expires_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(description)
        .bind(disabled as i64)
        .bind(permissions.to_string())
        .bind(expires_at)
        .bind(now())
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_robot_secret(&self, id: i64, secret_hash: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE robots SET secret_hash = ?, updated_at = ? WHERE id = ?")
            .bind(secret_hash)
            .bind(now())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_robot(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM robots WHERE id = ?")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_group(
        &self,
        group_name: &str,
        group_type: i64,
        ldap_group_dn: &str,
    ) -> Result<Option<i64>> {
        let now = now();
        let r = sqlx::query("INSERT INTO user_groups (group_name, group_type, ldap_group_dn, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
            .bind(group_name)
            .bind(group_type)
            .bind(ldap_group_dn)
            .bind(now)
            .bind(now)
            .execute(&self.write)
            .await;
        Ok(unless_taken(r)?.map(|done| done.last_insert_rowid()))
    }

    async fn group_by_id(&self, id: i64) -> Result<Option<UserGroup>> {
        let row = sqlx::query("SELECT * FROM user_groups WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| group(&r)).transpose()
    }

    async fn groups_by_dn(&self, dns: &[String]) -> Result<Vec<UserGroup>> {
        if dns.is_empty() {
            return Ok(Vec::new());
        }
        let dns = serde_json::to_string(dns).expect("strings serialize");
        let rows = sqlx::query(
            "SELECT * FROM user_groups WHERE group_type = 1
             AND lower(ldap_group_dn) IN (SELECT lower(value) FROM json_each(?)) ORDER BY id",
        )
        .bind(dns)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(group).collect()
    }

    async fn list_groups(
        &self,
        name: Option<&str>,
        page: PageReq,
    ) -> Result<(Vec<UserGroup>, i64)> {
        let filter = "(?1 IS NULL OR instr(lower(group_name), lower(?1)) > 0)";
        let sql = format!("SELECT * FROM user_groups WHERE {filter} ORDER BY id");
        let rows = sqlx::query(paged(&sql, page))
            .bind(name)
            .fetch_all(&self.read)
            .await?;
        let count = format!("SELECT count(*) FROM user_groups WHERE {filter}");
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
            .bind(name)
            .fetch_one(&self.read)
            .await?;
        Ok((rows.iter().map(group).collect::<Result<_>>()?, total))
    }

    async fn rename_group(&self, id: i64, group_name: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE user_groups SET group_name = ?, updated_at = ? WHERE id = ?")
                .bind(group_name)
                .bind(now())
                .bind(id)
                .execute(&self.write)
                .await;
        Ok(unless_taken(done)?.is_some_and(|d| d.rows_affected() > 0))
    }

    async fn delete_group(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM user_groups WHERE id = ?")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_user_groups(&self, user_id: i64, group_ids: &[i64]) -> Result<()> {
        let ids = serde_json::to_string(group_ids).expect("ids serialize");
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM user_group_users WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT OR IGNORE INTO user_group_users (user_id, group_id)
             SELECT ?, id FROM user_groups WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(user_id)
        .bind(ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn user_groups(&self, user_id: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT group_id FROM user_group_users WHERE user_id = ? ORDER BY group_id",
        )
        .bind(user_id)
        .fetch_all(&self.read)
        .await?)
    }

    async fn add_group_member(
        &self,
        project_id: i64,
        group_id: i64,
        role: RoleId,
    ) -> Result<Option<i64>> {
        let r = sqlx::query("INSERT INTO project_members (project_id, group_id, role_id, created_at) VALUES (?, ?, ?, ?)")
            .bind(project_id)
            .bind(group_id)
            .bind(role.0)
            .bind(now())
            .execute(&self.write)
            .await;
        Ok(unless_taken(r)?.map(|done| done.last_insert_rowid()))
    }

    async fn list_roles(&self) -> Result<Vec<RoleDef>> {
        let rows = sqlx::query("SELECT id, name, description, actions FROM roles ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(custom_role).collect()
    }

    async fn role_by_id(&self, id: i64) -> Result<Option<RoleDef>> {
        let row = sqlx::query("SELECT id, name, description, actions FROM roles WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| custom_role(&r)).transpose()
    }

    async fn create_role(
        &self,
        name: &str,
        description: &str,
        actions: ActionSet,
    ) -> Result<Option<i64>> {
        let t = now();
        let r = sqlx::query(
            "INSERT INTO roles (name, description, actions, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(name)
        .bind(description)
        .bind(serde_json::to_string(&actions.names()).expect("names serialize"))
        .bind(t)
        .bind(t)
        .execute(&self.write)
        .await;
        Ok(unless_taken(r)?.map(|done| done.last_insert_rowid()))
    }

    async fn update_role(
        &self,
        id: i64,
        name: &str,
        description: &str,
        actions: ActionSet,
    ) -> Result<Option<bool>> {
        let r = sqlx::query(
            "UPDATE roles SET name = ?, description = ?, actions = ?, updated_at = ? WHERE id = ?",
        )
        .bind(name)
        .bind(description)
        .bind(serde_json::to_string(&actions.names()).expect("names serialize"))
        .bind(now())
        .bind(id)
        .execute(&self.write)
        .await;
        Ok(unless_taken(r)?.map(|done| done.rows_affected() > 0))
    }

    async fn delete_role(&self, id: i64) -> Result<RoleDeletion> {
        let done = sqlx::query(
            "DELETE FROM roles WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM project_members WHERE role_id = ?1)",
        )
        .bind(id)
        .execute(&self.write)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(RoleDeletion::Deleted);
        }
        Ok(if self.role_by_id(id).await?.is_some() {
            RoleDeletion::InUse
        } else {
            RoleDeletion::NotFound
        })
    }

    async fn configuration(&self, name: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM configurations WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn set_configuration(&self, items: &[(String, String)]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for (name, value) in items {
            sqlx::query(
                "INSERT INTO configurations (name, value) VALUES (?, ?)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch: pulls are audited too, at thousands a second.
        let rows: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!([
                    e.op_time,
                    e.username,
                    e.operation,
                    e.resource_type,
                    e.resource,
                    e.project,
                    e.client_ip
                ])
            })
            .collect();
        sqlx::query(
            "INSERT INTO audit_logs (op_time, username, operation, resource_type, resource, project, client_ip)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6
             FROM json_each(?) ORDER BY key",
        )
        .bind(serde_json::Value::Array(rows).to_string())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageReq,
    ) -> Result<(Vec<AuditEntry>, i64)> {
        // One text for both queries (sqlx takes only static SQL).
        macro_rules! filtered {
            ($head:literal, $tail:literal) => {
                concat!(
                    $head,
                    " FROM audit_logs WHERE (?1 IS NULL OR project = ?1) AND (?2 IS NULL OR instr(username, ?2) > 0) \
                     AND (?3 IS NULL OR operation = ?3) AND (?4 IS NULL OR resource_type = ?4) \
                     AND (?5 IS NULL OR instr(resource, ?5) > 0)",
                    $tail
                )
            };
        }
        let page_query = sqlx::query(paged(filtered!("SELECT *", " ORDER BY id DESC"), page));
        let rows = bind_audit_filter(page_query, filter)
            .fetch_all(&self.read)
            .await?;
        let total: i64 = bind_audit_filter(sqlx::query(filtered!("SELECT count(*)", "")), filter)
            .fetch_one(&self.read)
            .await?
            .try_get(0)?;
        Ok((rows.iter().map(audit).collect::<Result<_>>()?, total))
    }
}
