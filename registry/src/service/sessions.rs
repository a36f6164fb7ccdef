//! `Sessions`: the portal's logins. A login is checked by [`Access::authenticate`]
//! (the same credentials, LDAP, throttle and per-address rate limit as the API);
//! the session lives server-side (session store) so logging out ends it for every
//! replica at once. The cookie's id is 32 random bytes; the store sees only its
//! SHA-256. Each session carries its own CSRF token.
//!
//! Robots are refused, as Harbor's portal refuses them: a robot secret is a
//! credential for clients and pipelines, and a browser session made from one would
//! outlive the robot's narrow scope of use.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::Access;
use crate::auth::Principal;
use crate::error::{ErrorCode, RegistryError, Result};
use crate::metadata::sessions::StoredSession;
use crate::metadata::{IdentityStore, SessionStore, now};

/// Activity is written at most this often per session, so a page with several
/// requests costs no write each.
const TOUCH_EVERY: i64 = 60;

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after login, however busy.
    pub lifetime: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            idle_timeout: Duration::from_secs(30 * 60),
            lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

/// A session that was just opened: the id goes into the cookie and nowhere else.
pub struct NewSession {
    pub id: String,
    pub csrf_token: String,
    pub principal: Principal,
}

/// A live session, as a request presents it.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub csrf_token: String,
}

pub struct Sessions {
    store: Arc<dyn SessionStore>,
    identity: Arc<dyn IdentityStore>,
    access: Arc<Access>,
    options: SessionOptions,
}

fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(crate::auth::password::random_bytes::<32>())
}

fn hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    pub fn new(
        store: Arc<dyn SessionStore>,
        identity: Arc<dyn IdentityStore>,
        access: Arc<Access>,
        options: SessionOptions,
    ) -> Self {
        Sessions {
            store,
            identity,
            access,
            options,
        }
    }

    pub fn options(&self) -> SessionOptions {
        self.options
    }

    /// Checks the credentials and opens a session for a user.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client_ip: Option<&str>,
    ) -> Result<NewSession> {
        if !self.access.auth_enabled() {
            return Err(RegistryError::NotEnabled(
                "the portal needs authentication enabled (wharf serve --auth)".into(),
            ));
        }
        let principal = self
            .access
            .authenticate(username, password, client_ip)
            .await?;
        self.open(principal).await
    }

    /// Opens a session for a user someone else authenticated: the OIDC callback,
    /// once the provider's ID token checked out.
    pub async fn open(&self, principal: Principal) -> Result<NewSession> {
        let user_id = match &principal {
            Principal::User { id, .. } => *id,
            _ => {
                return Err(RegistryError::new(
                    ErrorCode::Denied,
                    "robot accounts cannot log in to the portal; use them with docker, the API or the CLI",
                ));
            }
        };
        let at = now();
        self.purge(at).await?;
        let id = random_token();
        let csrf_token = random_token();
        self.store
            .create_session(&StoredSession {
                id_hash: hash(&id),
                user_id,
                csrf_token: csrf_token.clone(),
                created_at: at,
                last_seen_at: at,
            })
            .await?;
        Ok(NewSession {
            id,
            csrf_token,
            principal,
        })
    }

    /// The session behind a cookie's id, if it is live; an expired one is removed.
    /// The user is read again each time, so a removed user or a revoked
    /// administrator takes effect at once.
    pub async fn resolve(&self, id: &str) -> Result<Option<Session>> {
        if id.is_empty() || id.len() > 128 {
            return Ok(None);
        }
        let id_hash = hash(id);
        let Some(stored) = self.store.session(&id_hash).await? else {
            return Ok(None);
        };
        let at = now();
        if self.expired(&stored, at) {
            self.store.delete_session(&id_hash).await?;
            return Ok(None);
        }
        let Some((user, _)) = self.identity.user_by_id(stored.user_id).await? else {
            self.store.delete_session(&id_hash).await?;
            return Ok(None);
        };
        if at - stored.last_seen_at >= TOUCH_EVERY {
            self.store.touch_session(&id_hash, at).await?;
        }
        Ok(Some(Session {
            principal: Principal::User {
                id: user.id,
                name: user.username,
                sysadmin: user.sysadmin,
            },
            csrf_token: stored.csrf_token,
        }))
    }

    /// Ends a session server-side; the cookie is worthless afterwards.
    pub async fn logout(&self, id: &str, who: &Principal, client_ip: Option<&str>) -> Result<()> {
        if self.store.delete_session(&hash(id)).await? {
            self.access
                .audit(who, "logout", "portal", who.name(), client_ip);
        }
        Ok(())
    }

    fn expired(&self, s: &StoredSession, at: i64) -> bool {
        at - s.last_seen_at >= self.options.idle_timeout.as_secs() as i64
            || at - s.created_at >= self.options.lifetime.as_secs() as i64
    }

    async fn purge(&self, at: i64) -> Result<()> {
        let idle = self.options.idle_timeout.as_secs() as i64;
        let life = self.options.lifetime.as_secs() as i64;
        self.store
            .delete_expired_sessions(at - idle, at - life)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{SessionOptions, Sessions};
    use crate::metadata::identity::NewUser;
    use crate::metadata::{IdentityStore, SessionStore, SqliteMetadata};
    use crate::service::{Access, AuthState};

    async fn setup() -> (tempfile::TempDir, Arc<SqliteMetadata>, Arc<Access>) {
        let dir = tempfile::tempdir().unwrap();
        let meta = Arc::new(
            SqliteMetadata::open(&dir.path().join("wharf.db"))
                .await
                .unwrap(),
        );
        meta.create_user(NewUser {
            username: "alice",
            password_hash: &crate::auth::password::hash("s3cret-pw"),
            email: None,
            realname: None,
            sysadmin: false,
        })
        .await
        .unwrap();
        let auth = AuthState::new(
            meta.clone(),
            vec![7; 32],
            Duration::from_secs(60),
            None,
            false,
        );
        let access = Arc::new(Access::new(meta.clone(), Some(auth)));
        (dir, meta, access)
    }

    fn sessions(
        meta: &Arc<SqliteMetadata>,
        access: &Arc<Access>,
        idle: u64,
        life: u64,
    ) -> Sessions {
        Sessions::new(
            meta.clone(),
            meta.clone(),
            access.clone(),
            SessionOptions {
                idle_timeout: Duration::from_secs(idle),
                lifetime: Duration::from_secs(life),
            },
        )
    }

    #[tokio::test]
    async fn login_resolve_expire_logout() {
        let (_dir, meta, access) = setup().await;
        let live = sessions(&meta, &access, 600, 3600);
        assert!(live.login("alice", "wrong", None).await.is_err());
        let s = live.login("alice", "s3cret-pw", None).await.unwrap();
        assert_eq!(s.principal.name(), "alice");
        let got = live.resolve(&s.id).await.unwrap().unwrap();
        assert_eq!(got.csrf_token, s.csrf_token);
        assert_ne!(s.id, s.csrf_token);
        // The store holds the id's hash, not the id.
        assert!(meta.session(&super::hash(&s.id)).await.unwrap().is_some());
        assert!(live.resolve("not-a-session").await.unwrap().is_none());

        // The same session seen by a server whose idle timeout has passed: gone for good.
        let idle = sessions(&meta, &access, 0, 3600);
        assert!(idle.resolve(&s.id).await.unwrap().is_none());
        assert!(live.resolve(&s.id).await.unwrap().is_none());

        // Past the absolute lifetime, however recent the activity.
        let s = live.login("alice", "s3cret-pw", None).await.unwrap();
        assert!(
            sessions(&meta, &access, 600, 0)
                .resolve(&s.id)
                .await
                .unwrap()
                .is_none()
        );

        // Logout ends it server-side.
        let s = live.login("alice", "s3cret-pw", None).await.unwrap();
        let who = live.resolve(&s.id).await.unwrap().unwrap().principal;
        live.logout(&s.id, &who, None).await.unwrap();
        assert!(live.resolve(&s.id).await.unwrap().is_none());
    }
}
