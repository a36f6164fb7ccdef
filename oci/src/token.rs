//! Docker token authentication for the requests made outside oci-client, with
//! scopes chosen per request and tokens kept until shortly before they expire.
//!
//! oci-client asks for one scope per token (`repository:<repo>:pull[,push]`) and
//! keys its cache by that repository. A cross-repository mount needs one token that
//! covers two repositories (`repository:<dest>:pull,push` and
//! `repository:<from>:pull`), as Docker's token specification allows with several
//! `scope=` parameters in one request: a registry with token authentication
//! declines (202, not 201) a mount whose token does not name the source. Here the
//! registry's `WWW-Authenticate` challenge (its realm and service) is learnt once
//! per registry, and tokens are kept by their exact set of scopes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http_auth::parser::ChallengeParser;
use oci_client::Reference;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use crate::client::{Client, RawAuth};
use crate::{Error, Result};

/// The lifetime the token specification gives a token that states none.
const DEFAULT_TOKEN_SECONDS: u64 = 60;
/// A token is not reused in its last seconds (clock skew, a slow request).
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// Largest token response read (tokens are a few KiB; a hostile realm could send more).
const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;

/// How a registry asks to be authenticated (its answer to an anonymous `GET /v2/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// Docker token authentication: ask `realm` for a token.
    Bearer {
        realm: String,
        service: Option<String>,
    },
    /// Basic authentication, or none asked for.
    Direct,
}

impl Challenge {
    /// The first Bearer challenge of a `WWW-Authenticate` value, else [`Direct`](Self::Direct).
    pub(crate) fn parse(header: Option<&str>) -> Challenge {
        let Some(header) = header else {
            return Challenge::Direct;
        };
        for challenge in ChallengeParser::new(header).flatten() {
            if !challenge.scheme.eq_ignore_ascii_case("Bearer") {
                continue;
            }
            let param = |name: &str| {
                challenge
                    .params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            if let Some(realm) = param("realm") {
                return Challenge::Bearer {
                    realm,
                    service: param("service"),
                };
            }
        }
        Challenge::Direct
    }
}

/// What the token endpoint answers (`token`, or OAuth2's `access_token`).
#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// A registry and a sorted set of scopes: what one token is kept for.
type TokenKey = (String, Vec<String>);

/// Challenges by registry; tokens, with when they stop being used, by [`TokenKey`].
#[derive(Default)]
pub(crate) struct Tokens {
    challenges: Mutex<HashMap<String, Challenge>>,
    tokens: Mutex<HashMap<TokenKey, (String, Instant)>>,
}

impl Tokens {
    fn challenge(&self, registry: &str) -> Option<Challenge> {
        self.challenges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(registry)
            .cloned()
    }

    fn token(&self, key: &TokenKey) -> Option<String> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        match tokens.get(key) {
            Some((t, until)) if Instant::now() < *until => Some(t.clone()),
            Some(_) => {
                tokens.remove(key);
                None
            }
            None => None,
        }
    }
}

/// `repository:<name>:<actions>`, the scope of one repository.
pub(crate) fn repository_scope(reference: &Reference, actions: &str) -> String {
    format!("repository:{}:{actions}", reference.repository())
}

impl Client {
    /// How a request on `reference`'s registry authenticates for every one of
    /// `scopes`: a bearer token covering all of them when the registry uses token
    /// authentication (the configured credentials exchanged for it; anonymous when
    /// there are none), else the Basic credentials when there are some.
    pub(crate) async fn scoped_auth(
        &self,
        reference: &Reference,
        scopes: &[String],
    ) -> Result<RawAuth> {
        let basic = match &self.auth {
            RegistryAuth::Bearer(t) => return Ok(RawAuth::Bearer(t.clone())),
            RegistryAuth::Basic(u, p) => Some((u.clone(), p.clone())),
            RegistryAuth::Anonymous => None,
        };
        let registry = reference.resolve_registry().to_string();
        let challenge = match self.tokens.challenge(&registry) {
            Some(c) => c,
            None => self.probe_challenge(reference).await?,
        };
        let (realm, service) = match challenge {
            Challenge::Direct => {
                return Ok(basic.map_or(RawAuth::None, |(u, p)| RawAuth::Basic(u, p)));
            }
            Challenge::Bearer { realm, service } => (realm, service),
        };
        let mut sorted = scopes.to_vec();
        sorted.sort();
        sorted.dedup();
        let key = (registry, sorted);
        if let Some(token) = self.tokens.token(&key) {
            return Ok(RawAuth::Bearer(token));
        }
        let mut query: Vec<(&str, &str)> = key.1.iter().map(|s| ("scope", s.as_str())).collect();
        if let Some(service) = &service {
            query.push(("service", service));
        }
        let what = format!("the token request to {realm}");
        let mut request = self.raw_http()?.get(&realm).query(&query);
        if let Some((u, p)) = &basic {
            request = request.basic_auth(u, Some(p));
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::io(what.clone(), e))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::io(what.clone(), e))?;
        if status != 200 {
            // The body is the registry's error message, never the credentials sent.
            let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
            return Err(Error::Io {
                what,
                source: std::io::Error::other(format!("the realm answered {status}: {text}")),
            });
        }
        if body.len() > MAX_TOKEN_RESPONSE {
            return Err(Error::TooLarge {
                what,
                limit: MAX_TOKEN_RESPONSE as u64,
            });
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| Error::Io {
            what: what.clone(),
            source: std::io::Error::other(format!("not a token response: {e}")),
        })?;
        let Some(token) = parsed.token.or(parsed.access_token) else {
            return Err(Error::Io {
                what,
                source: std::io::Error::other("the response holds no token"),
            });
        };
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(DEFAULT_TOKEN_SECONDS));
        if let Some(until) = Instant::now()
            .checked_add(lifetime)
            .and_then(|t| t.checked_sub(EXPIRY_MARGIN))
        {
            self.tokens
                .tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, (token.clone(), until));
        }
        Ok(RawAuth::Bearer(token))
    }

    /// Drops every kept token (a registry refused one: 401).
    pub(crate) fn forget_tokens(&self) {
        self.tokens
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Asks the registry (an anonymous `GET /v2/`) how it authenticates, and keeps
    /// the answer for its later requests.
    async fn probe_challenge(&self, reference: &Reference) -> Result<Challenge> {
        let url = self.same_registry_url(reference, "/v2/")?;
        let response = self
            .raw_http()?
            .get(&url)
            .send()
            .await
            .map_err(|e| Error::io(format!("GET {url}"), e))?;
        let challenge = Challenge::parse(
            response
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok()),
        );
        self.tokens
            .challenges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(reference.resolve_registry().to_string(), challenge.clone());
        Ok(challenge)
    }
}

#[cfg(test)]
mod tests {
    use super::Challenge;

    #[test]
    fn reads_bearer_challenges() {
        assert_eq!(
            Challenge::parse(Some(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull""#
            )),
            Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into())
            }
        );
        assert_eq!(
            Challenge::parse(Some(r#"Basic realm="x", Bearer realm="http://h/t""#)),
            Challenge::Bearer {
                realm: "http://h/t".into(),
                service: None
            }
        );
        assert_eq!(
            Challenge::parse(Some(r#"Basic realm="Registry Realm""#)),
            Challenge::Direct
        );
        assert_eq!(Challenge::parse(None), Challenge::Direct);
        assert_eq!(
            Challenge::parse(Some("Bearer service=x")),
            Challenge::Direct
        );
    }
}
