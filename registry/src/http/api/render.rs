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
pub const REPORT_MIME: &str = "application/vnd.security.vulnerability.report; version=1.1";

/// The scanner as Harbor reports name it.
pub fn scanner_json() -> Value {
    json!({"name": "Wharf", "vendor": "Wharf", "version": env!("CARGO_PKG_VERSION")})
}

/// Harbor's name of a severity (title case). The scanner's NONE is reported as
/// Unknown, as Harbor's Trivy adapter does.
fn harbor_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Unknown | Severity::None => "Unknown",
    }
}

/// The highest severity of a scan as Harbor names it: "None" when nothing was found.
fn harbor_highest(s: Severity) -> &'static str {
    match s {
        Severity::None => "None",
        s => harbor_severity(s),
    }
}

/// `{"total":…, "fixable":…, "summary":{"Critical":n,…}}`.
fn summary(s: &ScanSummary) -> Value {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for (level, n) in &s.by_severity {
        *counts.entry(harbor_severity(*level)).or_default() += n;
    }
    json!({"total": s.total, "fixable": s.fixable, "summary": counts})
}

/// `GET …/additions/vulnerabilities`: Harbor's report (its Trivy adapter's fields),
/// with what Harbor has no field for under `vendor_attributes`.
pub fn vulnerability_report(r: &VulnerabilityReport) -> Value {
    let vulnerabilities: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let a = &f.advisory;
            let mut cvss = serde_json::Map::new();
            if let Some(v3) = &a.cvss_v3 {
                cvss.insert("score_v3".into(), json!(v3.score));
                cvss.insert("vector_v3".into(), json!(v3.vector));
            }
            if let Some(v4) = &a.cvss_v4 {
                cvss.insert("score_v4".into(), json!(v4.score));
                cvss.insert("vector_v4".into(), json!(v4.vector));
            }
            json!({
                "id": f.vulnerability_id,
                "package": f.package.name,
                "version": f.package.version,
                "fix_version": f.fixed_version.clone().unwrap_or_default(),
                "severity": harbor_severity(f.severity()),
                "description": a.summary.clone().or_else(|| a.details.clone()).unwrap_or_default(),
                "links": a.references.iter().map(|r| r.url.clone()).collect::<Vec<_>>(),
                "preferred_cvss": cvss,
                "cwe_ids": [],
                "vendor_attributes": {"advisory_id": a.id, "source": a.source, "status": f.status,
                    "purl": f.package.purl, "layer": f.package.layer, "path": f.package.path},
            })
        })
        .collect();
    let (_, highest) = r.summary();
    json!({
        "generated_at": time_rfc3339(r.generated_at),
        "artifact": {"repository": r.repository, "digest": r.digest},
        "scanner": scanner_json(),
        "severity": harbor_highest(highest),
        "packages": r.packages,
        "vulnerabilities": vulnerabilities,
    })
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
