//! The management API under `/api/v2.0`, shaped like Harbor's v2.0 API (same
//! paths, request and response bodies) so Harbor clients and scripts work.
//! Credentials: HTTP Basic (users and robots), as with Harbor.

mod members;
mod projects;
mod robots;
mod system;
mod users;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::auth::{Credentials, client_ip, credentials};
use crate::auth::Principal;
use crate::error::{ErrorCode, RegistryError};
use crate::metadata::identity::PageReq;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2.0/ping", get(system::ping))
        .route("/api/v2.0/health", get(system::health))
        .route("/api/v2.0/systeminfo", get(system::info))
        .route("/api/v2.0/audit-logs", get(system::audit_logs))
        .route("/api/v2.0/projects", get(projects::list).post(projects::create).head(projects::exists))
        .route("/api/v2.0/projects/{project}", get(projects::get).put(projects::update).delete(projects::delete))
        .route("/api/v2.0/projects/{project}/logs", get(system::project_logs))
        .route("/api/v2.0/projects/{project}/members", get(members::list).post(members::add))
        .route(
            "/api/v2.0/projects/{project}/members/{member}",
            get(members::get).put(members::update).delete(members::remove),
        )
        .route("/api/v2.0/projects/{project}/robots", get(robots::list_in_project))
        .route("/api/v2.0/users", get(users::list).post(users::create))
        .route("/api/v2.0/users/current", get(users::current))
        .route("/api/v2.0/users/{id}", get(users::get).delete(users::delete))
        .route("/api/v2.0/users/{id}/password", axum::routing::put(users::password))
        .route("/api/v2.0/users/{id}/sysadmin", axum::routing::put(users::sysadmin))
        .route("/api/v2.0/robots", get(robots::list).post(robots::create))
        .route(
            "/api/v2.0/robots/{id}",
            get(robots::get).put(robots::update).delete(robots::delete).patch(robots::refresh),
        )
}

/// The authenticated caller of a management request, and where from.
pub struct Caller {
    pub who: Principal,
    pub ip: Option<String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = RegistryError;

    async fn from_request_parts(parts: &mut Parts, reg: &AppState) -> Result<Self, Self::Rejection> {
        if !reg.auth_enabled() {
            return Err(RegistryError::new(ErrorCode::Unsupported, "the management API needs authentication enabled (wharf serve --auth)")
                .with_status(axum::http::StatusCode::NOT_FOUND));
        }
        let ip = client_ip(&parts.extensions);
        let who = match credentials(&parts.headers) {
            Credentials::Basic(u, p) => reg.authenticate(&u, &p, ip.as_deref()).await?,
            Credentials::Bearer(_) => {
                return Err(RegistryError::new(ErrorCode::Unauthorized, "the management API takes Basic credentials"));
            }
            Credentials::None => Principal::Anonymous,
        };
        Ok(Caller { who, ip })
    }
}

#[derive(Deserialize)]
pub struct Paging {
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

impl Paging {
    pub fn req(&self) -> PageReq {
        PageReq { page: self.page.unwrap_or(1).max(1), page_size: self.page_size.unwrap_or(10).clamp(1, 100) }
    }
}

/// A page of results with Harbor's `X-Total-Count` and `Link` headers.
pub fn paged<T: serde::Serialize>(path: &str, page: PageReq, total: i64, items: Vec<T>) -> Response {
    let mut resp = axum::Json(items).into_response();
    let h = resp.headers_mut();
    h.insert("X-Total-Count", HeaderValue::from(total));
    let mut links = Vec::new();
    if page.page > 1 {
        links.push(format!("<{path}?page={}&page_size={}>; rel=\"prev\"", page.page - 1, page.page_size));
    }
    if (page.page as i64) * (page.page_size as i64) < total {
        links.push(format!("<{path}?page={}&page_size={}>; rel=\"next\"", page.page + 1, page.page_size));
    }
    if !links.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&links.join(" , ")) {
            h.insert(header::LINK, v);
        }
    }
    resp
}

/// 201 with the new resource's location, as Harbor answers creations.
pub fn created(location: String) -> Response {
    let mut resp = axum::http::StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub fn time(secs: i64) -> String {
    crate::service::time_rfc3339(secs)
}
