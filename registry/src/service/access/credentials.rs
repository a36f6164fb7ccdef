//! Checking credentials: argon2 off the async threads, throttled per user and
//! address, and remembered for a short while so a burst of Basic-auth requests
//! costs one check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::{Access, ExternalLogin, unauthorized};
use crate::auth::{Principal, password, robot_grants};
use crate::error::{RegistryError, Result};
use crate::metadata::now;

/// Verified credentials are remembered this long, so a burst of Basic-auth
/// requests costs one argon2 check, not one each.
const CREDENTIAL_CACHE: Duration = Duration::from_secs(30);

/// At most this many verified credentials are remembered at once.
const CREDENTIAL_CACHE_ENTRIES: usize = 10_000;

impl Access {
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
        if let Some(p) = auth.cached(&cache_key) {
            return Ok(p);
        }
        // One check per credential at a time: when the entry is missing or has
        // just expired, a client's 16 parallel requests would otherwise run
        // argon2 16 times at once (p99 of hundreds of milliseconds). The others
        // wait for the first and take its result from the cache.
        let slot = auth
            .checking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(cache_key)
            .or_default()
            .clone();
        let _turn = slot.lock().await;
        let result = self
            .authenticate_uncached(auth, cache_key, username, secret, client_ip)
            .await;
        {
            let mut checking = auth.checking.lock().unwrap_or_else(|e| e.into_inner());
            // The last one out removes the slot (the map holds one reference,
            // this request another).
            if checking
                .get(&cache_key)
                .is_some_and(|s| Arc::ptr_eq(s, &slot) && Arc::strong_count(s) == 2)
            {
                checking.remove(&cache_key);
            }
        }
        result
    }

    /// The check itself, with this credential's turn held: the cache again (the
    /// request before may just have filled it), then rate limit, throttle, argon2.
    async fn authenticate_uncached(
        &self,
        auth: &super::AuthState,
        cache_key: [u8; 32],
        username: &str,
        secret: &str,
        client_ip: Option<&str>,
    ) -> Result<Principal> {
        if let Some(p) = auth.cached(&cache_key) {
            return Ok(p);
        }
        // A guesser's every attempt misses the cache: each costs one unit of its
        // address's budget before argon2 runs.
        if let (Some(rate), Some(ip)) = (
            &auth.login_rate,
            client_ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok()),
        ) && let Err(wait) = rate.check(ip)
        {
            tracing::info!(client = %ip, "credential checks over the rate limit");
            return Err(RegistryError::RateLimited {
                message: "too many authentication attempts from this address; try again later"
                    .into(),
                retry_after: crate::rate_limit::retry_after_secs(wait),
            });
        }
        let user_key = format!("user:{username}");
        let ip_key = format!("ip:{}", client_ip.unwrap_or("-"));
        let delay = auth.throttle.delay(&[&user_key, &ip_key]);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let (found, mode) = match self.check_credentials(username, secret).await {
            Ok(found) => found,
            Err(e) => {
                // The directory could not answer: nobody is let in, and the
                // attempt counts as a failure for throttling all the same.
                auth.throttle.failed(&[&user_key, &ip_key]);
                let mode = self.external().map_or("db_auth", |x| x.mode());
                self.audit_login(username, mode, false, client_ip);
                return Err(e);
            }
        };
        match found {
            Some(p) => {
                auth.throttle.succeeded(&user_key);
                auth.remember(cache_key, &p);
                self.audit_login(username, mode, true, client_ip);
                Ok(p)
            }
            None => {
                auth.throttle.failed(&[&user_key, &ip_key]);
                self.audit_login(username, mode, false, client_ip);
                tracing::info!(
                    user = username,
                    client = client_ip.unwrap_or("-"),
                    mode,
                    "authentication failed"
                );
                Err(unauthorized("invalid user name or password"))
            }
        }
    }

    /// argon2 runs on the blocking pool: it is deliberately slow.
    /// The principal, and the authentication mode that decided (`db_auth` for local
    /// accounts and robots). The local `admin` is always checked locally, so a
    /// directory that is down or misconfigured never locks the administrator out.
    async fn check_credentials(
        &self,
        username: &str,
        secret: &str,
    ) -> Result<(Option<Principal>, &'static str)> {
        if !username.starts_with("robot$")
            && username != "admin"
            && let Some(external) = self.external()
        {
            match external.login(username, secret).await? {
                ExternalLogin::NotInUse => {}
                ExternalLogin::Accepted(p, mode) => return Ok((Some(p), mode)),
                ExternalLogin::Rejected(mode) => return Ok((None, mode)),
            }
        }
        Ok((self.check_local(username, secret).await?, "db_auth"))
    }

    async fn check_local(&self, username: &str, secret: &str) -> Result<Option<Principal>> {
        let verify = |secret: String, hash: Option<String>| {
            password::limited(move || match hash {
                Some(h) => password::verify(&secret, &h),
                None => {
                    password::verify_dummy(&secret);
                    false
                }
            })
        };
        if username.starts_with("robot$") {
            let found = self.identity.robot_by_name(username).await?;
            let ok = verify(secret.to_string(), found.as_ref().map(|(_, h)| h.clone())).await;
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
        let ok = verify(secret.to_string(), found.as_ref().map(|(_, h)| h.clone())).await;
        Ok(found.filter(|_| ok).map(|(u, _)| Principal::User {
            id: u.id,
            name: u.username,
            sysadmin: u.sysadmin,
        }))
    }
}

impl super::AuthState {
    /// The principal these credentials were verified as, if that was recent.
    fn cached(&self, key: &[u8; 32]) -> Option<Principal> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(key)
            .filter(|(_, at)| at.elapsed() < CREDENTIAL_CACHE)
            .map(|(p, _)| p.clone())
    }

    /// Remember a successful check. The map is bounded: past
    /// `CREDENTIAL_CACHE_ENTRIES`, expired entries go, and if all are fresh,
    /// everything (the next request of each client checks again).
    fn remember(&self, key: [u8; 32], p: &Principal) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CREDENTIAL_CACHE_ENTRIES {
            cache.retain(|_, (_, at)| at.elapsed() < CREDENTIAL_CACHE);
            if cache.len() >= CREDENTIAL_CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, (p.clone(), Instant::now()));
    }
}
