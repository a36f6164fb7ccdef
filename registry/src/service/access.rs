//! Authentication and authorization: checking credentials (with throttling
//! and a short cache, so argon2 is not paid on every request), deciding what a
//! principal may do in a project, issuing bearer tokens, and the audit log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use super::Registry;
use crate::auth::rbac::{Action, public_allows, role_allows};
use crate::auth::throttle::Throttle;
use crate::auth::token::{self, Access, Claims, TokenKey};
use crate::auth::{Principal, password, project_of, robot_grants};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::metadata::identity::AuditEntry;
use crate::metadata::{IdentityStore, now};

/// Verified credentials are remembered this long, so a burst of Basic-auth
/// requests costs one argon2 check, not one each.
const CREDENTIAL_CACHE: Duration = Duration::from_secs(30);

pub struct AuthState {
    external_url: Option<String>,
    tls: bool,
    key: TokenKey,
    token_ttl: Duration,
    throttle: Throttle,
    cache: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
    audit: mpsc::Sender<AuditEntry>,
    dropped: std::sync::atomic::AtomicU64,
    /// Tokens already verified (keyed by the whole token, so only an exact
    /// match hits): clients repeat the same token on every request.
    verified: Mutex<HashMap<String, Arc<Claims>>>,
}

/// A token as the token endpoint returns it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub access_token: String,
    pub expires_in: u64,
    pub issued_at: String,
}

fn unauthorized(msg: impl Into<String>) -> RegistryError {
    RegistryError::new(ErrorCode::Unauthorized, msg)
}

impl AuthState {
    pub fn new(
        identity: Arc<dyn IdentityStore>,
        key: Vec<u8>,
        token_ttl: Duration,
        external_url: Option<String>,
        tls: bool,
    ) -> Self {
        let (tx, rx) = mpsc::channel(65_536);
        tokio::spawn(write_audit(identity, rx));
        AuthState {
            external_url,
            tls,
            key: TokenKey::new(key),
            token_ttl,
            throttle: Throttle::default(),
            cache: Mutex::new(HashMap::new()),
            audit: tx,
            dropped: Default::default(),
            verified: Mutex::new(HashMap::new()),
        }
    }
}

/// Audit entries are written in batches by one task, off the request path.
async fn write_audit(identity: Arc<dyn IdentityStore>, mut rx: mpsc::Receiver<AuditEntry>) {
    let mut batch = Vec::with_capacity(4096);
    while rx.recv_many(&mut batch, 4096).await > 0 {
        // Let a burst gather: a few large transactions cost far less than
        // many small ones (each commit grows the WAL towards a checkpoint).
        tokio::time::sleep(Duration::from_millis(100)).await;
        while batch.len() < 32_768 {
            match rx.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        if let Err(e) = identity.append_audit(&batch).await {
            tracing::error!(error = %e, lost = batch.len(), "writing the audit log failed");
        }
        batch.clear();
    }
}

impl Registry {
    pub fn auth_enabled(&self) -> bool {
        self.auth.is_some()
    }

    /// The externally visible base URL, when configured (token realm, links).
    pub fn external_url(&self) -> Option<&str> {
        self.auth.as_ref().and_then(|a| a.external_url.as_deref())
    }

    pub fn tls(&self) -> bool {
        self.auth.as_ref().is_some_and(|a| a.tls)
    }

    fn auth_state(&self) -> Result<&AuthState> {
        self.auth
            .as_ref()
            .ok_or_else(|| RegistryError::Internal("authentication is not enabled".into()))
    }

    /// Record an operation in the audit log (no-op without authentication).
    pub fn audit(
        &self,
        who: &Principal,
        operation: &str,
        resource_type: &str,
        resource: &str,
        client_ip: Option<&str>,
    ) {
        let Some(auth) = &self.auth else { return };
        let entry = AuditEntry {
            id: 0,
            op_time: now(),
            username: who.name().to_string(),
            operation: operation.to_string(),
            resource_type: resource_type.to_string(),
            project: Some(
                project_of(resource)
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            )
            .filter(|p| !p.is_empty() && resource_type != "user"),
            resource: resource.to_string(),
            client_ip: client_ip.map(str::to_owned),
        };
        if auth.audit.try_send(entry).is_err() {
            // Warn on the 1st, 2nd, 4th, 8th… drop: a full queue must not also flood the log.
            let n = auth
                .dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "audit log queue is full; entries were dropped");
            }
        }
    }

    /// Forget cached credentials (after a password, robot or membership change).
    pub fn forget_credentials(&self) {
        if let Some(auth) = &self.auth {
            auth.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// Check a user name and password (or robot name and secret).
    pub async fn authenticate(
        &self,
        username: &str,
        secret: &str,
        client_ip: Option<&str>,
    ) -> Result<Principal> {
        let auth = self.auth_state()?;
        let cache_key: [u8; 32] = Sha256::new()
            .chain_update(username)
            .chain_update([0])
            .chain_update(secret)
            .finalize()
            .into();
        if let Some((p, at)) = auth
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&cache_key)
            && at.elapsed() < CREDENTIAL_CACHE
        {
            return Ok(p.clone());
        }
        let user_key = format!("user:{username}");
        let ip_key = format!("ip:{}", client_ip.unwrap_or("-"));
        let delay = auth.throttle.delay(&[&user_key, &ip_key]);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let found = self.check_credentials(username, secret).await?;
        match found {
            Some(p) => {
                auth.throttle.succeeded(&user_key);
                auth.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(cache_key, (p.clone(), Instant::now()));
                Ok(p)
            }
            None => {
                auth.throttle.failed(&[&user_key, &ip_key]);
                self.audit(
                    &Principal::Anonymous,
                    "login_failed",
                    "user",
                    username,
                    client_ip,
                );
                tracing::info!(
                    user = username,
                    client = client_ip.unwrap_or("-"),
                    "authentication failed"
                );
                Err(unauthorized("invalid user name or password"))
            }
        }
    }

    /// argon2 runs on the blocking pool: it is deliberately slow.
    async fn check_credentials(&self, username: &str, secret: &str) -> Result<Option<Principal>> {
        let verify = |secret: String, hash: Option<String>| {
            tokio::task::spawn_blocking(move || match hash {
                Some(h) => password::verify(&secret, &h),
                None => {
                    password::verify_dummy(&secret);
                    false
                }
            })
        };
        if username.starts_with("robot$") {
            let found = self.identity.robot_by_name(username).await?;
            let ok = verify(secret.to_string(), found.as_ref().map(|(_, h)| h.clone()))
                .await
                .map_err(|e| RegistryError::Internal(e.to_string()))?;
            let Some((robot, _)) = found.filter(|_| ok) else {
                return Ok(None);
            };
            if robot.disabled || (robot.expires_at >= 0 && robot.expires_at <= now()) {
                return Ok(None);
            }
            let grants = robot_grants(&robot.permissions).map_err(RegistryError::Internal)?;
            return Ok(Some(Principal::Robot {
                id: robot.id,
                name: robot.name,
                grants: Arc::new(grants),
            }));
        }
        let found = self.identity.user_by_name(username).await?;
        let ok = verify(secret.to_string(), found.as_ref().map(|(_, h)| h.clone()))
            .await
            .map_err(|e| RegistryError::Internal(e.to_string()))?;
        Ok(found.filter(|_| ok).map(|(u, _)| Principal::User {
            id: u.id,
            name: u.username,
            sysadmin: u.sysadmin,
        }))
    }

    /// May `who` do `action` in `project`? `Ok(None)` when the project does not exist.
    pub async fn may(
        &self,
        who: &Principal,
        project: &str,
        action: Action,
    ) -> Result<Option<bool>> {
        let access = self.identity.project_access(project, who.user_id()).await?;
        let Some(access) = access else {
            return Ok(None);
        };
        let allowed = who.is_sysadmin()
            || (access.public && public_allows(action))
            || access.role.is_some_and(|r| role_allows(r, action))
            || who.robot_allows(project, action);
        Ok(Some(allowed))
    }

    /// Like [`may`](Self::may), as an error for the management API.
    pub async fn require(&self, who: &Principal, project: &str, action: Action) -> Result<()> {
        match self.may(who, project, action).await? {
            Some(true) => Ok(()),
            None if who.is_sysadmin() => Err(RegistryError::new(
                ErrorCode::NameUnknown,
                format!("project {project} not found"),
            )),
            _ if matches!(who, Principal::Anonymous) => {
                Err(unauthorized("authentication required"))
            }
            _ => Err(RegistryError::new(
                ErrorCode::Denied,
                format!("{} may not {action:?} in project {project}", who.name()),
            )),
        }
    }

    pub fn require_sysadmin(&self, who: &Principal) -> Result<()> {
        match who {
            p if p.is_sysadmin() => Ok(()),
            Principal::Anonymous => Err(unauthorized("authentication required")),
            p => Err(RegistryError::new(
                ErrorCode::Denied,
                format!("{} is not a system administrator", p.name()),
            )),
        }
    }

    /// Issue a token for the requested scopes, granting the subset `who` may
    /// have (never an error, as distribution does).
    pub async fn issue_token(&self, who: &Principal, scopes: &[String]) -> Result<IssuedToken> {
        let auth = self.auth_state()?;
        let mut access = Vec::new();
        for scope in scopes
            .iter()
            .flat_map(|s| s.split(' '))
            .filter(|s| !s.is_empty())
        {
            let Some(want) = token::parse_scope(scope) else {
                continue;
            };
            let granted = self.grant(who, &want).await?;
            if !granted.is_empty() {
                access.push(Access {
                    kind: want.kind,
                    name: want.name,
                    actions: granted,
                });
            }
        }
        let now = now();
        let ttl = auth.token_ttl.as_secs();
        let claims = Claims {
            iss: token::ISSUER.into(),
            sub: who.name().into(),
            aud: token::SERVICE.into(),
            exp: now + ttl as i64,
            nbf: now - 1,
            iat: now,
            jti: hex::encode(password::random_bytes::<12>()),
            access,
        };
        let token = auth.key.sign(&claims);
        let issued_at = time_rfc3339(now);
        Ok(IssuedToken {
            access_token: token.clone(),
            token,
            expires_in: ttl,
            issued_at,
        })
    }

    async fn grant(&self, who: &Principal, want: &Access) -> Result<Vec<String>> {
        if want.kind == "registry" {
            let all = want.name == "catalog" && who.is_sysadmin();
            return Ok(if all { want.actions.clone() } else { vec![] });
        }
        if want.kind != "repository" || crate::names::RepoName::parse(&want.name).is_err() {
            return Ok(vec![]);
        }
        let project = project_of(&want.name);
        let mut out = Vec::new();
        for action in &want.actions {
            let needed: &[Action] = match action.as_str() {
                "pull" => &[Action::Pull],
                "push" => &[Action::Push],
                "delete" => &[Action::DeleteArtifact],
                "*" => &[Action::Pull, Action::Push, Action::DeleteArtifact],
                _ => continue,
            };
            let mut ok = true;
            for a in needed {
                ok &= self.may(who, project, *a).await?.unwrap_or(false);
            }
            if ok {
                out.push(action.clone());
            }
        }
        Ok(out)
    }

    pub fn verify_token(&self, token: &str) -> Result<Arc<Claims>> {
        let auth = self.auth_state()?;
        let now = now();
        if let Some(c) = auth
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            && now < c.exp
        {
            return Ok(c.clone());
        }
        let claims = Arc::new(
            auth.key
                .verify(token, now)
                .map_err(|e| unauthorized(format!("bearer token rejected: {e}")))?,
        );
        let mut cache = auth.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= 10_000 {
            cache.retain(|_, c| now < c.exp);
            if cache.len() >= 10_000 {
                cache.clear();
            }
        }
        cache.insert(token.to_string(), claims.clone());
        Ok(claims)
    }
}

/// Seconds since the epoch as RFC 3339 (UTC, whole seconds), Harbor's time format.
pub fn time_rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::time_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::time_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::time_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
