//! HTTPS for the API server: `/validate`, `/mutate`, `/healthz`; TLS through
//! rustls with the ring provider (as `wharf serve` does), graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::review::Webhook;

/// The API server sends the object and the old object; each may be up to
/// etcd's 1.5 MiB. Anything larger is not from the API server.
const MAX_BODY: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Listen(#[from] wharf_net::BindError),
    #[error("server: {0}")]
    Io(#[from] io::Error),
}

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct Listen {
    pub addr: SocketAddr,
    /// `(cert, key)` PEM files; `None` serves plain HTTP (local testing only:
    /// the API server only calls webhooks over HTTPS).
    pub tls: Option<(PathBuf, PathBuf)>,
}

pub fn router(webhook: Arc<Webhook>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(webhook)
}

async fn validate(
    State(webhook): State<Arc<Webhook>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    answer(&webhook, &body, false, q).await
}

async fn mutate(
    State(webhook): State<Arc<Webhook>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    answer(&webhook, &body, true, q).await
}

async fn answer(webhook: &Webhook, body: &[u8], mutate: bool, query: Option<String>) -> Response {
    let api_timeout = query.as_deref().and_then(api_server_timeout);
    match webhook.handle_within(body, mutate, api_timeout).await {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "rejected a request that is not an AdmissionReview");
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{e}\n"),
            )
                .into_response()
        }
    }
}

/// The API server calls webhooks as `/validate?timeout=10s` (Go duration
/// syntax; whole seconds, at most 30s). `None` when absent or unreadable.
fn api_server_timeout(query: &str) -> Option<Duration> {
    let value = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("timeout="))?;
    let (mut total, mut rest) = (Duration::ZERO, value);
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: u64 = rest[..digits].parse().ok()?;
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        total += match &rest[digits..digits + unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            _ => return None,
        };
        rest = &rest[digits + unit_len..];
    }
    (!total.is_zero()).then_some(total)
}

/// Serves until `shutdown` resolves, then lets in-flight reviews finish.
/// `ready` is told the bound address (useful with port 0).
pub async fn serve(
    webhook: Arc<Webhook>,
    listen: Listen,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let app = router(webhook);
    let listener = wharf_net::bind(listen.addr, listen.tls.clone()).await?;
    let addr = axum::serve::Listener::local_addr(&listener)?;
    if listener.is_tls() {
        tracing::info!(%addr, "wharf admission webhook listening (https)");
    } else {
        tracing::warn!(%addr, "wharf admission webhook listening over plain HTTP (--insecure-http): for local testing only");
    }
    ready(addr);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("wharf admission webhook stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_api_servers_timeout() {
        assert_eq!(
            api_server_timeout("timeout=10s"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            api_server_timeout("a=b&timeout=1m0s"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            api_server_timeout("timeout=2500ms"),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(api_server_timeout("timeout=0s"), None);
        assert_eq!(api_server_timeout("timeout=1.5s"), None);
        assert_eq!(api_server_timeout("timeout=ten"), None);
        assert_eq!(api_server_timeout("other=1"), None);
    }
}
