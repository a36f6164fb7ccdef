//! One module per page family; each handler asks the services and renders.

pub mod admin;
pub mod artifact_extra;
pub mod login;
pub mod members;
pub mod project;
pub mod projects;
pub mod repository;
pub mod retention;
pub mod search;
pub mod settings;
pub mod trust;
pub mod webhooks;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::session::session_id;
use crate::http::AppState;

/// `/`: the projects for a live session, else the login page.
pub async fn home(
    axum::extract::State(reg): axum::extract::State<AppState>,
    headers: HeaderMap,
) -> Response {
    let live = match session_id(&headers) {
        Some(id) => matches!(reg.sessions.resolve(&id).await, Ok(Some(_))),
        None => false,
    };
    Redirect::to(if live { "/projects" } else { "/login" }).into_response()
}

/// The registry's host as `docker` names it: the request's `Host`.
pub fn registry_host(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost:5000")
        .to_string()
}

/// Path segments as they go into a link (`/` kept between repository components).
pub fn link_path(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, PATH).to_string()
}

const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b':');
