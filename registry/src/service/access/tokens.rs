//! Bearer tokens, Docker-token style: issued for the subset of the requested
//! scopes the caller may have, verified (and remembered) on every request.

use std::sync::Arc;

use super::{Access, unauthorized};
use crate::auth::rbac::{SystemAction, scope_actions};
use crate::auth::token::{self, Access as ScopeAccess, Claims};
use crate::auth::{Principal, password, project_of};
use crate::error::Result;
use crate::metadata::now;
use crate::service::time_rfc3339;

/// A token as the token endpoint returns it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub access_token: String,
    pub expires_in: u64,
    pub issued_at: String,
}

impl Access {
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
                access.push(ScopeAccess {
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

    async fn grant(&self, who: &Principal, want: &ScopeAccess) -> Result<Vec<String>> {
        if want.kind == "registry" {
            let all = want.name == "catalog" && who.may_system(SystemAction::ReadCatalog);
            return Ok(if all { want.actions.clone() } else { vec![] });
        }
        if want.kind != "repository" || crate::names::RepoName::parse(&want.name).is_err() {
            return Ok(vec![]);
        }
        let project = project_of(&want.name);
        let mut out = Vec::new();
        for action in &want.actions {
            let Some(needed) = scope_actions(action) else {
                continue;
            };
            if self.may_all(who, project, needed).await? {
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
