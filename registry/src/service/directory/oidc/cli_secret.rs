//! The CLI secret: what an OIDC user types as the password of `docker login`,
//! `skopeo` or Basic authentication, since the provider's password never reaches
//! Wharf. It is random, kept sealed (Harbor shows it back to its owner), rotated by
//! its owner, and good only while the provider still stands behind the user: once the
//! last confirmation (the access token's lifetime) has run out, the refresh token is
//! sent to the provider's token endpoint; a refusal refuses the secret.

use openidconnect::{OAuth2TokenResponse, RefreshToken};
use sha2::{Digest as _, Sha256};

use super::super::settings::AuthMode;
use super::{DEFAULT_RECHECK, Directory, provider, provider::error_chain, refused};
use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
use crate::error::{ApiErrorKind, RegistryError, Result};
use crate::metadata::identity::GROUP_TYPE_OIDC;
use crate::metadata::now;
use crate::service::access::ExternalLogin;

/// Harbor's `oidc_user_meta` of `/users/current`.
#[derive(Debug, Clone)]
pub struct OidcUserMeta {
    pub user_id: i64,
    /// Harbor's `subiss`: the subject followed by the issuer.
    pub subiss: String,
    pub secret: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Equal secrets, compared in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

impl Directory {
    /// A user name and CLI secret, in `oidc_auth` mode (the local `admin` and robots
    /// never get here: access checks them locally).
    pub(in crate::service::directory) async fn oidc_secret_login(
        &self,
        username: &str,
        secret: &str,
    ) -> Result<ExternalLogin> {
        const MODE: &str = "oidc_auth";
        let Some((user, _)) = self.store.user_by_name(username).await? else {
            return Ok(ExternalLogin::Rejected(MODE));
        };
        let Some(row) = self.oidc.store.oidc_user(user.id).await? else {
            return Ok(ExternalLogin::Rejected(MODE));
        };
        if !same(&self.open(&row.secret)?, secret) {
            return Ok(ExternalLogin::Rejected(MODE));
        }
        if now() >= row.token_valid_until {
            self.oidc_recheck(&user.username, &row).await?;
        }
        let s = self.settings();
        let admin = if s.oidc.admin_group.is_empty() {
            false
        } else {
            let mut admin = false;
            for id in self.store.user_groups(user.id).await? {
                if let Some(g) = self.store.group_by_id(id).await?
                    && g.group_type == GROUP_TYPE_OIDC
                    && g.group_name == s.oidc.admin_group
                {
                    admin = true;
                }
            }
            admin
        };
        Ok(ExternalLogin::Accepted(
            Principal::User {
                id: user.id,
                name: user.username,
                sysadmin: user.sysadmin || admin,
            },
            MODE,
        ))
    }

    /// Ask the provider whether the user's refresh token is still good; keep the
    /// (possibly rotated) token and the new validity. Any failure refuses the secret.
    async fn oidc_recheck(
        &self,
        username: &str,
        row: &crate::metadata::oidc::OidcUser,
    ) -> Result<()> {
        let gone = |why: String| {
            tracing::info!(user = username, reason = %why, "CLI secret refused: the OpenID provider no longer confirms the user");
            refused(format!(
                "the CLI secret of {username} is no longer valid: {why}; log in to Wharf through the OpenID provider again"
            ))
        };
        if row.refresh_token.is_empty() {
            return Err(gone(
                "the OpenID provider gave no refresh token to re-check it with".into(),
            ));
        }
        let s = self.settings();
        let discovered = self
            .oidc
            .provider
            .discover(&s.oidc)
            .await
            .map_err(|e| gone(format!("the OpenID provider could not be reached ({e})")))?;
        let client = provider::client(&s.oidc, &discovered, "http://localhost/")
            .map_err(RegistryError::Internal)?;
        let refresh = RefreshToken::new(self.open(&row.refresh_token)?);
        let token = client
            .exchange_refresh_token(&refresh)
            .map_err(|e| gone(e.to_string()))?
            .request_async(self.oidc.provider.http(&s.oidc))
            .await
            .map_err(|e| {
                gone(format!(
                    "the OpenID provider refused the refresh ({})",
                    error_chain(&e)
                ))
            })?;
        let sealed = match token.refresh_token() {
            Some(t) => self.seal(t.secret())?,
            None => row.refresh_token.clone(),
        };
        let valid = token
            .expires_in()
            .map_or(DEFAULT_RECHECK, |d| d.as_secs().min(86_400) as i64);
        let at = now();
        self.oidc
            .store
            .set_oidc_token(row.user_id, &sealed, at, at + valid)
            .await?;
        Ok(())
    }

    /// `oidc_user_meta` of `/users/current`: only for the user themself.
    pub async fn oidc_user_meta(&self, who: &Principal) -> Result<Option<OidcUserMeta>> {
        let Some(id) = who.user_id() else {
            return Ok(None);
        };
        let Some(row) = self.oidc.store.oidc_user(id).await? else {
            return Ok(None);
        };
        Ok(Some(OidcUserMeta {
            user_id: id,
            subiss: format!("{}{}", row.subject, row.issuer),
            secret: self.open(&row.secret)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }))
    }

    /// `PUT /users/{id}/cli_secret`: the user themself or a system administrator sets
    /// a new secret (Harbor's strength rule); the old one stops working at once.
    pub async fn set_cli_secret(
        &self,
        who: &Principal,
        ip: Option<&str>,
        user_id: i64,
        secret: &str,
    ) -> Result<()> {
        if who.user_id() != Some(user_id) {
            self.access.require_system(who, SystemAction::ManageUsers)?;
        }
        if self.mode() != AuthMode::Oidc {
            return Err(RegistryError::api(
                ApiErrorKind::Precondition,
                "the CLI secret exists only in auth_mode oidc_auth",
            ));
        }
        let (user, _) = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("user {user_id} not found")))?;
        crate::service::identity::check_password(secret).map_err(|_| {
            RegistryError::bad_request(
                "the secret must be 8 to 128 characters with at least one upper-case letter, one lower-case letter and one digit",
            )
        })?;
        let sealed = self.seal(secret)?;
        if !self.oidc.store.set_oidc_secret(user_id, &sealed).await? {
            return Err(RegistryError::api(
                ApiErrorKind::Precondition,
                format!(
                    "{} is not an OIDC user: it has no CLI secret",
                    user.username
                ),
            ));
        }
        self.access.forget_credentials();
        self.access
            .audit(who, "update", "cli_secret", &user.username, ip);
        Ok(())
    }
}
