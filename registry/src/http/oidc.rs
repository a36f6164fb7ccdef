//! Harbor's OIDC login endpoints: `GET /c/oidc/login` sends the browser to the
//! OpenID provider; `GET /c/oidc/callback` is where the provider sends it back.
//! The callback opens a portal session for the user [`Directory::oidc_login_complete`]
//! vouches for (the session cookie) and answers a page (HTML, or JSON when asked
//! for) naming the user and showing their CLI secret, the password for `docker
//! login`, with the way on into the portal. Codes and states are never logged (see
//! the request span in `http/mod.rs`).
//!
//! [`Directory::oidc_login_complete`]: crate::service::Directory::oidc_login_complete

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::{base_url, client_ip};
use crate::auth::Principal;
use crate::error::{ErrorCode, RegistryError, Result};

/// The callback's path, as Harbor names it (the provider's registered redirect URI).
pub const CALLBACK: &str = "/c/oidc/callback";

pub async fn login(State(reg): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let redirect_uri = format!(
        "{}{CALLBACK}",
        base_url(&reg.access, &headers, reg.access.tls())
    );
    let url = reg.directory.oidc_login_start(&redirect_uri).await?;
    Ok(Redirect::to(&url).into_response())
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    /// The issuer (RFC 9207), from providers that send it.
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    State(reg): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Query(q): Query<Callback>,
) -> Result<Response> {
    if let Some(error) = q.error {
        // The provider refused (the user declined, the client is misconfigured…).
        let why = q.error_description.unwrap_or_default();
        return Err(RegistryError::new(
            ErrorCode::Unauthorized,
            format!("the OpenID provider refused the login: {error} {why}")
                .trim()
                .to_string(),
        ));
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return Err(RegistryError::bad_request(
            "the callback needs the code and state the OpenID provider sends",
        ));
    };
    let ip = client_ip(&extensions);
    let user = reg
        .directory
        .oidc_login_complete(&state, &code, q.iss.as_deref(), ip.as_deref())
        .await?;
    let who = Principal::User {
        id: user.id,
        name: user.username.clone(),
        sysadmin: user.sysadmin,
    };
    let secret = reg
        .directory
        .oidc_user_meta(&who)
        .await?
        .map(|m| m.secret)
        .unwrap_or_default();
    let session = reg.sessions.open(who).await?;
    let cookie = crate::portal::session::new_session_cookie(&reg, &session.id);
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    // The page holds a secret: never cached, by the browser or on the way.
    let no_store = |mut r: Response| {
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        r.headers_mut().insert(header::SET_COOKIE, cookie.clone());
        r
    };
    if wants_json {
        return Ok(no_store(
            Json(json!({
                "login": "ok",
                "user_id": user.id,
                "username": user.username,
                "sysadmin_flag": user.sysadmin,
                "oidc_user_meta": {"secret": secret},
            }))
            .into_response(),
        ));
    }
    let page = Html(
        maud::html! {
            (maud::DOCTYPE)
            html {
                head { meta charset="utf-8"; title { "Wharf: logged in" } }
                body {
                    h1 { "Logged in as " (user.username) }
                    p {
                        "Your CLI secret, the password for " code { "docker login" } ": "
                        code #cli-secret { (secret) }
                    }
                    p {
                        "It is also shown by " code { "GET /api/v2.0/users/current" }
                        " (" code { "oidc_user_meta.secret" } ") and changed with "
                        code { "PUT /api/v2.0/users/{id}/cli_secret" } "."
                    }
                    p { a href="/projects" { "Continue to the portal" } }
                }
            }
        }
        .into_string(),
    )
    .into_response();
    Ok(no_store(page))
}
