//! `/metrics` (Prometheus text format), `/livez` and `/readyz`, and the
//! middleware that counts every request by route family, method and status,
//! with its latency and body sizes.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::service::metrics::{FamilyLabel, JobLabels, OutcomeLabel, ProjectLabel, RequestLabels};

/// The route family of a path: few enough values to be a label.
fn family(path: &str) -> &'static str {
    if let Some(rest) = path.strip_prefix("/v2/") {
        if rest.is_empty() {
            return "base";
        }
        if rest.starts_with("_catalog") {
            return "catalog";
        }
        let segs: Vec<&str> = rest.split('/').collect();
        for kind in ["uploads", "manifests", "blobs", "tags", "referrers"] {
            if segs.contains(&kind) {
                return kind;
            }
        }
        return "v2_other";
    }
    match path {
        "/metrics" | "/livez" | "/readyz" => "ops",
        "/service/token" => "token",
        p if p.starts_with("/api/") => "api",
        _ => "other",
    }
}

fn content_length(h: &axum::http::HeaderMap) -> u64 {
    h.get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Counts the request once its response head is ready.
pub async fn track(State(reg): State<AppState>, req: Request, next: Next) -> Response {
    let m = &reg.metrics;
    let fam = family(req.uri().path()).to_string();
    let method = req.method().as_str().to_string();
    let bytes_in = content_length(req.headers());
    let start = Instant::now();
    m.http_in_flight.inc();
    let resp = next.run(req).await;
    m.http_in_flight.dec();
    let label = FamilyLabel {
        family: fam.clone(),
    };
    m.http_latency
        .get_or_create(&label)
        .observe(start.elapsed().as_secs_f64());
    m.http_bytes_in.get_or_create(&label).inc_by(bytes_in);
    m.http_bytes_out
        .get_or_create(&label)
        .inc_by(content_length(resp.headers()));
    m.http_requests
        .get_or_create(&RequestLabels {
            family: fam,
            method,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

pub async fn metrics(State(reg): State<AppState>) -> Response {
    // Gauges of stored state are read now, so a scrape sees the store as it is.
    if let Ok(scans) = reg.security.scan_metrics().await {
        for (status, n) in scans.by_status {
            reg.metrics
                .scans
                .get_or_create(&OutcomeLabel { outcome: status })
                .set(n);
        }
    }
    if let Ok(counts) = reg.lifecycle.jobs().counts().await {
        // A kind and status seen before and now absent is 0, not its old count.
        reg.metrics.jobs.clear();
        for (kind, status, n) in counts {
            reg.metrics
                .jobs
                .get_or_create(&JobLabels {
                    kind,
                    status: status.as_str().to_string(),
                })
                .set(n);
        }
    }
    if let Ok(open) = reg.distribution.open_uploads().await {
        reg.metrics
            .uploads_in_flight
            .set(open.min(i64::MAX as u64) as i64);
    }
    if let Ok(usage) = reg.quotas.usage_by_project().await {
        reg.metrics.project_storage.clear();
        for (project, bytes) in usage {
            reg.metrics
                .project_storage
                .get_or_create(&ProjectLabel { project })
                .set(bytes.min(i64::MAX as u64) as i64);
        }
    }
    let mut resp = reg.metrics.encode().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// The process answers.
pub async fn livez() -> &'static str {
    "ok\n"
}

/// The database and the blob storage answer.
pub async fn readyz(State(reg): State<AppState>) -> Response {
    match reg.distribution.ready().await {
        Ok(()) => "ok\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn families() {
        use super::family;
        assert_eq!(family("/v2/"), "base");
        assert_eq!(family("/v2/lib%2Fapp/manifests/v1"), "manifests");
        assert_eq!(family("/v2/lib/app/blobs/uploads/abc"), "uploads");
        assert_eq!(family("/v2/_catalog"), "catalog");
        assert_eq!(family("/api/v2.0/projects"), "api");
        assert_eq!(family("/metrics"), "ops");
    }
}
