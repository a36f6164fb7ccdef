//! What one request may make the server hold or spend, checked around the router:
//! the size of its head, its rate per client address, how long its body may stall,
//! and the size of a management API body. Every refusal is a [`RegistryError`], so it
//! reaches the client through the one mapping in [`super::error`].
//!
//! The connection-level limits (header read timeout, connection caps, hyper's own
//! head buffer) are in [`super::transport`]; upload sessions per client are counted by
//! `Distribution`; credential checks per client by `Access`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_http::timeout::TimeoutBody;

use super::auth::{Credentials, credentials};
use super::{AppState, ClientAddr};
use crate::auth::Principal;
use crate::error::{ErrorCode, RegistryError};
use crate::rate_limit::{RateLimit, retry_after_secs};

/// The limits [`apply`] enforces.
pub struct HttpLimits {
    /// Bytes of request line plus headers (each counted as `name: value\r\n`).
    pub max_header_bytes: usize,
    /// Bytes of a `/api/` request body.
    pub max_api_body_bytes: usize,
    /// How long a request body may go without a frame.
    pub body_idle_timeout: Duration,
    /// Requests per client address; `None`: unlimited.
    pub request_rate: Option<RateLimit>,
    /// Requests authenticated as a robot account skip `request_rate`.
    pub exempt_robots: bool,
    /// Proxies whose `X-Forwarded-For` names the client (see [`super::client_addr`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

struct Limits {
    registry: AppState,
    limits: HttpLimits,
}

/// Wrap the router (before `route_nested_names`) in the limits.
pub fn apply(router: Router, registry: AppState, limits: HttpLimits) -> Router {
    let api_body = limits.max_api_body_bytes;
    let state = Arc::new(Limits { registry, limits });
    router
        // axum's JSON extractor has its own cap (2 MiB); ours, checked below with a
        // proper error body, is the one that counts.
        .layer(DefaultBodyLimit::max(api_body))
        .layer(from_fn_with_state(state.clone(), bodies))
        .layer(from_fn_with_state(state, admit))
}

/// Request line and headers as they came over the wire, give or take the version.
fn head_size(req: &Request) -> usize {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 12;
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + line
}

fn peer(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map(|c| c.0.0.ip())
}

/// Health probes come from the orchestrator's address and are never limited.
fn is_probe(path: &str) -> bool {
    matches!(path, "/livez" | "/readyz")
}

/// Whether the request proves it comes from a robot account: a valid token issued to
/// one, or a robot's Basic credentials (checked as the request itself will be, so a
/// name alone exempts nothing).
async fn is_robot(reg: &AppState, creds: Credentials, ip: IpAddr) -> bool {
    match creds {
        Credentials::Bearer(token) => reg
            .access
            .verify_token(&token)
            .is_ok_and(|claims| claims.sub.starts_with("robot$")),
        Credentials::Basic(user, secret) if user.starts_with("robot$") => matches!(
            reg.access
                .authenticate(&user, &secret, Some(&ip.to_string()))
                .await,
            Ok(Principal::Robot { .. })
        ),
        _ => false,
    }
}

/// The client's address (behind trusted proxies), head size, then its request rate.
async fn admit(State(s): State<Arc<Limits>>, mut req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    super::client_addr::rewrite(
        &mut parts.extensions,
        &parts.headers,
        &s.limits.trusted_proxies,
    );
    req = Request::from_parts(parts, body);
    let size = head_size(&req);
    if size > s.limits.max_header_bytes {
        s.registry.metrics.refused("headers_too_large");
        return RegistryError::HeadersTooLarge(format!(
            "request line and headers are {size} bytes; the limit is {}",
            s.limits.max_header_bytes
        ))
        .into_response();
    }
    if let (Some(rate), Some(ip)) = (&s.limits.request_rate, peer(&req))
        && !is_probe(req.uri().path())
        && !(s.limits.exempt_robots && is_robot(&s.registry, credentials(req.headers()), ip).await)
        && let Err(wait) = rate.check(ip)
    {
        tracing::debug!(client = %ip, "request over the rate limit");
        s.registry.metrics.refused("rate_limited");
        return RegistryError::RateLimited {
            message: "too many requests from this address; slow down".into(),
            retry_after: retry_after_secs(wait),
        }
        .into_response();
    }
    next.run(req).await
}

fn api_body_too_large(limit: usize) -> RegistryError {
    RegistryError::TooLarge {
        code: ErrorCode::SizeInvalid,
        message: format!("request body exceeds the {limit}-byte limit of the management API"),
    }
}

/// Every body stalls for at most the idle timeout; `/api/` bodies are read whole here,
/// up to their limit, so no handler ever buffers more.
async fn bodies(
    State(s): State<Arc<Limits>>,
    req: Request,
    next: Next,
) -> Result<Response, RegistryError> {
    let (parts, body) = req.into_parts();
    let body = Body::new(TimeoutBody::new(s.limits.body_idle_timeout, body));
    if !parts.uri.path().starts_with("/api/") {
        return Ok(next.run(Request::from_parts(parts, body)).await);
    }
    let limit = s.limits.max_api_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        s.registry.metrics.refused("body_too_large");
        return Err(api_body_too_large(limit));
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            s.registry.metrics.refused("body_too_large");
            return Err(api_body_too_large(limit));
        }
        Err(e) => {
            return Err(RegistryError::bad_request(format!(
                "reading the request body: {e}"
            )));
        }
    };
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_size_counts_line_and_headers() {
        let req = Request::builder()
            .uri("/v2/")
            .header("x-a", "12345")
            .body(Body::empty())
            .unwrap();
        // "GET /v2/ HTTP/1.1\r\n" is 19 bytes; "x-a: 12345\r\n" is 12.
        assert_eq!(head_size(&req), 3 + 4 + 12 + 12);
    }
}
