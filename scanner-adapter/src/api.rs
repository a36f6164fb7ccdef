//! The spec's three operations with its media types and `ErrorResponse` bodies
//! (`{"error":{"message":…}}` as `application/vnd.scanner.adapter.error+json; version=1.0`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use wharf_scanner::report::harbor::{
    HARBOR_REPORT_MIME, HARBOR_REPORT_MIME_V1_0, harbor_report, scanner_info,
};

use crate::jobs::{Done, Jobs, State as JobState};
use crate::request::{CONSUMES, RequestError, SBOM_MEDIA_TYPES, ScanRequest};

const METADATA_MIME: &str = "application/vnd.scanner.adapter.metadata+json; version=1.1";
const SCAN_RESPONSE_MIME: &str = "application/vnd.scanner.adapter.scan.response+json; version=1.0";
const ERROR_MIME: &str = "application/vnd.scanner.adapter.error+json; version=1.0";
/// Trivy's own JSON, as Harbor's Trivy adapter serves it for this type.
const RAW_REPORT_MIME: &str = "application/vnd.scanner.adapter.vuln.report.raw";
const SBOM_REPORT_MIME: &str = "application/vnd.security.sbom.report+json; version=1.0";
/// Seconds Harbor is told to wait before polling an unfinished scan again.
const REFRESH_AFTER: &str = "5";
/// Largest scan request read (they are a few hundred bytes).
const MAX_REQUEST: usize = 64 * 1024;

/// The adapter's routes under `/api/v1`, plus `/probe/healthy` and `/probe/ready`.
pub fn router(jobs: Arc<Jobs>) -> Router {
    let api = Router::new()
        .route("/api/v1/metadata", get(metadata))
        .route("/api/v1/scan", post(accept))
        .route("/api/v1/scan/{id}/report", get(report))
        .layer(middleware::from_fn_with_state(jobs.clone(), authorize))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST));
    Router::new()
        .route("/probe/healthy", get(|| async { "ok\n" }))
        .route("/probe/ready", get(|| async { "ok\n" }))
        .merge(api)
        .with_state(jobs)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({"error": {"message": message.into()}});
    (
        status,
        [(header::CONTENT_TYPE, ERROR_MIME)],
        body.to_string(),
    )
        .into_response()
}

fn typed(status: StatusCode, mime: &str, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/json")),
        )],
        body.to_string(),
    )
        .into_response()
}

/// With `api_key` set, the caller presents it as a bearer token or in Harbor's
/// `X-ScannerAdapter-API-Key` header. Compared in constant time.
async fn authorize(State(jobs): State<Arc<Jobs>>, req: Request, next: Next) -> Response {
    let Some(key) = jobs.config().api_key.as_deref() else {
        return next.run(req).await;
    };
    let h = req.headers();
    let bearer = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let api_key = h
        .get("X-ScannerAdapter-API-Key")
        .and_then(|v| v.to_str().ok());
    let given = bearer.or(api_key).unwrap_or("");
    if !constant_time_eq(given.as_bytes(), key.as_bytes()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong scanner credential",
        );
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn metadata(State(jobs): State<Arc<Jobs>>) -> Response {
    let db = jobs.config().db.clone();
    let updated = tokio::task::spawn_blocking(move || {
        wharf_scanner::db::Db::open_existing(&db)
            .and_then(|d| d.info())
            .ok()
            .and_then(|i| i.updated_at)
    })
    .await
    .ok()
    .flatten();
    let mut properties = json!({
        "harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
    });
    if let Some(t) = updated {
        properties["harbor.scanner-adapter/vulnerability-database-updated-at"] = json!(t);
    }
    let body = json!({
        "scanner": scanner_info(),
        "capabilities": [
            {"type": "vulnerability", "consumes_mime_types": CONSUMES,
             "produces_mime_types": [HARBOR_REPORT_MIME, HARBOR_REPORT_MIME_V1_0, RAW_REPORT_MIME]},
            {"type": "sbom", "consumes_mime_types": CONSUMES,
             "produces_mime_types": [SBOM_REPORT_MIME],
             "additional_attributes": {"sbom_media_types": SBOM_MEDIA_TYPES}},
        ],
        "properties": properties,
    });
    typed(StatusCode::OK, METADATA_MIME, &body)
}

async fn accept(State(jobs): State<Arc<Jobs>>, body: Bytes) -> Response {
    let req: ScanRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) if e.is_data() => return error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("scan request: {e}")),
    };
    let target = match req.target(&jobs.config().ca_certs_pem) {
        Ok(t) => t,
        Err(e @ RequestError::Invalid(_)) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
        }
        Err(e @ RequestError::Unsupported(_)) => {
            return error(StatusCode::NOT_IMPLEMENTED, e.to_string());
        }
    };
    match jobs.accept(target) {
        Ok(id) => typed(StatusCode::ACCEPTED, SCAN_RESPONSE_MIME, &json!({"id": id})),
        Err(full) => error(StatusCode::SERVICE_UNAVAILABLE, full.to_string()),
    }
}

#[derive(Deserialize)]
struct ReportQuery {
    sbom_media_type: Option<String>,
}

/// The media type asked for, without parameters' spacing differences; no `Accept` (or
/// `*/*`) means Harbor's vulnerability report.
fn wanted(headers: &HeaderMap) -> String {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    if accept.is_empty() || accept == "*/*" {
        return HARBOR_REPORT_MIME.to_string();
    }
    normalize(accept)
}

fn normalize(mime: &str) -> String {
    mime.split(';')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

async fn report(
    State(jobs): State<Arc<Jobs>>,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Response {
    let mime = wanted(&headers);
    let known = [
        HARBOR_REPORT_MIME,
        HARBOR_REPORT_MIME_V1_0,
        RAW_REPORT_MIME,
        SBOM_REPORT_MIME,
    ];
    let Some(mime) = known.into_iter().find(|k| normalize(k) == mime) else {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            format!("report type {mime:?} (one of: {})", known.join(", ")),
        );
    };
    let sbom_type = if mime == SBOM_REPORT_MIME {
        match q.sbom_media_type.as_deref() {
            Some(t) if SBOM_MEDIA_TYPES.contains(&t) => Some(t),
            Some(t) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("sbom_media_type {t:?} ({})", SBOM_MEDIA_TYPES.join(", ")),
                );
            }
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "an SBOM report needs ?sbom_media_type=",
                );
            }
        }
    } else {
        None
    };
    let done = match jobs.state(&id) {
        None => return error(StatusCode::NOT_FOUND, format!("no scan request {id}")),
        Some(JobState::Pending) => {
            return (StatusCode::FOUND, [("Refresh-After", REFRESH_AFTER)]).into_response();
        }
        Some(JobState::Failed(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Some(JobState::Done(d)) => d,
    };
    match sbom_type {
        Some(t) => sbom_report(&done, t, mime),
        None if mime == RAW_REPORT_MIME => {
            let raw = wharf_scanner::report::to_json(&done.report);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, RAW_REPORT_MIME)],
                raw,
            )
                .into_response()
        }
        None => {
            let artifact = serde_json::to_value(&done.artifact).unwrap_or(Value::Null);
            let body = harbor_report(
                &done.report.findings,
                artifact,
                scanner_info(),
                &done.generated_at,
            );
            typed(StatusCode::OK, mime, &body)
        }
    }
}

fn sbom_report(done: &Done, media_type: &str, mime: &str) -> Response {
    let format = if media_type == "application/spdx+json" {
        wharf_sbom::Format::SpdxJson
    } else {
        wharf_sbom::Format::CycloneDxJson
    };
    let created = chrono::DateTime::parse_from_rfc3339(&done.generated_at)
        .map(|t| t.timestamp())
        .ok();
    let doc = wharf_sbom::generate(&done.report, format, &wharf_sbom::Options { created })
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()));
    match doc {
        Ok(sbom) => {
            let artifact = serde_json::to_value(&done.artifact).unwrap_or(Value::Null);
            let body = json!({
                "generated_at": done.generated_at,
                "artifact": artifact,
                "scanner": scanner_info(),
                "media_type": media_type,
                "sbom": sbom,
            });
            typed(StatusCode::OK, mime, &body)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("SBOM: {e}")),
    }
}
