//! The OCI Distribution v1.1 HTTP API, as axum handlers. Handlers parse the
//! request into typed values, call [`Registry`], and shape the response; the
//! rules themselves live in the service.
//!
//! Repository names contain slashes (`project/team/app`), which path routers
//! cannot match in the middle of a route, so [`route_nested_names`] rewrites
//! `/v2/a/b/manifests/x` to `/v2/a%2Fb/manifests/x` before routing and the
//! `{name}` parameter arrives decoded.

mod api;
mod auth;
mod blobs;
pub mod client_addr;
pub mod error;
pub mod headers;
pub mod limits;
mod listing;
mod manifests;
mod metrics;
mod oidc;
mod params;
pub mod transport;
mod uploads;

/// The `Authorization` header parser, public so the fuzz targets (`fuzz/`) reach it
/// exactly as a request does; nothing outside the HTTP layer needs it.
pub use auth::{Credentials, client_ip, credentials};

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use crate::error::{ErrorCode, RegistryError};
use crate::service::Services;

pub type AppState = Arc<Services>;

/// The peer address of a connection, plain or TLS (for audit and throttling).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

const API_VERSION: &str = "Docker-Distribution-API-Version";

/// The `/v2` API router. Wrap it with [`route_nested_names`] before serving.
pub fn router(registry: Arc<Services>) -> Router {
    Router::new()
        .route("/v2/", get(base))
        .route("/v2/_catalog", get(listing::catalog))
        .route("/v2/{name}/tags/list", get(listing::tags))
        .route("/v2/{name}/referrers/{digest}", get(listing::referrers))
        .route(
            "/v2/{name}/manifests/{reference}",
            get(manifests::get)
                .head(manifests::head)
                .put(manifests::put)
                .delete(manifests::delete),
        )
        .route("/v2/{name}/blobs/uploads/", post(uploads::start))
        .route("/v2/{name}/blobs/uploads", post(uploads::start))
        .route(
            "/v2/{name}/blobs/uploads/{id}",
            get(uploads::status)
                .patch(uploads::chunk)
                .put(uploads::finish)
                .delete(uploads::cancel),
        )
        .route(
            "/v2/{name}/blobs/{digest}",
            get(blobs::get).head(blobs::head).delete(blobs::delete),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            registry.clone(),
            auth::authorize,
        ))
        .route("/service/token", get(auth::token))
        .route("/c/oidc/login", get(oidc::login))
        .route(oidc::CALLBACK, get(oidc::callback))
        .route("/metrics", get(metrics::metrics))
        .route("/livez", get(metrics::livez))
        .route("/readyz", get(metrics::readyz))
        .merge(api::router())
        .merge(crate::portal::router())
        .fallback(unknown_endpoint)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(api_version_header))
        .layer(axum::middleware::from_fn_with_state(
            registry.clone(),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(registry)
}

/// The span of every request: method, URI and version, as tower-http makes it, except
/// that the OIDC callback's query (an authorization code and state) is left out.
fn request_span(req: &Request) -> tracing::Span {
    let uri = if req.uri().path().starts_with("/c/oidc/") {
        req.uri().path().to_string()
    } else {
        req.uri().to_string()
    };
    tracing::debug_span!("request", method = %req.method(), uri = %uri, version = ?req.version())
}

/// Rewrite nested repository names into one percent-encoded path segment.
pub fn route_nested_names(mut req: Request) -> Request {
    if let Some(path) = req.uri().path().strip_prefix("/v2/").and_then(encode_name) {
        let mut parts = req.uri().clone().into_parts();
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// `a/b/manifests/x` → `/v2/a%2Fb/manifests/x`; `None` when there is nothing to rewrite.
fn encode_name(rest: &str) -> Option<String> {
    const MARKERS: [&str; 4] = ["/tags/list", "/manifests/", "/blobs/", "/referrers/"];
    let idx = MARKERS.iter().filter_map(|m| rest.rfind(m)).max()?;
    let (name, tail) = rest.split_at(idx);
    name.contains('/')
        .then(|| format!("/v2/{}{tail}", name.replace('/', "%2F")))
}

async fn base() -> impl IntoResponse {
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        "{}",
    )
}

async fn unknown_endpoint() -> RegistryError {
    RegistryError::NoSuchEndpoint
}

async fn method_not_allowed() -> RegistryError {
    RegistryError::new(
        ErrorCode::Unsupported,
        "method not allowed on this endpoint",
    )
}

async fn api_version_header(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
    resp
}

#[cfg(test)]
mod tests {
    use super::encode_name;

    #[test]
    fn nested_names_become_one_segment() {
        assert_eq!(
            encode_name("a/b/manifests/v1").as_deref(),
            Some("/v2/a%2Fb/manifests/v1")
        );
        assert_eq!(
            encode_name("p/t/app/blobs/uploads/").as_deref(),
            Some("/v2/p%2Ft%2Fapp/blobs/uploads/")
        );
        assert_eq!(
            encode_name("a/blobs/x/tags/list").as_deref(),
            Some("/v2/a%2Fblobs%2Fx/tags/list")
        );
        assert_eq!(
            encode_name("a/manifests/b/manifests/v1").as_deref(),
            Some("/v2/a%2Fmanifests%2Fb/manifests/v1")
        );
        assert_eq!(encode_name("single/manifests/v1"), None);
        assert_eq!(encode_name("_catalog"), None);
    }
}
