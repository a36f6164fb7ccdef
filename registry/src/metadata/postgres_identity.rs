//! [`IdentityStore`] on PostgreSQL: `sqlite_identity.rs`'s twin, in the same order.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;

use super::identity::{
    AuditEntry, AuditFilter, IdentityStore, Member, NewRobot, NewUser, PageReq, Project,
    ProjectAccess, Robot, RoleDeletion, User, UserGroup,
};
use super::sqlite::paged;
use super::sqlite_identity::{
    MEMBER_SELECT, audit, bind_audit_filter, custom_role, grant, group, member, project,
    project_access, robot, unless_taken, user,
};
use super::{PgMetadata, Result, now};
use crate::auth::rbac::{ActionSet, RoleDef, RoleId};

/// A project row as [`Project`] reads it. The repository count is the one the
/// triggers of migration 0011 keep: counted per project, a page of ten projects
/// of 100 repositories each read 1,000 index entries (and, for repositories
/// updated since the last vacuum, their rows) on every project list.
const PROJECT_COLUMNS: &str = "p.id, p.name, p.public, p.owner_id, u.username AS owner_name, p.created_at, p.updated_at, p.repo_count";

/// The `roles` column of `project_access`: what the user's memberships (own, `$1`,
/// and their groups') grant in project `p`, as JSON pairs of role and actions.
fn roles_column() -> String {
    format!(
        "(SELECT coalesce(json_agg(json_build_array(g.role_id, g.actions)), '[]')::TEXT FROM ({}) g WHERE g.project_id = p.id) AS roles",
        user_grants()
    )
}

/// A user's memberships: their own rows and those of the groups they belong to.
const USER_MEMBERSHIPS: &str = "SELECT project_id, role_id FROM project_members WHERE user_id = $1
    UNION ALL SELECT m.project_id, m.role_id FROM project_members m
    JOIN user_group_users ug ON ug.group_id = m.group_id WHERE ug.user_id = $1";

/// [`USER_MEMBERSHIPS`] with each custom role's actions (NULL for built-in roles).
const USER_GRANTS: &str =
    "SELECT um.project_id, um.role_id, cr.actions FROM ({USER_MEMBERSHIPS}) um
    LEFT JOIN roles cr ON cr.id = um.role_id";

fn user_grants() -> String {
    USER_GRANTS.replace("{USER_MEMBERSHIPS}", USER_MEMBERSHIPS)
}

#[async_trait]
impl IdentityStore for PgMetadata {
    async fn create_user(&self, u: NewUser<'_>) -> Result<Option<i64>> {
        let now = now();
        let r = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, password_hash, email, realname, sysadmin, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(u.username)
        .bind(u.password_hash)
        .bind(u.email)
        .bind(u.realname)
        .bind(u.sysadmin as i64)
        .bind(now)
        .bind(now)
        .fetch_one(&self.write)
        .await;
        Ok(unless_taken(r)?)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((user(&r)?, r.try_get("password_hash")?)))
            .transpose()
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<(User, String)>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((user(&r)?, r.try_get("password_hash")?)))
            .transpose()
    }

    async fn list_users(&self, name: Option<&str>, page: PageReq) -> Result<(Vec<User>, i64)> {
        let rows = sqlx::query(paged(
            "SELECT * FROM users WHERE $1::text IS NULL OR strpos(username, $1) > 0 ORDER BY id",
            page,
        ))
        .bind(name)
        .fetch_all(&self.read)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE $1::text IS NULL OR strpos(username, $1) > 0",
        )
        .bind(name)
        .fetch_one(&self.read)
        .await?;
        Ok((rows.iter().map(user).collect::<Result<_>>()?, total))
    }

    async fn set_password(&self, id: i64, password_hash: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now())
                .bind(id)
                .execute(&self.write)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_sysadmin(&self, id: i64, sysadmin: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET sysadmin = $1, updated_at = $2 WHERE id = $3")
            .bind(sysadmin as i64)
            .bind(now())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
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
        let r = sqlx::query_scalar::<_, i64>("INSERT INTO projects (name, public, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(name)
            .bind(public as i64)
            .bind(owner_id)
            .bind(now)
            .bind(now)
            .fetch_one(&mut *tx)
            .await;
        let Some(id) = unless_taken(r)? else {
            return Ok(None);
        };
        // Repositories pushed before the project existed (access control off)
        // join it now. `name/` ≤ repository < `name0` is exactly the names that
        // start with `name/` ('0' follows '/'), and lets the name index answer.
        sqlx::query(
            "UPDATE repositories SET project_id = $1
             WHERE project_id IS NULL AND name >= $2 || '/' AND name < $2 || '0'",
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
            "SELECT {PROJECT_COLUMNS} FROM projects p LEFT JOIN users u ON u.id = p.owner_id WHERE p.name = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| project(&r)).transpose()
    }

    async fn project_by_id(&self, id: i64) -> Result<Option<Project>> {
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p LEFT JOIN users u ON u.id = p.owner_id WHERE p.id = $1"
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
        // Only the filters in use are in the text, and the page's bounds are
        // constants: with `$1 IS NULL OR …` PostgreSQL planned the count anew for
        // every request on a large registry (see `paged`).
        let mut parts = Vec::new();
        if viewer.is_some() {
            parts.push("(p.public = 1 OR EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = p.id AND (m.user_id = $1
                        OR m.group_id IN (SELECT group_id FROM user_group_users WHERE user_id = $1))))".to_string());
        }
        if name.is_some() {
            let n = parts.len() + 1;
            parts.push(format!("strpos(p.name, lower(${n})) > 0"));
        }
        let filter = if parts.is_empty() {
            "TRUE".to_string()
        } else {
            parts.join(" AND ")
        };
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p LEFT JOIN users u ON u.id = p.owner_id WHERE {filter} ORDER BY p.name"
        );
        let count_sql = format!("SELECT count(*) FROM projects p WHERE {filter}");
        let mut rows = sqlx::query(paged(&sql, page));
        let mut count = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql));
        if let Some(viewer) = viewer {
            rows = rows.bind(viewer);
            count = count.bind(viewer);
        }
        if let Some(name) = name {
            rows = rows.bind(name);
            count = count.bind(name);
        }
        let rows = rows.fetch_all(&self.read).await?;
        let total: i64 = count.fetch_one(&self.read).await?;
        Ok((rows.iter().map(project).collect::<Result<_>>()?, total))
    }

    async fn set_project_public(&self, id: i64, public: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE projects SET public = $1, updated_at = $2 WHERE id = $3")
            .bind(public as i64)
            .bind(now())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_project(&self, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM projects WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM repositories r WHERE r.project_id = $1)",
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
             FROM projects p LEFT JOIN users u ON u.id = p.owner_id WHERE p.name = $2",
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
            "SELECT project_id, role_id, actions FROM ({}) g WHERE project_id IN (SELECT value::BIGINT FROM jsonb_array_elements_text($2::jsonb))",
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
        let r = sqlx::query_scalar::<_, i64>("INSERT INTO project_members (project_id, user_id, role_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(project_id)
            .bind(user_id)
            .bind(role.0)
            .bind(now())
            .fetch_one(&self.write)
            .await;
        Ok(unless_taken(r)?)
    }

    async fn list_members(&self, project_id: i64) -> Result<Vec<Member>> {
        let sql = format!("{MEMBER_SELECT} WHERE m.project_id = $1 ORDER BY m.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(member).collect()
    }

    async fn member(&self, project_id: i64, member_id: i64) -> Result<Option<Member>> {
        let sql = format!("{MEMBER_SELECT} WHERE m.project_id = $1 AND m.id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .bind(member_id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| member(&r)).transpose()
    }

    async fn update_member(&self, project_id: i64, member_id: i64, role: RoleId) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE project_members SET role_id = $1 WHERE project_id = $2 AND id = $3",
        )
        .bind(role.0)
        .bind(project_id)
        .bind(member_id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_member(&self, project_id: i64, member_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(member_id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_robot(&self, r: NewRobot<'_>) -> Result<Option<i64>> {
        let now = now();
        let res = sqlx::query_scalar::<_, i64>(
            "INSERT INTO robots (name, description, level, project_id, secret_hash, permissions, disabled, expires_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
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
        .fetch_one(&self.write)
        .await;
        Ok(unless_taken(res)?)
    }

    async fn robot_by_name(&self, name: &str) -> Result<Option<(Robot, String)>> {
        let row = sqlx::query("SELECT * FROM robots WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((robot(&r)?, r.try_get("secret_hash")?)))
            .transpose()
    }

    async fn robot_by_id(&self, id: i64) -> Result<Option<Robot>> {
        let row = sqlx::query("SELECT * FROM robots WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| robot(&r)).transpose()
    }

    async fn list_robots(&self, project_id: Option<i64>) -> Result<Vec<Robot>> {
        let rows =
            sqlx::query("SELECT * FROM robots WHERE $1 IS NULL OR project_id = $1 ORDER BY id")
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
            "UPDATE robots SET description = $1, disabled = $2, permissions = $3, expires_at = $4, updated_at = $5 WHERE id = $6",
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
        let done = sqlx::query("UPDATE robots SET secret_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(secret_hash)
            .bind(now())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_robot(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM robots WHERE id = $1")
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
        let r = sqlx::query_scalar::<_, i64>("INSERT INTO user_groups (group_name, group_type, ldap_group_dn, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(group_name)
            .bind(group_type)
            .bind(ldap_group_dn)
            .bind(now)
            .bind(now)
            .fetch_one(&self.write)
            .await;
        Ok(unless_taken(r)?)
    }

    async fn group_by_id(&self, id: i64) -> Result<Option<UserGroup>> {
        let row = sqlx::query("SELECT * FROM user_groups WHERE id = $1")
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
             AND lower(ldap_group_dn) IN (SELECT lower(value) FROM jsonb_array_elements_text($1::jsonb)) ORDER BY id",
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
        let filter = "($1 IS NULL OR strpos(lower(group_name), lower($1)) > 0)";
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
            sqlx::query("UPDATE user_groups SET group_name = $1, updated_at = $2 WHERE id = $3")
                .bind(group_name)
                .bind(now())
                .bind(id)
                .execute(&self.write)
                .await;
        Ok(unless_taken(done)?.is_some_and(|d| d.rows_affected() > 0))
    }

    async fn delete_group(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM user_groups WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_user_groups(&self, user_id: i64, group_ids: &[i64]) -> Result<()> {
        let ids = serde_json::to_string(group_ids).expect("ids serialize");
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM user_group_users WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO user_group_users (user_id, group_id)
             SELECT $1, id FROM user_groups WHERE id IN (SELECT value::BIGINT FROM jsonb_array_elements_text($2::jsonb))
             ON CONFLICT DO NOTHING",
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
            "SELECT group_id FROM user_group_users WHERE user_id = $1 ORDER BY group_id",
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
        let r = sqlx::query_scalar::<_, i64>("INSERT INTO project_members (project_id, group_id, role_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(project_id)
            .bind(group_id)
            .bind(role.0)
            .bind(now())
            .fetch_one(&self.write)
            .await;
        Ok(unless_taken(r)?)
    }

    async fn list_roles(&self) -> Result<Vec<RoleDef>> {
        let rows = sqlx::query("SELECT id, name, description, actions FROM roles ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(custom_role).collect()
    }

    async fn role_by_id(&self, id: i64) -> Result<Option<RoleDef>> {
        let row = sqlx::query("SELECT id, name, description, actions FROM roles WHERE id = $1")
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
        let r = sqlx::query_scalar::<_, i64>(
            "INSERT INTO roles (name, description, actions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(description)
        .bind(serde_json::to_string(&actions.names()).expect("names serialize"))
        .bind(t)
        .bind(t)
        .fetch_one(&self.write)
        .await;
        Ok(unless_taken(r)?)
    }

    async fn update_role(
        &self,
        id: i64,
        name: &str,
        description: &str,
        actions: ActionSet,
    ) -> Result<Option<bool>> {
        let r = sqlx::query(
            "UPDATE roles SET name = $1, description = $2, actions = $3, updated_at = $4 WHERE id = $5",
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
            "DELETE FROM roles WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM project_members WHERE role_id = $1)",
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
            sqlx::query_scalar("SELECT value FROM configurations WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn set_configuration(&self, items: &[(String, String)]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for (name, value) in items {
            sqlx::query(
                "INSERT INTO configurations (name, value) VALUES ($1, $2)
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
             SELECT (value ->> 0)::BIGINT, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6
             FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS j(value, key) ORDER BY key",
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
                    " FROM audit_logs WHERE ($1::text IS NULL OR project = $1) \
                     AND ($2::text IS NULL OR strpos(username, $2) > 0) \
                     AND ($3::text IS NULL OR operation = $3) AND ($4::text IS NULL OR resource_type = $4) \
                     AND ($5::text IS NULL OR strpos(resource, $5) > 0)",
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
