//! Access: who a request is (credentials, bearer tokens) and what it may do.
//! Every decision reads the tables in [`crate::auth::rbac`]: project actions
//! through [`Access::may`], registry-wide ones through [`Access::require_system`].
//! The audit log is written from here too, since every change passes a check first.
//!
//! Holds only the identity store: users, robots, projects and memberships.

mod audit;
mod credentials;
mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::auth::Principal;
use crate::auth::rbac::{Action, ActionSet, Decision, SystemAction, public_allows};
use crate::auth::throttle::Throttle;
use crate::auth::token::{Claims, TokenKey};
use crate::error::{ErrorCode, RegistryError, Result};
use crate::metadata::IdentityStore;
use crate::metadata::identity::{AuditEntry, Project};

pub use tokens::IssuedToken;

/// What an external authentication source (the LDAP directory) said of a login.
pub enum ExternalLogin {
    /// The source is not the configured mode: check the local accounts.
    NotInUse,
    /// The credentials are good; the user (onboarded if new), and the mode.
    Accepted(Principal, &'static str),
    /// The credentials are wrong (or the user unknown there), and the mode.
    Rejected(&'static str),
}

/// An authentication source other than the local accounts, installed by the
/// service that owns it (so access knows no directory). An `Err` means the
/// source could not decide (unreachable): the login fails with that error.
#[async_trait::async_trait]
pub trait ExternalAuthenticator: Send + Sync {
    async fn login(&self, username: &str, password: &str) -> Result<ExternalLogin>;
    /// The authentication mode in force (Harbor's `auth_mode` name), for the audit
    /// log of logins the source could not decide.
    fn mode(&self) -> &'static str;
}

/// The one answer to "may `who` do `action` here", given the project's visibility
/// and what the principal's memberships grant there.
fn allowed(
    who: &Principal,
    project: &str,
    access: &crate::metadata::identity::ProjectAccess,
    action: Action,
) -> bool {
    who.may_system(SystemAction::ActInEveryProject)
        || (access.public && public_allows(action))
        || access.grant.actions.contains(action)
        || who.robot_allows(project, action)
}

/// A project and what one caller holds in it, as [`Access::scope`] read it:
/// the checks of one request, answered from one read (the caller's memberships
/// are not read again for each service the request passes through).
#[derive(Debug, Clone)]
pub struct ProjectScope {
    pub project: Project,
    who: Principal,
    access: crate::metadata::identity::ProjectAccess,
    /// The project as the request named it (id or name): a "not found" repeats
    /// it, and never tells a caller who named a private project by id its name.
    asked: String,
}

impl ProjectScope {
    /// Ok if the caller may do `action` in the project; otherwise the error
    /// [`Access::project_for`] gives: "not found" for a project the caller cannot
    /// see (or "authentication required" when anonymous), "forbidden" otherwise.
    pub fn require(&self, action: Action) -> Result<()> {
        let (who, project) = (&self.who, &self.project);
        if allowed(who, &project.name, &self.access, action) {
            return Ok(());
        }
        if !allowed(who, &project.name, &self.access, Action::ReadProject) {
            return Err(if matches!(who, Principal::Anonymous) {
                unauthorized("authentication required")
            } else {
                RegistryError::not_found(format!("project {} not found", self.asked))
            });
        }
        Err(RegistryError::forbidden(format!(
            "{} may not {action:?} in project {}",
            who.name(),
            project.name
        )))
    }
}

/// How a project is named in a path: by numeric id or by name.
pub fn is_id(s: &str) -> Option<i64> {
    s.parse().ok()
}

/// Authentication's state: the token key, throttling, caches and the audit queue.
pub struct AuthState {
    external_url: Option<String>,
    tls: bool,
    key: TokenKey,
    token_ttl: Duration,
    throttle: Throttle,
    cache: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
    /// Credential checks running now, one per credential: a burst of requests
    /// with the same (not yet cached) credentials waits for the first check
    /// instead of running argon2 once each.
    checking: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    audit: mpsc::Sender<AuditEntry>,
    dropped: std::sync::atomic::AtomicU64,
    /// Tokens already verified (keyed by the whole token, so only an exact
    /// match hits): clients repeat the same token on every request.
    verified: Mutex<HashMap<String, Arc<Claims>>>,
    /// Credential checks (argon2) per client address; `None`: unlimited.
    login_rate: Option<crate::rate_limit::RateLimit>,
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
        tokio::spawn(audit::write_audit(identity, rx));
        AuthState {
            external_url,
            tls,
            key: TokenKey::new(key),
            token_ttl,
            throttle: Throttle::default(),
            cache: Mutex::new(HashMap::new()),
            checking: Mutex::new(HashMap::new()),
            audit: tx,
            dropped: Default::default(),
            verified: Mutex::new(HashMap::new()),
            login_rate: None,
        }
    }

    /// Allow each client address `per_minute` credential checks (0: no limit); more
    /// are refused with 429 before any password hash is computed.
    pub fn with_login_rate(mut self, per_minute: u32) -> Self {
        self.login_rate = crate::rate_limit::RateLimit::per_minute(per_minute);
        self
    }
}

fn unauthorized(msg: impl Into<String>) -> RegistryError {
    RegistryError::new(ErrorCode::Unauthorized, msg)
}

pub struct Access {
    identity: Arc<dyn IdentityStore>,
    /// `None`: authentication off, every request may do anything.
    auth: Option<AuthState>,
    external: OnceLock<Weak<dyn ExternalAuthenticator>>,
    /// Where a credential change is announced to the other replicas.
    changes: OnceLock<Arc<dyn crate::metadata::ChangeFeed>>,
}

impl Access {
    pub fn new(identity: Arc<dyn IdentityStore>, auth: Option<AuthState>) -> Self {
        Access {
            identity,
            auth,
            external: OnceLock::new(),
            changes: OnceLock::new(),
        }
    }

    /// Install the external authentication source (once, when services are wired).
    pub fn install_external(&self, source: Weak<dyn ExternalAuthenticator>) {
        let _ = self.external.set(source);
    }

    fn external(&self) -> Option<Arc<dyn ExternalAuthenticator>> {
        self.external.get().and_then(Weak::upgrade)
    }

    /// The authentication mode in force when it is not local accounts
    /// (`ldap_auth`, `oidc_auth`): users then come from the source, and local
    /// ones are not created through the API (as in Harbor).
    pub fn external_mode(&self) -> Option<&'static str> {
        self.external()
            .map(|e| e.mode())
            .filter(|m| *m != "db_auth")
    }

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

    /// Announce credential changes on `feed` too (once, when services are wired).
    pub fn announce_changes_to(&self, feed: Arc<dyn crate::metadata::ChangeFeed>) {
        let _ = self.changes.set(feed);
    }

    /// Forget cached credentials (after a password, robot or membership change),
    /// here and, through the change feed, on every replica.
    pub fn forget_credentials(&self) {
        self.forget_credentials_here();
        if let Some(feed) = self.changes.get().cloned() {
            tokio::spawn(async move {
                if let Err(e) = feed.announce(crate::metadata::Change::Credentials).await {
                    // The others' cached checks still expire after CREDENTIAL_CACHE.
                    tracing::warn!(error = %e, "announcing a credential change to the other replicas");
                }
            });
        }
    }

    /// Forget this process's cached credential checks only (another replica
    /// announced a change).
    pub fn forget_credentials_here(&self) {
        if let Some(auth) = &self.auth {
            auth.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// May `who` do `action` in `project`?
    pub async fn may(&self, who: &Principal, project: &str, action: Action) -> Result<Decision> {
        let access = self.identity.project_access(project, who.user_id()).await?;
        let Some(access) = access else {
            return Ok(Decision::NoProject);
        };
        Ok(if allowed(who, project, &access, action) {
            Decision::Allowed
        } else {
            Decision::Denied
        })
    }

    /// Every project action `who` may do in `project`, from one query (`None`: no
    /// such project): for pages that show or hide many controls at once.
    pub async fn actions_in(&self, who: &Principal, project: &str) -> Result<Option<ActionSet>> {
        let access = self.identity.project_access(project, who.user_id()).await?;
        Ok(access.map(|access| {
            crate::auth::rbac::TABLE
                .iter()
                .map(|(a, _)| *a)
                .filter(|a| allowed(who, project, &access, *a))
                .fold(ActionSet::default(), ActionSet::with)
        }))
    }

    /// May `who` do every one of `actions` in `project`?
    pub async fn may_all(
        &self,
        who: &Principal,
        project: &str,
        actions: &[Action],
    ) -> Result<bool> {
        for a in actions {
            if !self.may(who, project, *a).await?.allowed() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A registry-wide action, as an error when `who` may not.
    pub fn require_system(&self, who: &Principal, action: SystemAction) -> Result<()> {
        match who {
            p if p.may_system(action) => Ok(()),
            Principal::Anonymous => Err(unauthorized("authentication required")),
            p => Err(RegistryError::new(
                ErrorCode::Denied,
                format!(
                    "{} may not {action:?}: it takes a system administrator",
                    p.name()
                ),
            )),
        }
    }

    /// A project by id or name.
    pub async fn project(&self, reference: &str) -> Result<Project> {
        let found = match is_id(reference) {
            Some(id) => self.identity.project_by_id(id).await?,
            None => self.identity.project_by_name(reference).await?,
        };
        found.ok_or_else(|| RegistryError::not_found(format!("project {reference} not found")))
    }

    /// Whether a project of that name exists (for errors that name what is missing).
    pub async fn project_exists(&self, name: &str) -> Result<bool> {
        Ok(self.identity.project_by_name(name).await?.is_some())
    }

    /// The project, if `who` may do `action` in it. A private project the
    /// caller cannot see is reported as not found, not as forbidden.
    pub async fn project_for(
        &self,
        who: &Principal,
        reference: &str,
        action: Action,
    ) -> Result<Project> {
        let scope = self.scope(who, reference).await?;
        scope.require(action)?;
        Ok(scope.project)
    }

    /// The project (by id or name) and what `who` holds in it, read once, for a
    /// request that checks several actions in it: an artifact page checks reading
    /// artifacts, then reading scans. Nothing is allowed yet: each use goes
    /// through [`ProjectScope::require`].
    pub async fn scope(&self, who: &Principal, reference: &str) -> Result<ProjectScope> {
        // One read for the project and the caller's roles in it (by id, the name
        // is read first).
        let name = match is_id(reference) {
            Some(_) => std::borrow::Cow::Owned(self.project(reference).await?.name),
            None => std::borrow::Cow::Borrowed(reference),
        };
        let (project, access) = self
            .identity
            .project_with_access(&name, who.user_id())
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("project {reference} not found")))?;
        Ok(ProjectScope {
            project,
            who: who.clone(),
            access,
            asked: reference.to_string(),
        })
    }

    /// The principal behind a bearer token's subject (tokens name only their subject).
    pub async fn principal_named(&self, name: &str) -> Option<Principal> {
        let (user, _) = self.identity.user_by_name(name).await.ok()??;
        Some(Principal::User {
            id: user.id,
            name: user.username,
            sysadmin: user.sysadmin,
        })
    }
}
