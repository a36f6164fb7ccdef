//! [`ReplicationStore`] on SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::replication::{ReplicationStore, StoredPolicy, StoredRegistry};
use super::{Result, SqliteMetadata, now};

const REGISTRY_COLUMNS: &str = "SELECT id, name, url, type, description, auth_type, access_key, \
     secret, ca_file, insecure, created_at, updated_at FROM registries";

fn registry_row(r: &SqliteRow) -> Result<StoredRegistry> {
    Ok(StoredRegistry {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        kind: r.try_get("type")?,
        description: r.try_get("description")?,
        auth_type: r.try_get("auth_type")?,
        access_key: r.try_get("access_key")?,
        sealed_secret: r.try_get("secret")?,
        ca_file: r.try_get("ca_file")?,
        insecure: r.try_get::<i64, _>("insecure")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const POLICY_COLUMNS: &str =
    "SELECT id, name, body, created_at, updated_at FROM replication_policies";

fn policy_row(r: &SqliteRow) -> Result<StoredPolicy> {
    Ok(StoredPolicy {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

#[async_trait]
impl ReplicationStore for SqliteMetadata {
    async fn registries(&self) -> Result<Vec<StoredRegistry>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{REGISTRY_COLUMNS} ORDER BY id"
        )))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(registry_row).collect()
    }

    async fn registry(&self, id: i64) -> Result<Option<StoredRegistry>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{REGISTRY_COLUMNS} WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(registry_row).transpose()
    }

    async fn registry_by_name(&self, name: &str) -> Result<Option<StoredRegistry>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{REGISTRY_COLUMNS} WHERE name = ?"
        )))
        .bind(name)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(registry_row).transpose()
    }

    async fn create_registry(&self, r: &StoredRegistry) -> Result<i64> {
        let now = now();
        let id = sqlx::query(
            "INSERT INTO registries (name, url, type, description, auth_type, access_key, secret, \
             ca_file, insecure, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.name)
        .bind(&r.url)
        .bind(&r.kind)
        .bind(&r.description)
        .bind(&r.auth_type)
        .bind(&r.access_key)
        .bind(&r.sealed_secret)
        .bind(&r.ca_file)
        .bind(r.insecure as i64)
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    async fn update_registry(&self, r: &StoredRegistry) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE registries SET name = ?, url = ?, type = ?, description = ?, auth_type = ?, \
             access_key = ?, secret = ?, ca_file = ?, insecure = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&r.name)
        .bind(&r.url)
        .bind(&r.kind)
        .bind(&r.description)
        .bind(&r.auth_type)
        .bind(&r.access_key)
        .bind(&r.sealed_secret)
        .bind(&r.ca_file)
        .bind(r.insecure as i64)
        .bind(now())
        .bind(r.id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_registry(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM registries WHERE id = ?")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn policies(&self) -> Result<Vec<StoredPolicy>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{POLICY_COLUMNS} ORDER BY id")))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(policy_row).collect()
    }

    async fn policy(&self, id: i64) -> Result<Option<StoredPolicy>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{POLICY_COLUMNS} WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(policy_row).transpose()
    }

    async fn policy_by_name(&self, name: &str) -> Result<Option<StoredPolicy>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{POLICY_COLUMNS} WHERE name = ?"
        )))
        .bind(name)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(policy_row).transpose()
    }

    async fn create_policy(&self, name: &str, body: &str) -> Result<i64> {
        let now = now();
        let id = sqlx::query(
            "INSERT INTO replication_policies (name, body, created_at, updated_at) VALUES (?, ?, ?, ?)",
        )
        .bind(name)
        .bind(body)
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    async fn update_policy(&self, id: i64, name: &str, body: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE replication_policies SET name = ?, body = ?, updated_at = ? WHERE id = ?",
        )
        .bind(name)
        .bind(body)
        .bind(now())
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_policy(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM replication_policies WHERE id = ?")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
