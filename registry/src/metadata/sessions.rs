//! The portal's login sessions, kept server-side (see migration 0018): the store
//! knows rows by the hash of the session id, never the id itself.

use async_trait::async_trait;

use super::Result;

/// One session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// SHA-256 of the id the cookie carries.
    pub id_hash: [u8; 32],
    pub user_id: i64,
    pub csrf_token: String,
    /// Unix seconds.
    pub created_at: i64,
    pub last_seen_at: i64,
}

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn create_session(&self, session: &StoredSession) -> Result<()>;
    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<StoredSession>>;
    /// Records activity; `false` when the session is gone.
    async fn touch_session(&self, id_hash: &[u8; 32], at: i64) -> Result<bool>;
    /// `false` when there was no such session.
    async fn delete_session(&self, id_hash: &[u8; 32]) -> Result<bool>;
    /// Removes sessions idle since before `idle_before` or created before
    /// `created_before`; how many went.
    async fn delete_expired_sessions(&self, idle_before: i64, created_before: i64) -> Result<u64>;
}
