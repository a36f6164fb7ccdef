//! The session cookie and CSRF checks. The cookie holds only the session's random
//! id (`HttpOnly`, `SameSite=Lax`, `Secure` when served over TLS); the session
//! itself is server-side (`service::sessions`). Every state-changing request carries
//! the session's CSRF token, in a form field `csrf` or the `X-CSRF-Token` header,
//! and a browser's `Origin`, when sent, must be this site.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use cookie::{Cookie, SameSite};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::error::PageError;
use crate::auth::Principal;
use crate::error::RegistryError;
use crate::http::AppState;

pub const SESSION_COOKIE: &str = "wharf_session";
const CSRF_HEADER: &str = "x-csrf-token";

/// The logged-in user of a request. Absent or expired sessions make the page an
/// unauthorized error, which the portal answers with the login page.
pub struct Viewer {
    pub who: Principal,
    pub csrf: String,
    pub ip: Option<String>,
    /// The cookie's session id (for logging out).
    pub(super) session_id: String,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        matches!(self.who, Principal::User { sysadmin: true, .. })
    }

    /// Whether `given` is this session's CSRF token (in constant time).
    fn csrf_ok(&self, given: &str) -> bool {
        !given.is_empty() && bool::from(given.as_bytes().ct_eq(self.csrf.as_bytes()))
    }
}

/// `Set-Cookie` for a session just opened, living as long as sessions may.
pub fn new_session_cookie(reg: &AppState, id: &str) -> axum::http::HeaderValue {
    let max_age = reg.sessions.options().lifetime.as_secs() as i64;
    session_cookie(id, reg.access.tls(), max_age)
        .parse()
        .expect("cookie is a header value")
}

/// The session id a request's cookies carry.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_string())
}

/// `Set-Cookie` for a new session; `max_age` in seconds (0 removes the cookie).
pub fn session_cookie(id: &str, tls: bool, max_age: i64) -> String {
    Cookie::build((SESSION_COOKIE, id.to_string()))
        .path("/")
        .http_only(true)
        .secure(tls)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, reg: &AppState) -> Result<Self, PageError> {
        let unauthorized = || {
            PageError(RegistryError::new(
                crate::error::ErrorCode::Unauthorized,
                "log in first",
            ))
        };
        let id = session_id(&parts.headers).ok_or_else(unauthorized)?;
        let session = reg.sessions.resolve(&id).await?.ok_or_else(unauthorized)?;
        Ok(Viewer {
            who: session.principal,
            csrf: session.csrf_token,
            ip: crate::http::client_ip(&parts.extensions),
            session_id: id,
        })
    }
}

/// The request came from a page of this site: `Origin`, when the browser sends it,
/// names the host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest == host)
}

fn csrf_refused() -> PageError {
    PageError(RegistryError::forbidden(
        "the form's CSRF token is missing or wrong: reload the page and try again",
    ))
}

/// A state-changing request: the viewer, and its form, accepted only with the
/// session's CSRF token and from this site.
pub struct Checked<T> {
    pub viewer: Viewer,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Checked<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, reg: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, reg).await?;
        if !same_origin(&parts.headers) {
            return Err(csrf_refused());
        }
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .map_err(|_| PageError(RegistryError::bad_request("form too large")))?;
        let header_token = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let token = match header_token {
            Some(t) => t,
            None => serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .unwrap_or_default()
                .into_iter()
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v)
                .unwrap_or_default(),
        };
        if !viewer.csrf_ok(&token) {
            return Err(csrf_refused());
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| PageError(RegistryError::bad_request(format!("form: {e}"))))?;
        Ok(Checked { viewer, form })
    }
}

/// The client's address, where the connection told it (for audit and throttling).
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(crate::http::client_ip(&parts.extensions)))
    }
}
