//! Security headers on every response. The API and registry answer JSON and
//! blobs, never pages, so the defaults forbid everything a browser could do with
//! them; a response that sets its own (the portal's pages) keeps its own.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

const DEFAULTS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// One year, as browsers' preload lists ask; sent only over TLS (RFC 6797 §7.2).
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Wrap the whole application (`tls`: the listener serves HTTPS).
pub fn apply(router: Router, tls: bool) -> Router {
    router.layer(axum::middleware::map_response(
        move |mut resp: Response| async move {
            let headers = resp.headers_mut();
            for (name, value) in DEFAULTS {
                if !headers.contains_key(&name) {
                    headers.insert(name, HeaderValue::from_static(value));
                }
            }
            if tls {
                headers.insert(
                    header::STRICT_TRANSPORT_SECURITY,
                    HeaderValue::from_static(HSTS),
                );
            }
            resp
        },
    ))
}
