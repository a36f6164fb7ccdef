//! Harbor's JSON for what the security service returns as typed values: scan
//! overviews, scan metrics, signature summaries. The shapes are Harbor's, so
//! Harbor clients and scripts read them unchanged.

use serde_json::{Value, json};

use crate::metadata::security::{ScanRecord, ScanStatus};
use crate::service::{ScanMetrics, SignatureSummary, scanner_json, time_rfc3339};

/// One artifact's entry in Harbor's `scan_overview`.
pub fn scan_overview(rec: &ScanRecord) -> Value {
    let time = |t: Option<i64>| t.map(time_rfc3339);
    json!({
        "report_id": rec.digest.to_string(),
        "scan_status": rec.status.as_str(),
        "severity": rec.severity,
        "duration": match (rec.started_at, rec.ended_at) { (Some(s), Some(e)) => e - s, _ => 0 },
        "summary": rec.summary,
        "start_time": time(rec.started_at),
        "end_time": time(rec.ended_at),
        "complete_percent": if matches!(rec.status, ScanStatus::Success | ScanStatus::Error) { 100 } else { 0 },
        "scanner": scanner_json(),
        "db_version": rec.db_version,
        "message": rec.message,
    })
}

/// `GET /scans/all/metrics`.
pub fn scan_metrics(m: &ScanMetrics) -> Value {
    let (total, ongoing) = (m.total(), m.ongoing());
    json!({"total": total, "completed": total - ongoing, "metrics": m.by_status, "ongoing": ongoing > 0, "trigger": "Manual"})
}

/// One entry of an artifact's `signatures` (`?with_signature=true`).
pub fn signature(s: &SignatureSummary) -> Value {
    let identity =
        |i: &wharf_signer::keyless::CertIdentity| json!({"subject": i.subject, "issuer": i.issuer});
    json!({
        "type": s.kind,
        "source": s.source,
        "predicate_type": s.predicate_type,
        "certificate_identity": s.certificate_identity.as_ref().map(identity),
        "verified": s.verified,
        "key_fingerprint": s.key_fingerprint,
        "verified_identity": s.verified_identity.as_ref().map(identity),
        "reason": s.reason,
    })
}
