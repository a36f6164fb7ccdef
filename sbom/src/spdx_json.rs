//! SPDX 2.3 JSON (spec clauses 6–11: document creation, package, relationship and other
//! licensing information), written from the inventory.
//!
//! Keys are emitted in sorted order (serde_json's map), packages sorted by PURL and path,
//! and every identifier derived from content: reruns are byte-identical.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wharf_scanner::inventory::{Ecosystem, Package};
use wharf_scanner::report::ScanReport;

use crate::license::normalize;
use crate::supplier::{Supplier, spdx_checksums, supplier};
use crate::{Result, Subject, TOOL_NAME, TOOL_VERSION, cpe, time};

const NOASSERTION: &str = "NOASSERTION";

/// `SPDXRef-` followed only by the characters the spec allows (`[a-zA-Z0-9.-]`).
fn spdx_id(kind: &str, p: &Package) -> String {
    let clean: String = p
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let h = crate::read::short_hash(&[&p.purl, &p.path]);
    format!("SPDXRef-{kind}-{}-{clean}-{h}", p.ecosystem.purl_type())
}

/// Packages in a stable order, duplicates (same PURL and file) dropped.
pub(crate) fn sorted_packages(report: &ScanReport) -> Vec<&Package> {
    let mut pkgs: Vec<&Package> = report.inventory.packages.iter().collect();
    pkgs.sort_by(|a, b| {
        (&a.purl, &a.path, &a.name, &a.version).cmp(&(&b.purl, &b.path, &b.name, &b.version))
    });
    pkgs.dedup_by(|a, b| a.purl == b.purl && a.path == b.path);
    pkgs
}

/// Where the package was found, in words (SPDX `sourceInfo`).
pub(crate) fn source_info(p: &Package) -> String {
    match &p.layer {
        Some(l) => format!("acquired package info from {} in layer {l}", p.path),
        None => format!("acquired package info from {}", p.path),
    }
}

pub fn render(subject: &Subject, report: &ScanReport, created: i64) -> Result<Vec<u8>> {
    let pkgs = sorted_packages(report);
    let mut packages = Vec::new();
    let mut relationships = Vec::new();
    let mut extracted: BTreeMap<String, String> = BTreeMap::new();

    let mut root = json!({
        "SPDXID": "SPDXRef-Image",
        "name": subject.name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": "CONTAINER",
        "comment": format!("image {}", subject.reference),
    });
    if let Some(d) = &subject.digest {
        root["versionInfo"] = json!(d);
    }
    if let Some(hex) = subject.sha256_hex() {
        root["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": hex}]);
    }
    if let Some(purl) = &subject.purl {
        root["externalRefs"] = json!([{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl,
        }]);
    }
    packages.push(root);
    relationships.push(json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    }));

    if let Some(d) = &report.inventory.distro {
        packages.push(json!({
            "SPDXID": "SPDXRef-OperatingSystem",
            "name": d.id,
            "versionInfo": d.version_id,
            "downloadLocation": NOASSERTION,
            "filesAnalyzed": false,
            "licenseConcluded": NOASSERTION,
            "licenseDeclared": NOASSERTION,
            "copyrightText": NOASSERTION,
            "primaryPackagePurpose": "OPERATING_SYSTEM",
            "description": d.pretty_name.clone().unwrap_or_default(),
        }));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-OperatingSystem",
        }));
    }

    for p in &pkgs {
        let id = spdx_id("Package", p);
        let lic = normalize(&p.licenses);
        extracted.extend(lic.refs);
        let mut refs = vec![json!({
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": p.purl,
        })];
        if let Some(c) = cpe::for_package(p) {
            refs.push(json!({
                "referenceCategory": "SECURITY",
                "referenceType": "cpe23Type",
                "referenceLocator": c,
            }));
        }
        let mut pkg = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "supplier": supplier(report, p).map_or(NOASSERTION.to_string(), |s| s.spdx()),
            "downloadLocation": NOASSERTION,
            "filesAnalyzed": false,
            "licenseConcluded": NOASSERTION,
            "licenseDeclared": lic.expression.as_deref().unwrap_or(NOASSERTION),
            "copyrightText": NOASSERTION,
            "sourceInfo": source_info(p),
            "externalRefs": refs,
            "primaryPackagePurpose": if matches!(p.ecosystem, Ecosystem::Go) && p.name == "stdlib" { "FRAMEWORK" } else { "LIBRARY" },
        });
        if let Some(c) = spdx_checksums(p) {
            pkg["checksums"] = c;
        }
        // The maintainer or author the package names is also where it came from (as Syft).
        if let Some(s) = p.supplier.as_deref().and_then(Supplier::parse) {
            pkg["originator"] = json!(s.spdx());
        }
        if let (Some(s), Some(v)) = (&p.source_name, &p.source_version) {
            pkg["comment"] = json!(format!("source package {s} {v}"));
        }
        packages.push(pkg);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }

    let ns_id = crate::read::content_uuid(&[
        "spdx",
        TOOL_VERSION,
        &subject.reference,
        subject.digest.as_deref().unwrap_or(""),
        &serde_json::to_string(&packages)?,
    ]);
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": subject.reference,
        "documentNamespace": format!("https://wharf.dev/spdxdocs/{}-{ns_id}", subject.name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.', "-")),
        "creationInfo": {
            "created": time::rfc3339(created),
            "creators": [format!("Tool: {TOOL_NAME}-{TOOL_VERSION}")],
            "licenseListVersion": license_list_version(),
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !extracted.is_empty() {
        doc["hasExtractedLicensingInfos"] = Value::Array(
            extracted
                .into_iter()
                .map(|(id, text)| json!({"licenseId": id, "extractedText": text, "name": text}))
                .collect(),
        );
    }
    Ok(serde_json::to_vec_pretty(&doc)?)
}

/// `MAJOR.MINOR` of the SPDX license list the `spdx` crate embeds (the field's format).
fn license_list_version() -> String {
    spdx::identifiers::VERSION
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}
