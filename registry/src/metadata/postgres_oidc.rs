//! [`OidcStore`] on PostgreSQL: `sqlite_oidc.rs`'s twin, in the same order.

use async_trait::async_trait;
use sqlx::Row;

use super::oidc::{OidcLogin, OidcStore, OidcUser};
use super::sqlite_oidc::oidc_user;
use super::{PgMetadata, Result, now};

#[async_trait]
impl OidcStore for PgMetadata {
    async fn oidc_user(&self, user_id: i64) -> Result<Option<OidcUser>> {
        let row = sqlx::query("SELECT * FROM oidc_users WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(oidc_user).transpose()
    }

    async fn oidc_user_by_subject(&self, issuer: &str, subject: &str) -> Result<Option<OidcUser>> {
        let row = sqlx::query("SELECT * FROM oidc_users WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(oidc_user).transpose()
    }

    async fn put_oidc_user(&self, u: &OidcUser) -> Result<()> {
        sqlx::query(
            "INSERT INTO oidc_users (user_id, issuer, subject, secret, refresh_token,
                 token_checked_at, token_valid_until, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT(user_id) DO UPDATE SET issuer = excluded.issuer,
                 subject = excluded.subject, secret = excluded.secret,
                 refresh_token = excluded.refresh_token,
                 token_checked_at = excluded.token_checked_at,
                 token_valid_until = excluded.token_valid_until,
                 updated_at = excluded.updated_at",
        )
        .bind(u.user_id)
        .bind(&u.issuer)
        .bind(&u.subject)
        .bind(&u.secret)
        .bind(&u.refresh_token)
        .bind(u.token_checked_at)
        .bind(u.token_valid_until)
        .bind(u.created_at)
        .bind(u.updated_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn set_oidc_secret(&self, user_id: i64, secret: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE oidc_users SET secret = $1, updated_at = $2 WHERE user_id = $3")
                .bind(secret)
                .bind(now())
                .bind(user_id)
                .execute(&self.write)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_oidc_token(
        &self,
        user_id: i64,
        refresh_token: &str,
        checked_at: i64,
        valid_until: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE oidc_users SET refresh_token = $1, token_checked_at = $2,
                 token_valid_until = $3, updated_at = $4 WHERE user_id = $5",
        )
        .bind(refresh_token)
        .bind(checked_at)
        .bind(valid_until)
        .bind(now())
        .bind(user_id)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn oidc_groups(&self, names: &[String]) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(names.len());
        if names.is_empty() {
            return Ok(ids);
        }
        let now = now();
        let mut tx = self.write.begin().await?;
        for name in names {
            sqlx::query(
                "INSERT INTO user_groups (group_name, group_type, ldap_group_dn, created_at, updated_at)
                 VALUES ($1, 3, '', $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(name)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let id: i64 = sqlx::query_scalar(
                "SELECT id FROM user_groups WHERE group_type = 3 AND group_name = $1",
            )
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn begin_oidc_login(
        &self,
        login: &OidcLogin,
        expired_before: i64,
        max_pending: i64,
    ) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM oidc_logins WHERE created_at < $1")
            .bind(expired_before)
            .execute(&mut *tx)
            .await?;
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM oidc_logins")
            .fetch_one(&mut *tx)
            .await?;
        if pending >= max_pending {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO oidc_logins (state, nonce, verifier, redirect_uri, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&login.state)
        .bind(&login.nonce)
        .bind(&login.verifier)
        .bind(&login.redirect_uri)
        .bind(login.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn take_oidc_login(&self, state: &str) -> Result<Option<OidcLogin>> {
        let row = sqlx::query("DELETE FROM oidc_logins WHERE state = $1 RETURNING *")
            .bind(state)
            .fetch_optional(&self.write)
            .await?;
        row.map(|r| {
            Ok(OidcLogin {
                state: r.try_get("state")?,
                nonce: r.try_get("nonce")?,
                verifier: r.try_get("verifier")?,
                redirect_uri: r.try_get("redirect_uri")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }
}
