//! What the registry keeps for OpenID Connect: each OIDC user's subject, CLI secret
//! and refresh token (both sealed by the service before they get here), and the
//! authorization-code flows under way (state, nonce, PKCE verifier), each used once.

use async_trait::async_trait;

use super::Result;

/// An OIDC user's row. `secret` and `refresh_token` are sealed (hex) by the caller;
/// the store never sees them in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcUser {
    pub user_id: i64,
    pub issuer: String,
    pub subject: String,
    pub secret: String,
    /// Empty when the provider gave none.
    pub refresh_token: String,
    /// When the provider last confirmed the user (login or refresh), epoch seconds.
    pub token_checked_at: i64,
    /// Until when that confirmation holds (the access token's expiry).
    pub token_valid_until: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A code flow started by `/c/oidc/login` and not yet finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcLogin {
    pub state: String,
    pub nonce: String,
    /// The PKCE verifier, sealed (hex).
    pub verifier: String,
    pub redirect_uri: String,
    pub created_at: i64,
}

#[async_trait]
pub trait OidcStore: Send + Sync + 'static {
    async fn oidc_user(&self, user_id: i64) -> Result<Option<OidcUser>>;
    async fn oidc_user_by_subject(&self, issuer: &str, subject: &str) -> Result<Option<OidcUser>>;
    /// Writes the row of `user.user_id` (created, or replaced at a new login;
    /// `created_at` of an existing row is kept).
    async fn put_oidc_user(&self, user: &OidcUser) -> Result<()>;
    /// False when the user has no OIDC row.
    async fn set_oidc_secret(&self, user_id: i64, secret: &str) -> Result<bool>;
    /// A refresh succeeded: the (possibly rotated) refresh token and its new validity.
    async fn set_oidc_token(
        &self,
        user_id: i64,
        refresh_token: &str,
        checked_at: i64,
        valid_until: i64,
    ) -> Result<bool>;
    /// The ids of the OIDC user groups (group_type 3) with these names, creating the
    /// missing ones, in the order of `names` (duplicates once).
    async fn oidc_groups(&self, names: &[String]) -> Result<Vec<i64>>;
    /// Records a flow after purging those created before `expired_before`; false (and
    /// nothing recorded) when `max_pending` flows are still under way.
    async fn begin_oidc_login(
        &self,
        login: &OidcLogin,
        expired_before: i64,
        max_pending: i64,
    ) -> Result<bool>;
    /// Takes a flow by its state: the row is gone afterwards, so a second call
    /// with the same state (a replayed callback) finds nothing.
    async fn take_oidc_login(&self, state: &str) -> Result<Option<OidcLogin>>;
}
