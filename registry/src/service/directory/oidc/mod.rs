//! OpenID Connect login (Harbor's `oidc_auth`): the authorization-code flow with
//! PKCE (`/c/oidc/login` → the provider → `/c/oidc/callback`), the ID token checked
//! by `openidconnect` (signature against the provider's keys, fetched again when it
//! rotates them; `iss`, `aud`, `exp`, `nonce`), users onboarded with their groups,
//! and the CLI secret that stands in for a password (see [`cli_secret`]).
//!
//! A flow's state, nonce and PKCE verifier are kept in the database (`oidc_logins`),
//! so any server process may receive the callback, and deleted when the callback
//! takes them: a replayed callback finds nothing.

mod cli_secret;
mod provider;

use std::sync::Arc;

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    Scope, TokenResponse,
};
use rand_core::{OsRng, RngCore};
use serde_json::{Map, Value};

use super::settings::{AuthMode, OidcSettings};
use super::{Directory, NO_LOCAL_PASSWORD};
use crate::error::{ApiErrorKind, ErrorCode, RegistryError, Result};
use crate::metadata::OidcStore;
use crate::metadata::identity::{NewUser, User};
use crate::metadata::now;
use crate::metadata::oidc::{OidcLogin, OidcUser};

pub use cli_secret::OidcUserMeta;
use provider::{Provider, error_chain};

/// A flow must come back from the provider within this many seconds.
const FLOW_LIFETIME: i64 = 600;
/// Flows under way at once; beyond, new logins are refused until some finish or expire.
const MAX_PENDING_FLOWS: i64 = 10_000;
/// Without an access-token lifetime from the provider, the provider is asked again
/// about a CLI secret's user after this many seconds.
const DEFAULT_RECHECK: i64 = 300;
/// The authentication mode's name in the audit log.
const MODE: &str = "oidc_auth";

/// What the directory keeps for OpenID Connect.
pub(super) struct OidcState {
    store: Arc<dyn OidcStore>,
    provider: Provider,
}

impl OidcState {
    pub(super) fn new(store: Arc<dyn OidcStore>) -> Self {
        OidcState {
            store,
            provider: Provider::new(),
        }
    }

    /// The settings changed: discover the provider again on next use.
    pub(super) async fn forget_provider(&self) {
        self.provider.forget().await;
    }
}

fn refused(msg: impl Into<String>) -> RegistryError {
    RegistryError::new(ErrorCode::Unauthorized, msg)
}

fn provider_down(msg: impl std::fmt::Display) -> RegistryError {
    RegistryError::api(
        ApiErrorKind::Unavailable,
        format!("the OpenID provider could not be used: {msg}"),
    )
}

fn random_secret() -> String {
    // 32 random letters and digits, with at least one of each kind (Harbor's rule
    // for secrets set by hand holds for generated ones too).
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    loop {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let s: String = bytes
            .iter()
            .map(|b| CHARS[(*b as usize) % CHARS.len()] as char)
            .collect();
        if crate::service::identity::check_password(&s).is_ok() {
            return s;
        }
    }
}

/// The user name the claims give: `oidc_user_claim`, else `name`, else
/// `preferred_username` (Harbor's order).
fn username_of(s: &OidcSettings, claims: &Map<String, Value>) -> Result<String> {
    let pick = |c: &str| claims.get(c).and_then(Value::as_str).map(str::trim);
    let name = if s.user_claim.is_empty() {
        pick("name")
            .filter(|n| !n.is_empty())
            .or_else(|| pick("preferred_username"))
    } else {
        pick(&s.user_claim)
    };
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        let claim = if s.user_claim.is_empty() {
            "name or preferred_username"
        } else {
            &s.user_claim
        };
        return Err(refused(format!(
            "the ID token has no {claim} claim to name the user"
        )));
    };
    // A name that Basic authentication cannot carry, or that could pass for a
    // robot or the local administrator, is refused rather than altered.
    if name.len() > 255
        || name.contains(':')
        || name.chars().any(char::is_control)
        || name.starts_with("robot")
        || name == "admin"
    {
        return Err(refused(format!(
            "the user name {name:?} from the ID token cannot be used in Wharf"
        )));
    }
    Ok(name.to_string())
}

/// The group names the claims give, filtered by `oidc_group_filter`; and whether
/// the user is in `oidc_admin_group`.
fn groups_of(s: &OidcSettings, claims: &Map<String, Value>) -> (Vec<String>, bool) {
    if s.groups_claim.is_empty() {
        return (Vec::new(), false);
    }
    let all: Vec<String> = match claims.get(&s.groups_claim) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let admin = !s.admin_group.is_empty() && all.contains(&s.admin_group);
    let filter = (!s.group_filter.is_empty())
        .then(|| regex::Regex::new(&s.group_filter).ok())
        .flatten();
    let kept = all
        .into_iter()
        .filter(|g| !g.is_empty() && g.len() <= 255)
        .filter(|g| filter.as_ref().is_none_or(|f| f.is_match(g)) || *g == s.admin_group)
        .collect();
    (kept, admin)
}

/// The claims of an ID token that `openidconnect` verified, as JSON: the groups
/// and user name claims are whatever the provider calls them.
fn claims_json(id_token: &str) -> Result<Map<String, Value>> {
    use base64::Engine as _;
    let payload = id_token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok());
    payload.ok_or_else(|| refused("the ID token's claims are not a JSON object"))
}

impl Directory {
    fn oidc_settings(&self) -> Result<OidcSettings> {
        let s = self.settings();
        if s.mode != AuthMode::Oidc {
            return Err(RegistryError::api(
                ApiErrorKind::Precondition,
                "OIDC login needs auth_mode oidc_auth",
            ));
        }
        if s.oidc.endpoint.is_empty() || s.oidc.client_id.is_empty() {
            return Err(RegistryError::api(
                ApiErrorKind::Precondition,
                "OIDC login needs oidc_endpoint and oidc_client_id",
            ));
        }
        Ok(s.oidc.clone())
    }

    fn seal(&self, plain: &str) -> Result<String> {
        let key = self.key.as_ref().ok_or_else(|| {
            RegistryError::Internal("OIDC login needs the server's secret key".into())
        })?;
        Ok(hex::encode(key.seal(plain)))
    }

    fn open(&self, sealed: &str) -> Result<String> {
        let opened = hex::decode(sealed)
            .ok()
            .zip(self.key.as_ref())
            .and_then(|(s, k)| k.open(&s));
        opened.ok_or_else(|| {
            RegistryError::Internal(
                "a sealed OIDC value cannot be opened with this server's secret key".into(),
            )
        })
    }

    /// The provider's display name in `oidc_auth` mode (Harbor's `oidc_provider_name`
    /// of `/systeminfo`), empty otherwise.
    pub fn oidc_provider_name(&self) -> String {
        let s = self.settings();
        if s.mode == AuthMode::Oidc {
            s.oidc.name.clone()
        } else {
            String::new()
        }
    }

    /// `GET /c/oidc/login`: the provider's authorization URL to send the browser to.
    /// The flow's state, nonce and PKCE verifier are recorded for the callback.
    pub async fn oidc_login_start(&self, redirect_uri: &str) -> Result<String> {
        let s = self.oidc_settings()?;
        let discovered = self
            .oidc
            .provider
            .discover(&s)
            .await
            .map_err(provider_down)?;
        let client =
            provider::client(&s, &discovered, redirect_uri).map_err(RegistryError::Internal)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in s.scopes().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.to_string()));
        }
        // Providers hand out refresh tokens for offline_access only with explicit
        // consent (OpenID Connect Core 11); Harbor asks for it the same way.
        if s.scopes().any(|s| s == "offline_access") {
            request = request.add_prompt(openidconnect::core::CoreAuthPrompt::Consent);
        }
        let (url, state, nonce) = request.url();
        let login = OidcLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: self.seal(verifier.secret())?,
            redirect_uri: redirect_uri.to_string(),
            created_at: now(),
        };
        if !self
            .oidc
            .store
            .begin_oidc_login(&login, now() - FLOW_LIFETIME, MAX_PENDING_FLOWS)
            .await?
        {
            return Err(RegistryError::RateLimited {
                message: "too many OIDC logins under way; try again later".into(),
                retry_after: 60,
            });
        }
        Ok(url.to_string())
    }

    /// `GET /c/oidc/callback`: finish a login the provider sent back. The code is
    /// exchanged (with the PKCE verifier), the ID token checked, the user onboarded
    /// (with `oidc_auto_onboard`) or found, their groups recorded, the refresh
    /// token kept sealed. Every outcome is audited.
    ///
    /// This is the one entry point a browser session starts from: the returned
    /// user's `sysadmin` is the effective flag (their own, or the admin group's).
    ///
    /// `iss` is the callback's issuer parameter (RFC 9207), when the provider sends
    /// one: a response from another issuer than the configured one is refused.
    pub async fn oidc_login_complete(
        &self,
        state: &str,
        code: &str,
        iss: Option<&str>,
        client_ip: Option<&str>,
    ) -> Result<User> {
        match self.oidc_callback(state, code, iss).await {
            Ok(user) => {
                self.access
                    .audit_login(&user.username, MODE, true, client_ip);
                tracing::info!(user = %user.username, "OIDC login");
                Ok(user)
            }
            Err((who, e)) => {
                self.access
                    .audit_login(who.as_deref().unwrap_or("-"), MODE, false, client_ip);
                tracing::info!(user = who.as_deref().unwrap_or("-"), error = %e, "OIDC login refused");
                Err(e)
            }
        }
    }

    /// The login, or why not (with the user's name when the token named one).
    async fn oidc_callback(
        &self,
        state: &str,
        code: &str,
        iss: Option<&str>,
    ) -> std::result::Result<User, (Option<String>, RegistryError)> {
        let anon = |e: RegistryError| (None, e);
        let s = self.oidc_settings().map_err(anon)?;
        let pending = self
            .oidc
            .store
            .take_oidc_login(state)
            .await
            .map_err(|e| anon(e.into()))?
            .ok_or_else(|| {
                anon(refused(
                    "this login is unknown or was already used (state); start again",
                ))
            })?;
        if pending.created_at < now() - FLOW_LIFETIME {
            return Err(anon(refused("this login took too long; start again")));
        }
        let verifier = PkceCodeVerifier::new(self.open(&pending.verifier).map_err(anon)?);
        let mut discovered = self
            .oidc
            .provider
            .discover(&s)
            .await
            .map_err(|e| anon(provider_down(e)))?;
        if let Some(iss) = iss
            && iss != discovered.metadata.issuer().as_str()
        {
            return Err(anon(refused(format!(
                "the authorization response comes from another issuer ({iss})"
            ))));
        }
        let client = provider::client(&s, &discovered, &pending.redirect_uri)
            .map_err(|e| anon(RegistryError::Internal(e)))?;
        let http = self.oidc.provider.http(&s);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| anon(provider_down(e)))?
            .set_pkce_verifier(verifier)
            .request_async(http)
            .await
            .map_err(|e| {
                anon(refused(format!(
                    "the OpenID provider did not accept the authorization code: {}",
                    error_chain(&e)
                )))
            })?;
        let id_token = token
            .id_token()
            .ok_or_else(|| anon(refused("the OpenID provider sent no ID token")))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let mut client = client;
        let mut verified = id_token
            .claims(&client.id_token_verifier(), &nonce)
            .map(|c| c.subject().to_string());
        if let Err(openidconnect::ClaimsVerificationError::SignatureVerification(
            openidconnect::SignatureVerificationError::NoMatchingKey,
        )) = &verified
        {
            // The provider may have rotated its keys: fetch them again (bounded).
            if let Some(fresh) = self
                .oidc
                .provider
                .refetch_keys(&s, &discovered)
                .await
                .map_err(|e| anon(provider_down(e)))?
            {
                discovered = fresh;
                client = provider::client(&s, &discovered, &pending.redirect_uri)
                    .map_err(|e| anon(RegistryError::Internal(e)))?;
                verified = id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map(|c| c.subject().to_string());
            }
        }
        let subject = verified.map_err(|e| {
            anon(refused(format!(
                "the ID token is not valid: {}",
                error_chain(&e)
            )))
        })?;
        let claims = claims_json(&id_token.to_string()).map_err(anon)?;
        let username = username_of(&s, &claims).map_err(anon)?;
        let named = |e: RegistryError| (Some(username.clone()), e);
        let (groups, admin) = groups_of(&s, &claims);
        let issuer = discovered.metadata.issuer().as_str().to_string();
        let user = self
            .oidc_onboard(&s, &issuer, &subject, &username, &claims)
            .await
            .map_err(named)?;
        let refresh = match token.refresh_token() {
            Some(t) => self.seal(t.secret()).map_err(named)?,
            None => String::new(),
        };
        let valid = token
            .expires_in()
            .map_or(DEFAULT_RECHECK, |d| d.as_secs().min(86_400) as i64);
        let at = now();
        let existing = self
            .oidc
            .store
            .oidc_user(user.id)
            .await
            .map_err(|e| named(e.into()))?;
        let secret = match existing {
            Some(row) if row.issuer == issuer && row.subject == subject => row.secret,
            _ => self.seal(&random_secret()).map_err(named)?,
        };
        self.oidc
            .store
            .put_oidc_user(&OidcUser {
                user_id: user.id,
                issuer,
                subject,
                secret,
                refresh_token: refresh,
                token_checked_at: at,
                token_valid_until: at + valid,
                created_at: at,
                updated_at: at,
            })
            .await
            .map_err(|e| named(e.into()))?;
        let ids = self
            .oidc
            .store
            .oidc_groups(&groups)
            .await
            .map_err(|e| named(e.into()))?;
        self.store
            .set_user_groups(user.id, &ids)
            .await
            .map_err(|e| named(e.into()))?;
        // Memberships and secrets are read at login: the next request logs in afresh.
        self.access.forget_credentials();
        Ok(User {
            sysadmin: user.sysadmin || admin,
            ..user
        })
    }

    /// The local row of an OIDC user: found by the token's issuer and subject, or by
    /// name on first login (created with `oidc_auto_onboard`, refused otherwise). A
    /// name held by another account (a local user, a different subject) is refused.
    async fn oidc_onboard(
        &self,
        s: &OidcSettings,
        issuer: &str,
        subject: &str,
        username: &str,
        claims: &Map<String, Value>,
    ) -> Result<User> {
        if let Some(row) = self
            .oidc
            .store
            .oidc_user_by_subject(issuer, subject)
            .await?
            && let Some((u, _)) = self.store.user_by_id(row.user_id).await?
        {
            return Ok(u);
        }
        if self.store.user_by_name(username).await?.is_some() {
            return Err(RegistryError::conflict(format!(
                "the user name {username} is held by another account; it cannot be given to this OpenID identity"
            )));
        }
        if !s.auto_onboard {
            return Err(refused(format!(
                "{username} has no account in Wharf and oidc_auto_onboard is off: an administrator must enable onboarding"
            )));
        }
        let email = claims.get("email").and_then(Value::as_str);
        let realname = claims.get("name").and_then(Value::as_str);
        self.store
            .create_user(NewUser {
                username,
                password_hash: NO_LOCAL_PASSWORD,
                email,
                realname,
                sysadmin: false,
            })
            .await?
            .ok_or_else(|| RegistryError::conflict(format!("user {username} already exists")))?;
        tracing::info!(user = username, "onboarded an OIDC user");
        self.store
            .user_by_name(username)
            .await?
            .map(|(u, _)| u)
            .ok_or_else(|| RegistryError::Internal("onboarded user vanished".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_user_is_named_by_the_configured_claim_else_name_else_preferred_username() {
        let mut s = OidcSettings::default();
        let c = claims(json!({"name": "Alice A", "preferred_username": "alice", "email": "a@x"}));
        assert_eq!(username_of(&s, &c).unwrap(), "Alice A");
        let c2 = claims(json!({"preferred_username": "alice"}));
        assert_eq!(username_of(&s, &c2).unwrap(), "alice");
        s.user_claim = "email".into();
        assert_eq!(username_of(&s, &c).unwrap(), "a@x");
        s.user_claim = "upn".into();
        assert!(username_of(&s, &c).is_err());
        // Names Basic authentication cannot carry, or that pass for others, are refused.
        s.user_claim = String::new();
        for bad in ["a:b", "admin", "robot$x", "tab\there", ""] {
            let c = claims(json!({ "name": bad }));
            assert!(username_of(&s, &c).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn groups_are_read_filtered_and_the_admin_group_told_apart() {
        let mut s = OidcSettings::default();
        let c = claims(json!({"groups": ["dev-team", "ops", "admins"], "roles": "one"}));
        assert_eq!(groups_of(&s, &c), (vec![], false));
        s.groups_claim = "groups".into();
        s.admin_group = "admins".into();
        let (g, admin) = groups_of(&s, &c);
        assert_eq!(g, ["dev-team", "ops", "admins"]);
        assert!(admin);
        // The filter keeps matching groups (and the admin group, which grants access).
        s.group_filter = "^dev-".into();
        assert_eq!(groups_of(&s, &c).0, ["dev-team", "admins"]);
        // A single group given as a string counts as one.
        s.groups_claim = "roles".into();
        s.group_filter = String::new();
        assert_eq!(groups_of(&s, &c), (vec!["one".to_string()], false));
    }

    #[test]
    fn generated_secrets_meet_harbors_rule() {
        for _ in 0..100 {
            let s = random_secret();
            assert_eq!(s.len(), 32);
            assert!(crate::service::identity::check_password(&s).is_ok(), "{s}");
        }
        assert_ne!(random_secret(), random_secret());
    }
}
