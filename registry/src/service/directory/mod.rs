//! `Directory`: the authentication mode, the LDAP directory and the OpenID
//! provider. It keeps Harbor's configuration items (`auth_mode`, `ldap_*`,
//! `oidc_*`; the search password and client secret sealed with the server's secret
//! key), checks LDAP logins and OIDC users' CLI secrets for [`Access`] (installed
//! as its [`ExternalAuthenticator`]), onboards users on first login with their
//! groups, runs the OIDC code flow (`oidc/`), and manages user groups.
//!
//! Holds only the identity store (users, groups, configuration items) and the
//! OIDC store (OIDC users' secrets and tokens, code flows under way).

mod groups;
mod ldap;
mod oidc;
pub mod settings;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};

use super::access::{Access, ExternalAuthenticator, ExternalLogin};
use super::replication::SecretKey;
use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
use crate::error::{ApiErrorKind, ErrorCode, RegistryError, Result};
use crate::metadata::identity::{NewUser, User};
use crate::metadata::{IdentityStore, OidcStore};

pub use ldap::{DirectoryError, DirectoryGroup, DirectoryUser};
pub use oidc::OidcUserMeta;
pub use settings::{AuthMode, AuthSettings, ItemKind, LdapSettings, OidcSettings};

/// The stored hash of directory users: not an argon2 hash, so no password
/// ever matches it locally; their password is the directory's.
const NO_LOCAL_PASSWORD: &str = "!directory";

/// Harbor's answer when the mode would change under existing users.
pub const MODE_LOCKED: &str = "auth mode can not be modified as users other than admin exist (use force=true to change it anyway)";

/// One configuration item as `GET /configurations` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigItem {
    pub name: &'static str,
    /// `None` for write-only items (the search password).
    pub value: Option<Value>,
    /// False when the server's own configuration (file, flags) sets it.
    pub editable: bool,
}

/// What the server's configuration (TOML file, flags) says; it wins over the API.
#[derive(Debug, Clone, Default)]
pub struct DirectoryOptions {
    /// Items by Harbor's name.
    pub items: Vec<(String, Value)>,
    pub ca_file: Option<PathBuf>,
}

pub struct Directory {
    store: Arc<dyn IdentityStore>,
    access: Arc<Access>,
    key: Option<Arc<SecretKey>>,
    settings: RwLock<Arc<AuthSettings>>,
    /// Items the server's configuration sets: shown, not editable.
    fixed: RwLock<Vec<String>>,
    /// The server's configuration as `load` got it, for [`Directory::reload`].
    options: RwLock<DirectoryOptions>,
    /// Where a change of the settings is announced to the other replicas.
    changes: std::sync::OnceLock<Arc<dyn crate::metadata::ChangeFeed>>,
    oidc: oidc::OidcState,
}

fn unavailable(e: DirectoryError) -> RegistryError {
    RegistryError::api(ApiErrorKind::Unavailable, e.to_string())
}

impl Directory {
    pub fn new(
        store: Arc<dyn IdentityStore>,
        oidc_store: Arc<dyn OidcStore>,
        access: Arc<Access>,
        key: Option<Arc<SecretKey>>,
    ) -> Self {
        Directory {
            store,
            access,
            key,
            settings: RwLock::new(Arc::new(AuthSettings::default())),
            fixed: RwLock::new(Vec::new()),
            options: RwLock::new(DirectoryOptions::default()),
            changes: std::sync::OnceLock::new(),
            oidc: oidc::OidcState::new(oidc_store),
        }
    }

    /// The settings now in force.
    pub fn settings(&self) -> Arc<AuthSettings> {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn mode(&self) -> AuthMode {
        self.settings().mode
    }

    /// Read the stored items, then apply (and store) the server's configuration.
    pub async fn load(&self, options: DirectoryOptions) -> Result<()> {
        let (s, fixed) = self.read_settings(&options).await?;
        if !options.items.is_empty() {
            let stored = self.to_store(&options.items)?;
            self.store.set_configuration(&stored).await?;
        }
        tracing::info!(auth_mode = s.mode.name(), "authentication mode");
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
        *self.fixed.write().unwrap_or_else(|p| p.into_inner()) = fixed;
        *self.options.write().unwrap_or_else(|p| p.into_inner()) = options;
        Ok(())
    }

    /// Read the settings again from the store (another replica changed them).
    pub async fn reload(&self) -> Result<()> {
        let options = self
            .options
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (after, _) = self.read_settings(&options).await?;
        let before = self.settings();
        if after.oidc != before.oidc {
            self.oidc.forget_provider().await;
        }
        if after.mode != before.mode {
            tracing::info!(
                from = before.mode.name(),
                to = after.mode.name(),
                "authentication mode changed on another replica"
            );
        }
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(after);
        Ok(())
    }

    /// Announce changes of the settings on `feed` too (once, when services are wired).
    pub fn announce_changes_to(&self, feed: Arc<dyn crate::metadata::ChangeFeed>) {
        let _ = self.changes.set(feed);
    }

    /// The stored items with the server's configuration over them, and the
    /// names the latter sets.
    async fn read_settings(
        &self,
        options: &DirectoryOptions,
    ) -> Result<(AuthSettings, Vec<String>)> {
        let mut s = AuthSettings::default();
        for (name, kind) in settings::ITEMS {
            let Some(text) = self.store.configuration(name).await? else {
                continue;
            };
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| RegistryError::Internal(format!("configuration {name}: {e}")))?;
            let v = if *kind == ItemKind::Password {
                Value::String(self.open_secret(name, &v)?)
            } else {
                v
            };
            if let Err(e) = s.set(name, &v) {
                tracing::warn!(item = name, error = %e, "ignoring a stored configuration item");
            }
        }
        let mut fixed = Vec::new();
        for (name, v) in &options.items {
            s.set(name, v)
                .map_err(|e| RegistryError::Internal(format!("server configuration: {e}")))?;
            fixed.push(name.clone());
        }
        s.ldap.ca_file = options.ca_file.clone();
        Ok((s, fixed))
    }

    fn open_secret(&self, name: &str, stored: &Value) -> Result<String> {
        let sealed = stored.as_str().and_then(|h| hex::decode(h).ok());
        let opened = sealed.zip(self.key.as_ref()).and_then(|(s, k)| k.open(&s));
        opened.ok_or_else(|| {
            RegistryError::Internal(format!(
                "the stored {name} cannot be opened with this server's secret key; set it again"
            ))
        })
    }

    /// Items as stored: JSON text, secrets sealed.
    fn to_store(&self, items: &[(String, Value)]) -> Result<Vec<(String, String)>> {
        items
            .iter()
            .map(|(name, v)| {
                let v = if settings::item_kind(name) == Some(ItemKind::Password) {
                    let key = self.key.as_ref().ok_or_else(|| {
                        RegistryError::bad_request(format!(
                            "{name} needs the server's secret key (--secret-key-file)"
                        ))
                    })?;
                    Value::String(hex::encode(key.seal(v.as_str().unwrap_or_default())))
                } else {
                    v.clone()
                };
                Ok((name.clone(), v.to_string()))
            })
            .collect()
    }

    /// `GET /configurations`: every item, the password never.
    pub fn configurations(&self, who: &Principal) -> Result<Vec<ConfigItem>> {
        self.access
            .require_system(who, SystemAction::ManageConfigurations)?;
        let s = self.settings();
        let fixed = self.fixed.read().unwrap_or_else(|p| p.into_inner());
        Ok(settings::ITEMS
            .iter()
            .map(|(name, _)| ConfigItem {
                name,
                value: s.get(name),
                editable: !fixed.iter().any(|f| f == name),
            })
            .collect())
    }

    /// `PUT /configurations`: all items or none. Changing the mode is refused
    /// while users other than `admin` exist, unless `force`.
    pub async fn update(
        &self,
        who: &Principal,
        ip: Option<&str>,
        items: &Map<String, Value>,
        force: bool,
    ) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageConfigurations)?;
        let before = self.settings();
        let mut after = (*before).clone();
        {
            let fixed = self.fixed.read().unwrap_or_else(|p| p.into_inner());
            for (name, v) in items {
                if fixed.iter().any(|f| f == name) {
                    return Err(RegistryError::bad_request(format!(
                        "{name} is set by the server's configuration file or flags"
                    )));
                }
                after.set(name, v)?;
            }
        }
        if after.mode != before.mode && !force && self.store.count_users().await? > 1 {
            return Err(RegistryError::bad_request(MODE_LOCKED));
        }
        let list: Vec<(String, Value)> =
            items.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let stored = self.to_store(&list)?;
        self.store.set_configuration(&stored).await?;
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(after.clone());
        if let Some(feed) = self.changes.get()
            && let Err(e) = feed.announce(crate::metadata::Change::Configurations).await
        {
            tracing::warn!(error = %e, "announcing the configuration change to the other replicas");
        }
        self.access.forget_credentials();
        if after.oidc != before.oidc {
            self.oidc.forget_provider().await;
        }
        let names: Vec<&str> = items.keys().map(String::as_str).collect();
        self.access
            .audit(who, "update", "configuration", &names.join(","), ip);
        if after.mode != before.mode {
            tracing::info!(
                from = before.mode.name(),
                to = after.mode.name(),
                by = who.name(),
                "authentication mode changed"
            );
            self.access.audit(
                who,
                "update",
                "auth_mode",
                &format!("{} -> {}", before.mode.name(), after.mode.name()),
                ip,
            );
        }
        Ok(())
    }

    /// The LDAP settings with `overrides` (a `/ldap/ping` body) applied.
    fn ldap_with(&self, overrides: &Map<String, Value>) -> Result<LdapSettings> {
        let mut s = (*self.settings()).clone();
        for (name, v) in overrides {
            // An empty password in a ping means "the stored one", as Harbor's portal sends it.
            if name == "ldap_search_password" && v.as_str().is_some_and(str::is_empty) {
                continue;
            }
            if name.starts_with("ldap_") {
                s.set(name, v)?;
            }
        }
        Ok(s.ldap)
    }

    /// `POST /ldap/ping`: can the directory be reached and bound with these settings?
    /// `Ok(Err(reason))` when not.
    pub async fn ping(
        &self,
        who: &Principal,
        overrides: &Map<String, Value>,
    ) -> Result<std::result::Result<(), String>> {
        self.access
            .require_system(who, SystemAction::ManageConfigurations)?;
        let s = self.ldap_with(overrides)?;
        Ok(match ldap::Session::open(&s).await {
            Ok(session) => {
                session.close().await;
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        })
    }

    pub async fn search_users(
        &self,
        who: &Principal,
        username: &str,
    ) -> Result<Vec<DirectoryUser>> {
        self.access
            .require_system(who, SystemAction::ManageConfigurations)?;
        let s = self.settings();
        let mut session = ldap::Session::open(&s.ldap).await.map_err(unavailable)?;
        let found = session.search_users(username).await.map_err(unavailable);
        session.close().await;
        found
    }

    pub async fn search_groups(
        &self,
        who: &Principal,
        name: Option<&str>,
        dn: Option<&str>,
    ) -> Result<Vec<DirectoryGroup>> {
        self.access
            .require_system(who, SystemAction::ManageConfigurations)?;
        let s = self.settings();
        let mut session = ldap::Session::open(&s.ldap).await.map_err(unavailable)?;
        let found = session.search_groups(name, dn).await.map_err(unavailable);
        session.close().await;
        found
    }

    /// `POST /ldap/users/import`: onboard users by UID. The failures, with why.
    pub async fn import_users(
        &self,
        who: &Principal,
        ip: Option<&str>,
        uids: &[String],
    ) -> Result<Vec<(String, String)>> {
        self.access
            .require_system(who, SystemAction::ManageConfigurations)?;
        let s = self.settings();
        let mut session = ldap::Session::open(&s.ldap).await.map_err(unavailable)?;
        let mut failed = Vec::new();
        for uid in uids {
            match session.find_user(uid).await {
                Ok(found) if found.len() == 1 => {
                    if self.store.user_by_name(uid).await?.is_some() {
                        failed.push((uid.clone(), "user already exists".to_string()));
                        continue;
                    }
                    let user = self.onboard(uid, &found[0]).await?;
                    self.access.audit(who, "create", "user", &user.username, ip);
                }
                Ok(found) if found.is_empty() => {
                    failed.push((uid.clone(), "not found in the directory".to_string()))
                }
                Ok(_) => failed.push((
                    uid.clone(),
                    "more than one directory entry has this uid".to_string(),
                )),
                Err(e) => failed.push((uid.clone(), e.to_string())),
            }
        }
        session.close().await;
        Ok(failed)
    }

    /// The local row of a directory user, created on first sight.
    async fn onboard(&self, username: &str, found: &DirectoryUser) -> Result<User> {
        if let Some((u, _)) = self.store.user_by_name(username).await? {
            return Ok(u);
        }
        self.store
            .create_user(NewUser {
                username,
                password_hash: NO_LOCAL_PASSWORD,
                email: found.email.as_deref(),
                realname: found.realname.as_deref(),
                sysadmin: false,
            })
            .await?;
        tracing::info!(user = username, dn = %found.dn, "onboarded a directory user");
        self.store
            .user_by_name(username)
            .await?
            .map(|(u, _)| u)
            .ok_or_else(|| RegistryError::Internal("onboarded user vanished".into()))
    }

    /// Search, bind as the user, onboard, record the groups.
    async fn ldap_login(
        &self,
        s: &LdapSettings,
        username: &str,
        password: &str,
    ) -> Result<ExternalLogin> {
        const MODE: &str = "ldap_auth";
        let fail = |e: DirectoryError| {
            tracing::warn!(user = username, error = %e, "LDAP login could not be checked");
            RegistryError::new(
                ErrorCode::Unauthorized,
                "the LDAP directory could not be reached to check these credentials",
            )
        };
        if username.is_empty() || password.is_empty() || username.starts_with("robot") {
            return Ok(ExternalLogin::Rejected(MODE));
        }
        let mut session = ldap::Session::open(s).await.map_err(fail)?;
        let found = session.find_user(username).await.map_err(fail);
        let found = match found {
            Ok(f) => f,
            Err(e) => {
                session.close().await;
                return Err(e);
            }
        };
        let [entry] = found.as_slice() else {
            if found.len() > 1 {
                tracing::warn!(
                    user = username,
                    entries = found.len(),
                    "LDAP login refused: the uid is not unique"
                );
            }
            session.close().await;
            return Ok(ExternalLogin::Rejected(MODE));
        };
        let ok = session.check_password(&entry.dn, password).await;
        session.close().await;
        if !ok.map_err(fail)? {
            return Ok(ExternalLogin::Rejected(MODE));
        }
        let user = self.onboard(username, entry).await?;
        let groups = self.store.groups_by_dn(&entry.groups).await?;
        let ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
        self.store.set_user_groups(user.id, &ids).await?;
        let admin_group = !s.group_admin_dn.is_empty()
            && entry
                .groups
                .iter()
                .any(|g| g.eq_ignore_ascii_case(&s.group_admin_dn));
        Ok(ExternalLogin::Accepted(
            Principal::User {
                id: user.id,
                name: user.username,
                sysadmin: user.sysadmin || admin_group,
            },
            MODE,
        ))
    }
}

#[async_trait::async_trait]
impl ExternalAuthenticator for Directory {
    async fn login(&self, username: &str, password: &str) -> Result<ExternalLogin> {
        let s = self.settings();
        match s.mode {
            AuthMode::Ldap => self.ldap_login(&s.ldap, username, password).await,
            AuthMode::Oidc => self.oidc_secret_login(username, password).await,
            AuthMode::Db => Ok(ExternalLogin::NotInUse),
        }
    }

    fn mode(&self) -> &'static str {
        Directory::mode(self).name()
    }
}
