//! Docker registry bearer tokens: short-lived JWTs (HS256) whose `access`
//! claim lists what the holder may do, as distribution's token auth defines.
//!
//! Written on `hmac`/`sha2` rather than a JWT crate: issuer and verifier are
//! the same process, only HS256 is ever accepted (no `alg` confusion), and the
//! JWT crates pull in RSA/EdDSA stacks or a C crypto build we do not need.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const ISSUER: &str = "wharf-token-service";
pub const SERVICE: &str = "wharf";

/// One entry of the `access` claim: `{"type":"repository","name":"library/app","actions":["pull"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub access: Vec<Access>,
}

impl Claims {
    /// Whether the token grants `action` on repository `name`.
    pub fn allows(&self, kind: &str, name: &str, action: &str) -> bool {
        self.access.iter().any(|a| {
            a.kind == kind && a.name == name && a.actions.iter().any(|x| x == action || x == "*")
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signature is invalid")]
    Signature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued for another service")]
    Audience,
}

/// Parse one `scope` value: `repository:library/app:pull,push` (also
/// `repository(plugin):name:actions` and `registry:catalog:*`).
pub fn parse_scope(scope: &str) -> Option<Access> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let kind = kind.split('(').next()?;
    if kind.is_empty() || name.is_empty() {
        return None;
    }
    Some(Access {
        kind: kind.to_string(),
        name: name.to_string(),
        actions: actions
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

pub struct TokenKey {
    secret: Vec<u8>,
}

impl TokenKey {
    pub fn new(secret: Vec<u8>) -> Self {
        TokenKey { secret }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let signing_input = format!("{header}.{payload}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    /// Verify signature (constant time), algorithm, audience and validity window.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: serde_json::Value =
            serde_json::from_slice(&B64.decode(h).map_err(|_| TokenError::Malformed)?)
                .map_err(|_| TokenError::Malformed)?;
        if header["alg"] != "HS256" {
            return Err(TokenError::Signature);
        }
        let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(p.as_bytes());
        mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
        let claims: Claims =
            serde_json::from_slice(&B64.decode(p).map_err(|_| TokenError::Malformed)?)
                .map_err(|_| TokenError::Malformed)?;
        if claims.aud != SERVICE {
            return Err(TokenError::Audience);
        }
        if now >= claims.exp {
            return Err(TokenError::Expired);
        }
        if now + 60 < claims.nbf {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "alice".into(),
            aud: SERVICE.into(),
            exp,
            nbf: 0,
            iat: 0,
            jti: "1".into(),
            access: vec![parse_scope("repository:library/app:pull,push").unwrap()],
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let key = TokenKey::new(b"k".repeat(32));
        let t = key.sign(&claims(100));
        let c = key.verify(&t, 50).unwrap();
        assert!(c.allows("repository", "library/app", "push"));
        assert!(!c.allows("repository", "library/other", "pull"));
        assert_eq!(key.verify(&t, 100), Err(TokenError::Expired));
        assert_eq!(
            TokenKey::new(b"x".repeat(32)).verify(&t, 50),
            Err(TokenError::Signature)
        );
        // Swap in a payload granting more: the signature no longer matches.
        let mut forged = claims(100);
        forged.access[0].name = "production/app".into();
        let forged_payload = key.sign(&forged).split('.').nth(1).unwrap().to_string();
        let parts: Vec<&str> = t.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(key.verify(&tampered, 50), Err(TokenError::Signature));
        // alg "none" is never accepted.
        let none = format!("{}.{}.", B64.encode(br#"{"alg":"none"}"#), parts[1]);
        assert_eq!(key.verify(&none, 50), Err(TokenError::Signature));
        assert_eq!(key.verify("garbage", 50), Err(TokenError::Malformed));
    }

    #[test]
    fn scopes_parse_like_distribution() {
        let a = parse_scope("repository:project/team/app:pull,push").unwrap();
        assert_eq!(
            (a.kind.as_str(), a.name.as_str()),
            ("repository", "project/team/app")
        );
        assert_eq!(a.actions, ["pull", "push"]);
        let c = parse_scope("registry:catalog:*").unwrap();
        assert_eq!(c.actions, ["*"]);
        let p = parse_scope("repository(plugin):library/x:pull").unwrap();
        assert_eq!(p.kind, "repository");
        // A host with a port in the name keeps its colon.
        let h = parse_scope("repository:localhost:5000/app:pull").unwrap();
        assert_eq!(h.name, "localhost:5000/app");
        assert!(parse_scope("nonsense").is_none());
    }
}
