//! Harbor's JSON for what the security service returns as typed values: scan
//! overviews, vulnerability reports, scan metrics, signature summaries. The
//! shapes are Harbor's (its Trivy adapter's, for reports), so Harbor clients and
//! scripts read them unchanged.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wharf_scanner::Severity;

use crate::metadata::security::{
    ScanRecord, ScanStatus, ScanSummary, SecuritySummary, VulnItem, VulnerabilityReport,
};
use crate::service::{ScanMetrics, SignatureSummary, time_rfc3339};

/// Harbor's key for vulnerability reports in `scan_overview` and `additions`.
pub use wharf_scanner::report::harbor::HARBOR_REPORT_MIME as REPORT_MIME;
use wharf_scanner::report::harbor::{harbor_highest, harbor_report, harbor_severity};

/// The scanner as Harbor reports name it.
pub use wharf_scanner::report::harbor::scanner_info as scanner_json;

/// `{"total":…, "fixable":…, "summary":{"Critical":n,…}}`.
fn summary(s: &ScanSummary) -> Value {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for (level, n) in &s.by_severity {
        *counts.entry(harbor_severity(*level)).or_default() += n;
    }
    json!({"total": s.total, "fixable": s.fixable, "summary": counts})
}

/// `GET …/additions/vulnerabilities`: Harbor's report (the scanner's renderer, which the
/// scanner adapter shares), with the inventory's size as `packages`.
pub fn vulnerability_report(r: &VulnerabilityReport) -> Value {
    let mut report = harbor_report(
        &r.findings,
        json!({"repository": r.repository, "digest": r.digest}),
        scanner_json(),
        &time_rfc3339(r.generated_at),
    );
    report["packages"] = json!(r.packages);
    report
}

/// One artifact's entry in Harbor's `scan_overview`.
pub fn scan_overview(rec: &ScanRecord) -> Value {
    let time = |t: Option<i64>| t.map(time_rfc3339);
    json!({
        "report_id": rec.digest.to_string(),
        "scan_status": rec.status.as_str(),
        "severity": rec.severity.map(harbor_highest),
        "duration": match (rec.started_at, rec.ended_at) { (Some(s), Some(e)) => e - s, _ => 0 },
        "summary": rec.summary.as_ref().map(summary),
        "start_time": time(rec.started_at),
        "end_time": time(rec.ended_at),
        "complete_percent": if matches!(rec.status, ScanStatus::Success | ScanStatus::Error) { 100 } else { 0 },
        "scanner": scanner_json(),
        "db_version": rec.db_version,
        "message": rec.message,
    })
}

/// One entry of the Security Hub's vulnerability list (Harbor's `VulnerabilityItem`).
pub fn vulnerability_item(v: &VulnItem, with_tag: bool) -> Value {
    let mut item = json!({
        "project_id": v.project_id,
        "repository_name": v.repository,
        "digest": v.digest,
        "cve_id": v.vuln_id,
        "severity": harbor_severity(v.severity),
        "cvss_v3_score": v.cvss_v3,
        "package": v.package,
        "version": v.version,
        "fixed_version": v.fixed_version.clone().unwrap_or_default(),
        "desc": v.description,
        "links": v.links,
    });
    if with_tag {
        item["tags"] = json!(v.tags);
    }
    item
}

/// The Security Hub's summary (Harbor's `SecuritySummary`).
pub fn security_summary(s: &SecuritySummary) -> Value {
    let count = |level: Severity| s.by_severity.get(&level).copied().unwrap_or(0);
    json!({
        "critical_cnt": count(Severity::Critical),
        "high_cnt": count(Severity::High),
        "medium_cnt": count(Severity::Medium),
        "low_cnt": count(Severity::Low),
        "none_cnt": count(Severity::None),
        "unknown_cnt": count(Severity::Unknown),
        "total_vuls": s.total,
        "scanned_cnt": s.scanned,
        "total_artifact": s.artifacts,
        "fixable_cnt": s.fixable,
        "dangerous_cves": s.dangerous_cves.iter().map(|c| json!({
            "cve_id": c.vuln_id,
            "severity": harbor_severity(c.severity),
            "cvss_score_v3": c.cvss_v3,
            "desc": c.description,
            "package": c.package,
            "version": c.version,
        })).collect::<Vec<_>>(),
        "dangerous_artifacts": s.dangerous_artifacts.iter().map(|a| json!({
            "project_id": a.project_id,
            "repository_name": a.repository,
            "digest": a.digest,
            "critical_cnt": a.critical,
            "high_cnt": a.high,
            "medium_cnt": a.medium,
        })).collect::<Vec<_>>(),
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
