//! Harbor's vulnerability report: the pluggable-scanner spec's `HarborVulnerabilityReport`,
//! with the fields Harbor's Trivy adapter fills. One renderer for both places that speak it:
//! the registry's `…/additions/vulnerabilities` and the scanner adapter
//! (`wharf adapter serve`), so Harbor's portal and scripts read the same shape from either.

use serde_json::{Map, Value, json};

use crate::matcher::Finding;
use crate::severity::Severity;

/// The report's media type (Harbor's key in `scan_overview` and `additions`).
pub const HARBOR_REPORT_MIME: &str = "application/vnd.security.vulnerability.report; version=1.1";
/// The older media type of the same report, still asked for by Harbor 2.0–2.2.
pub const HARBOR_REPORT_MIME_V1_0: &str =
    "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";

/// The spec's `Scanner` object: who made a report.
pub fn scanner_info() -> Value {
    json!({"name": "Wharf", "vendor": "Wharf", "version": env!("CARGO_PKG_VERSION")})
}

/// Harbor's name of a severity (title case). The scanner's NONE is reported as Unknown,
/// as Harbor's Trivy adapter does.
pub fn harbor_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Unknown | Severity::None => "Unknown",
    }
}

/// The highest severity of a scan as Harbor names it: "None" when nothing was found.
pub fn harbor_highest(s: Severity) -> &'static str {
    match s {
        Severity::None => "None",
        s => harbor_severity(s),
    }
}

/// One `VulnerabilityItem`; what Harbor has no field for goes under `vendor_attributes`.
pub fn harbor_vulnerability(f: &Finding) -> Value {
    let a = &f.advisory;
    let mut cvss = Map::new();
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
}

/// The whole report. `artifact` and `scanner` are the spec's objects as the caller knows
/// them; `generated_at` is RFC 3339.
pub fn harbor_report(
    findings: &[Finding],
    artifact: Value,
    scanner: Value,
    generated_at: &str,
) -> Value {
    let highest = findings
        .iter()
        .map(Finding::severity)
        .max()
        .unwrap_or(Severity::None);
    json!({
        "generated_at": generated_at,
        "artifact": artifact,
        "scanner": scanner,
        "severity": harbor_highest(highest),
        "vulnerabilities": findings.iter().map(harbor_vulnerability).collect::<Vec<_>>(),
    })
}
