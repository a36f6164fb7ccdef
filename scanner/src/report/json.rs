//! JSON in Trivy's report shape (`SchemaVersion` 2): `Results[]` per target, each with
//! `Vulnerabilities[]` (or `Packages[]` for an inventory), field names as Trivy spells them,
//! so tools that read Trivy reports read ours.

use serde_json::{Map, Value, json};

use super::ScanReport;
use crate::inventory::Package;
use crate::matcher::Finding;
use crate::secret::SecretFinding;

fn metadata(r: &ScanReport) -> Value {
    let mut m = Map::new();
    if let Some(d) = &r.inventory.distro {
        m.insert("OS".into(), json!({"Family": d.id, "Name": d.version_id}));
    }
    if let Some(dg) = &r.manifest_digest {
        m.insert("ManifestDigest".into(), json!(dg));
    }
    m.insert("Layers".into(), json!(r.layers));
    Value::Object(m)
}

fn vuln(f: &Finding) -> Value {
    let a = &f.advisory;
    let p = &f.package;
    let mut cvss = Map::new();
    let mut src = Map::new();
    if let Some(v3) = &a.cvss_v3 {
        src.insert("V3Vector".into(), json!(v3.vector));
        src.insert("V3Score".into(), json!(v3.score));
    }
    if let Some(v4) = &a.cvss_v4 {
        src.insert("V40Vector".into(), json!(v4.vector));
        src.insert("V40Score".into(), json!(v4.score));
    }
    if !src.is_empty() {
        cvss.insert(a.source.clone(), Value::Object(src));
    }
    let mut v = json!({
        "VulnerabilityID": f.vulnerability_id,
        "VendorIDs": f.vendor_ids,
        "PkgID": format!("{}@{}", p.name, p.version),
        "PkgName": p.name,
        "PkgPath": p.path,
        "PkgIdentifier": {"PURL": p.purl},
        "InstalledVersion": p.version,
        "FixedVersion": f.fixed_version.clone().unwrap_or_default(),
        "Status": f.status,
        "Layer": {"Digest": p.layer.clone().unwrap_or_default()},
        "SeveritySource": a.source,
        "PrimaryURL": a.references.iter().find(|r| r.kind == "ADVISORY").or(a.references.first()).map(|r| r.url.clone()).unwrap_or_default(),
        "DataSource": {"ID": a.source, "Name": a.source},
        "Title": a.summary.clone().unwrap_or_default(),
        "Description": a.details.clone().unwrap_or_default(),
        "Severity": a.severity,
        "CVSS": cvss,
        "References": a.references.iter().map(|r| r.url.clone()).collect::<Vec<_>>(),
        "PublishedDate": a.published,
        "LastModifiedDate": a.modified,
    });
    if let Some(src) = &p.source_name {
        v["SrcName"] = json!(src);
    }
    v
}

fn package(p: &Package) -> Value {
    let mut v = json!({
        "ID": format!("{}@{}", p.name, p.version),
        "Name": p.name,
        "Identifier": {"PURL": p.purl},
        "Version": p.version,
        "Licenses": p.licenses,
        "Layer": {"Digest": p.layer.clone().unwrap_or_default()},
        "FilePath": p.path,
    });
    if let Some(s) = &p.source_name {
        v["SrcName"] = json!(s);
        v["SrcVersion"] = json!(
            p.source_version
                .clone()
                .unwrap_or_else(|| p.version.clone())
        );
    }
    v
}

/// One secret as Trivy writes it (`Results[].Secrets[]`).
fn secret(s: &SecretFinding, layer: &Option<String>) -> Value {
    let lines: Vec<Value> = s
        .code
        .iter()
        .map(|l| json!({"Number": l.number, "Content": l.content, "IsCause": l.is_cause, "Highlighted": l.content}))
        .collect();
    json!({
        "RuleID": s.rule_id,
        "Category": s.category,
        "Severity": s.severity,
        "Title": s.title,
        "StartLine": s.start_line,
        "EndLine": s.end_line,
        "Code": {"Lines": lines},
        "Match": s.matched,
        "Offset": s.offset,
        "Layer": {"Digest": layer.clone().unwrap_or_default()},
    })
}

/// The vulnerability report.
pub fn to_json(r: &ScanReport) -> String {
    let mut results: Vec<Value> = r
        .grouped()
        .into_iter()
        .map(|(t, fs)| json!({"Target": t.name, "Class": t.class, "Type": t.kind, "Vulnerabilities": fs.into_iter().map(vuln).collect::<Vec<_>>()}))
        .collect();
    // Trivy: one result per file with secrets, class `secret`, target the file's path.
    results.extend(r.secrets.iter().map(|f| {
        json!({"Target": f.path, "Class": "secret", "Secrets": f.findings.iter().map(|s| secret(s, &f.layer)).collect::<Vec<_>>()})
    }));
    let doc = json!({
        "SchemaVersion": 2,
        "ArtifactName": r.artifact,
        "ArtifactType": "container_image",
        "Metadata": metadata(r),
        "Results": results,
        "Warnings": r.warnings.messages,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// The inventory alone (`--list-packages`).
pub fn to_json_packages(r: &ScanReport) -> String {
    let results: Vec<Value> = r
        .packages_grouped()
        .into_iter()
        .map(|(t, ps)| json!({"Target": t.name, "Class": t.class, "Type": t.kind, "Packages": ps.into_iter().map(package).collect::<Vec<_>>()}))
        .collect();
    let doc = json!({"SchemaVersion": 2, "ArtifactName": r.artifact, "ArtifactType": "container_image", "Metadata": metadata(r), "Results": results, "Warnings": r.warnings.messages});
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
