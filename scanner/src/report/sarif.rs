//! SARIF 2.1.0 as GitHub code scanning accepts it: one rule per vulnerability with a
//! numeric `security-severity`, one result per vulnerable package located at the file the
//! package was found in.

use serde_json::{Value, json};

use super::ScanReport;

fn level(sev: &str) -> &'static str {
    match sev {
        "CRITICAL" | "HIGH" => "error",
        "MEDIUM" => "warning",
        _ => "note",
    }
}

/// GitHub maps security-severity onto its levels: >= 9 critical, >= 7 high, >= 4 medium.
fn security_severity(f: &crate::matcher::Finding) -> String {
    let score = f
        .advisory
        .cvss_v3
        .as_ref()
        .or(f.advisory.cvss_v4.as_ref())
        .map(|s| s.score)
        .unwrap_or_else(|| label_score(&f.advisory.severity));
    format!("{score:.1}")
}

/// A severity label alone as a score inside GitHub's band for it.
fn label_score(sev: &str) -> f64 {
    match sev {
        "CRITICAL" => 9.5,
        "HIGH" => 8.0,
        "MEDIUM" => 5.5,
        "LOW" => 2.0,
        _ => 0.0,
    }
}

fn severity_score(sev: &str) -> String {
    format!("{:.1}", label_score(sev))
}

pub fn to_sarif(r: &ScanReport) -> String {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_index = std::collections::HashMap::new();
    let mut results = Vec::new();
    for f in &r.findings {
        let a = &f.advisory;
        let idx = *rule_index.entry(f.vulnerability_id.clone()).or_insert_with(|| {
            let help_uri = a.references.first().map(|r| r.url.clone()).unwrap_or_else(|| format!("https://osv.dev/vulnerability/{}", a.id));
            let title = a.summary.clone().unwrap_or_else(|| f.vulnerability_id.clone());
            rules.push(json!({
                "id": f.vulnerability_id,
                "name": if f.package.ecosystem.is_os() { "OsPackageVulnerability" } else { "LanguageSpecificPackageVulnerability" },
                "shortDescription": {"text": title},
                "fullDescription": {"text": a.details.clone().unwrap_or_else(|| title.clone())},
                "defaultConfiguration": {"level": level(&a.severity)},
                "helpUri": help_uri,
                "help": {
                    "text": format!("Vulnerability {}\nSeverity: {}\n{}", f.vulnerability_id, a.severity, title),
                    "markdown": format!("**Vulnerability {}**\n\nSeverity: {}\n\n{}", f.vulnerability_id, a.severity, title),
                },
                "properties": {"precision": "very-high", "security-severity": security_severity(f), "tags": ["vulnerability", "security", a.severity]},
            }));
            rules.len() - 1
        });
        let p = &f.package;
        let msg = format!(
            "Package: {}\nInstalled Version: {}\nVulnerability {}\nSeverity: {}\nFixed Version: {}\nLink: [{}]({})",
            p.name,
            p.version,
            f.vulnerability_id,
            a.severity,
            f.fixed_version.clone().unwrap_or_default(),
            f.vulnerability_id,
            rules[idx]["helpUri"].as_str().unwrap_or_default()
        );
        results.push(json!({
            "ruleId": f.vulnerability_id,
            "ruleIndex": idx,
            "level": level(&a.severity),
            "message": {"text": msg},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": p.path, "uriBaseId": "ROOTPATH"},
                    "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1}
                },
                "message": {"text": format!("{}: {}@{}", r.artifact, p.name, p.version)}
            }]
        }));
    }
    for file in &r.secrets {
        for s in &file.findings {
            let idx = *rule_index.entry(s.rule_id.to_string()).or_insert_with(|| {
                rules.push(json!({
                    "id": s.rule_id,
                    "name": "Secret",
                    "shortDescription": {"text": s.title},
                    "fullDescription": {"text": s.title},
                    "defaultConfiguration": {"level": level(s.severity)},
                    "help": {
                        "text": format!("Secret {}\nSeverity: {}\nCategory: {}", s.title, s.severity, s.category),
                        "markdown": format!("**Secret {}**\n\nSeverity: {}\n\nCategory: {}", s.title, s.severity, s.category),
                    },
                    "properties": {"precision": "very-high", "security-severity": severity_score(s.severity), "tags": ["secret", "security", s.severity]},
                }));
                rules.len() - 1
            });
            results.push(json!({
                "ruleId": s.rule_id,
                "ruleIndex": idx,
                "level": level(s.severity),
                "message": {"text": format!("Artifact: {}\nType: secret\nSecret {}\nSeverity: {}\nMatch: {}", r.artifact, s.title, s.severity, s.matched)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": file.path, "uriBaseId": "ROOTPATH"},
                        "region": {"startLine": s.start_line, "startColumn": 1, "endLine": s.end_line, "endColumn": 1}
                    },
                    "message": {"text": format!("{}: {}", r.artifact, s.rule_id)}
                }]
            }));
        }
    }
    let doc = json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "Wharf", "fullName": "Wharf vulnerability scanner", "informationUri": "https://github.com/wharf", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results,
            "columnKind": "utf16CodeUnits",
            "originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}},
            "properties": {"imageName": r.artifact, "manifestDigest": r.manifest_digest}
        }]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
