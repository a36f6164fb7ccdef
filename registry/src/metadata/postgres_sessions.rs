//! [`SessionStore`] on PostgreSQL: `sqlite_sessions.rs`'s twin, in the same order.

use async_trait::async_trait;

use super::sessions::{SessionStore, StoredSession};
use super::{MetadataError, PgMetadata, Result};

type Row = (Vec<u8>, i64, String, i64, i64);

#[async_trait]
impl SessionStore for PgMetadata {
    async fn create_session(&self, s: &StoredSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO portal_sessions (id_hash, user_id, csrf_token, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.id_hash[..])
        .bind(s.user_id)
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<StoredSession>> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id_hash, user_id, csrf_token, created_at, last_seen_at \
             FROM portal_sessions WHERE id_hash = $1",
        )
        .bind(&id_hash[..])
        .fetch_optional(&self.read)
        .await?;
        row.map(|(h, user_id, csrf_token, created_at, last_seen_at)| {
            Ok(StoredSession {
                id_hash: h
                    .try_into()
                    .map_err(|_| MetadataError::Corrupt("session id hash length".into()))?,
                user_id,
                csrf_token,
                created_at,
                last_seen_at,
            })
        })
        .transpose()
    }

    async fn touch_session(&self, id_hash: &[u8; 32], at: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE portal_sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id_hash = $2",
        )
        .bind(at)
        .bind(&id_hash[..])
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_session(&self, id_hash: &[u8; 32]) -> Result<bool> {
        let done = sqlx::query("DELETE FROM portal_sessions WHERE id_hash = $1")
            .bind(&id_hash[..])
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_expired_sessions(&self, idle_before: i64, created_before: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM portal_sessions WHERE last_seen_at < $1 OR created_at < $2")
                .bind(idle_before)
                .bind(created_before)
                .execute(&self.write)
                .await?;
        Ok(done.rows_affected())
    }
}
