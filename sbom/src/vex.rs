//! CycloneDX 1.6 with `vulnerabilities[]` (VEX): the SBOM of the scanned image plus one
//! entry per vulnerability, whose `affects[].ref` names the affected components' bom-refs.
//! For `wharf scan --format cyclonedx`; the bom-refs are those of `wharf sbom`'s document.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};
use wharf_scanner::db::trivy::model::is_rfc3339;
use wharf_scanner::matcher::Finding;
use wharf_scanner::report::ScanReport;

use crate::{Format, Options, Result};

/// Renders the SBOM of `report` with its findings as `vulnerabilities`.
pub fn render(report: &ScanReport, opts: &Options) -> Result<Vec<u8>> {
    let bom = crate::generate(report, Format::CycloneDxJson, opts)?;
    let mut doc: Value = serde_json::from_slice(&bom)?;
    // Components are keyed by (purl, path), as the SBOM writer made their bom-refs.
    let refs: HashMap<(String, String), String> = doc["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let purl = c["purl"].as_str()?.to_string();
            let path = c["evidence"]["occurrences"][0]["location"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Some(((purl, path), c["bom-ref"].as_str()?.to_string()))
        })
        .collect();
    let mut by_id: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        by_id.entry(&f.vulnerability_id).or_default().push(f);
    }
    let mut vulns = Vec::new();
    for (id, fs) in by_id {
        let a = &fs[0].advisory;
        let mut v = json!({
            "bom-ref": format!("vuln:{id}"),
            "id": id,
            "source": {"name": a.source},
            "ratings": ratings(&fs[0].advisory),
        });
        let also: Vec<Value> = std::iter::once(&a.id)
            .chain(a.aliases.iter())
            .filter(|x| x.as_str() != id)
            .map(|x| json!({"id": x, "source": {"name": a.source}}))
            .collect();
        if !also.is_empty() {
            v["references"] = Value::Array(also);
        }
        if let Some(s) = a.summary.as_deref().filter(|s| !s.is_empty()) {
            v["description"] = json!(s);
        }
        if let Some(d) = a.details.as_deref().filter(|s| !s.is_empty()) {
            v["detail"] = json!(d);
        }
        let urls: Vec<Value> = a.references.iter().map(|r| json!({"url": r.url})).collect();
        if !urls.is_empty() {
            v["advisories"] = Value::Array(urls);
        }
        if let Some(p) = a.published.as_deref().filter(|d| is_rfc3339(d)) {
            v["published"] = json!(p);
        }
        if let Some(m) = a.modified.as_deref().filter(|d| is_rfc3339(d)) {
            v["updated"] = json!(m);
        }
        let mut affects: Vec<Value> = Vec::new();
        let mut fixes = Vec::new();
        for f in &fs {
            let key = (f.package.purl.clone(), f.package.path.clone());
            let Some(r) = refs.get(&key) else { continue };
            if affects.iter().any(|x| x["ref"] == r.as_str()) {
                continue;
            }
            affects.push(json!({
                "ref": r,
                "versions": [{"version": f.package.version, "status": "affected"}],
            }));
            if let Some(fix) = &f.fixed_version {
                fixes.push(format!("{} {} → {fix}", f.package.name, f.package.version));
            }
        }
        if affects.is_empty() {
            continue;
        }
        v["affects"] = Value::Array(affects);
        // VEX analysis: what can be done, as far as the advisory data says.
        if fs.iter().any(|f| f.status == "will_not_fix") {
            v["analysis"] = json!({"response": ["will_not_fix"]});
        } else if !fixes.is_empty() {
            v["analysis"] = json!({"response": ["update"]});
            v["recommendation"] = json!(format!("Upgrade {}", fixes.join("; ")));
        }
        vulns.push(v);
    }
    doc["vulnerabilities"] = Value::Array(vulns);
    let mut out = serde_json::to_vec_pretty(&doc)?;
    out.push(b'\n');
    Ok(out)
}

/// CVSS ratings with their method, else the advisory's label alone.
fn ratings(a: &wharf_scanner::db::Advisory) -> Value {
    let mut out = Vec::new();
    for s in [&a.cvss_v3, &a.cvss_v4].into_iter().flatten() {
        let method = if s.vector.starts_with("CVSS:3.1") {
            "CVSSv31"
        } else if s.vector.starts_with("CVSS:3.0") {
            "CVSSv3"
        } else if s.vector.starts_with("CVSS:4.0") {
            "CVSSv4"
        } else {
            "other"
        };
        out.push(json!({
            "source": {"name": a.source},
            "score": s.score,
            "severity": severity(&s.severity),
            "method": method,
            "vector": s.vector,
        }));
    }
    if out.is_empty() {
        out.push(json!({"source": {"name": a.source}, "severity": severity(&a.severity), "method": "other"}));
    }
    Value::Array(out)
}

/// CycloneDX's lower-case severity names; any name that is not a severity is `unknown`.
fn severity(s: &str) -> String {
    wharf_scanner::Severity::lenient(s)
        .as_str()
        .to_ascii_lowercase()
}
