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

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// The columns of an endpoint that creating and updating both write, in this order.
fn bind_registry<'q>(q: SqliteQuery<'q>, r: &'q StoredRegistry) -> SqliteQuery<'q> {
    q.bind(&r.name)
        .bind(&r.url)
        .bind(&r.kind)
        .bind(&r.description)
        .bind(&r.auth_type)
        .bind(&r.access_key)
        .bind(&r.sealed_secret)
        .bind(&r.ca_file)
        .bind(r.insecure as i64)
}

/// The unique columns rows are found by.
enum Key<'a> {
    Id(i64),
    Name(&'a str),
}

/// The lookups every table of this store shares.
impl SqliteMetadata {
    async fn all<T>(&self, select: &str, row: fn(&SqliteRow) -> Result<T>) -> Result<Vec<T>> {
        let sql = format!("{select} ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(row).collect()
    }

    async fn find<T>(
        &self,
        select: &str,
        key: Key<'_>,
        row: fn(&SqliteRow) -> Result<T>,
    ) -> Result<Option<T>> {
        let column = match key {
            Key::Id(_) => "id",
            Key::Name(_) => "name",
        };
        let query = sqlx::query(sqlx::AssertSqlSafe(format!("{select} WHERE {column} = ?")));
        let query = match key {
            Key::Id(id) => query.bind(id),
            Key::Name(name) => query.bind(name),
        };
        let found = query.fetch_optional(&self.read).await?;
        found.as_ref().map(row).transpose()
    }

    async fn delete_row(&self, sql: &'static str, id: i64) -> Result<bool> {
        let done = sqlx::query(sql).bind(id).execute(&self.write).await?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl ReplicationStore for SqliteMetadata {
    async fn registries(&self) -> Result<Vec<StoredRegistry>> {
        self.all(REGISTRY_COLUMNS, registry_row).await
    }

    async fn registry(&self, id: i64) -> Result<Option<StoredRegistry>> {
        self.find(REGISTRY_COLUMNS, Key::Id(id), registry_row).await
    }

    async fn registry_by_name(&self, name: &str) -> Result<Option<StoredRegistry>> {
        self.find(REGISTRY_COLUMNS, Key::Name(name), registry_row)
            .await
    }

    async fn create_registry(&self, r: &StoredRegistry) -> Result<i64> {
        let now = now();
        let id = bind_registry(
            sqlx::query(
                "INSERT INTO registries (name, url, type, description, auth_type, access_key, secret, \
                 ca_file, insecure, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ),
            r,
        )
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    async fn update_registry(&self, r: &StoredRegistry) -> Result<bool> {
        let done = bind_registry(
            sqlx::query(
                "UPDATE registries SET name = ?, url = ?, type = ?, description = ?, auth_type = ?, \
                 access_key = ?, secret = ?, ca_file = ?, insecure = ?, updated_at = ? WHERE id = ?",
            ),
            r,
        )
        .bind(now())
        .bind(r.id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_registry(&self, id: i64) -> Result<bool> {
        self.delete_row("DELETE FROM registries WHERE id = ?", id)
            .await
    }

    async fn policies(&self) -> Result<Vec<StoredPolicy>> {
        self.all(POLICY_COLUMNS, policy_row).await
    }

    async fn policy(&self, id: i64) -> Result<Option<StoredPolicy>> {
        self.find(POLICY_COLUMNS, Key::Id(id), policy_row).await
    }

    async fn policy_by_name(&self, name: &str) -> Result<Option<StoredPolicy>> {
        self.find(POLICY_COLUMNS, Key::Name(name), policy_row).await
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
        self.delete_row("DELETE FROM replication_policies WHERE id = ?", id)
            .await
    }
}
