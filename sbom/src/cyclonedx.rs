//! CycloneDX 1.6 JSON, written from the inventory.
//!
//! Why not the `cyclonedx-bom` crate: its latest release (0.8.1) models spec versions 1.3,
//! 1.4 and 1.5 only (`SpecVersion` has no 1.6, and its 1.5 writer cannot emit 1.6-only
//! fields such as `evidence.occurrences[].location` with our layer data or a `metadata.tools`
//! object in 1.6 form). The 1.6 document is small enough to write from the schema directly;
//! it is checked against the official 1.6 JSON schema and cyclonedx-python-lib's validator
//! in the tests.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wharf_scanner::inventory::Package;
use wharf_scanner::report::ScanReport;

use crate::license::normalize;
use crate::spdx_json::sorted_packages;
use crate::supplier::{cyclonedx_hashes, supplier};
use crate::{Result, Subject, TOOL_NAME, TOOL_VERSION, cpe, time};

/// Property names for what CycloneDX has no field for.
pub const PROP_LAYER: &str = "wharf:layer:digest";
pub const PROP_SOURCE: &str = "wharf:package:source";

fn component(report: &ScanReport, p: &Package, bom_ref: &str) -> Value {
    let mut c = json!({
        "bom-ref": bom_ref,
        "type": "library",
        "name": p.name,
        "version": p.version,
        "purl": p.purl,
        "evidence": {"occurrences": [{"location": p.path}]},
    });
    if let Some(s) = supplier(report, p) {
        c["supplier"] = s.cyclonedx();
    }
    if let Some(h) = cyclonedx_hashes(p) {
        c["hashes"] = h;
    }
    if let Some(e) = normalize(&p.licenses).expression {
        c["licenses"] = json!([{"expression": e}]);
    }
    if let Some(cpe) = cpe::for_package(p) {
        c["cpe"] = json!(cpe);
    }
    let mut props = Vec::new();
    if let Some(l) = &p.layer {
        props.push(json!({"name": PROP_LAYER, "value": l}));
    }
    if let (Some(s), Some(v)) = (&p.source_name, &p.source_version) {
        props.push(json!({"name": PROP_SOURCE, "value": format!("{s} {v}")}));
    }
    if !props.is_empty() {
        c["properties"] = Value::Array(props);
    }
    c
}

pub fn render(subject: &Subject, report: &ScanReport, created: i64) -> Result<Vec<u8>> {
    let pkgs = sorted_packages(report);
    // bom-refs: the PURL, made unique with the file path when one PURL occurs twice.
    let mut purl_count: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &pkgs {
        *purl_count.entry(p.purl.as_str()).or_default() += 1;
    }
    let refs: Vec<String> = pkgs
        .iter()
        .map(|p| {
            if purl_count[p.purl.as_str()] > 1 {
                format!("{}#{}", p.purl, p.path)
            } else {
                p.purl.clone()
            }
        })
        .collect();

    let root_ref = subject.purl.clone().unwrap_or_else(|| "image".to_string());
    let mut root = json!({
        "bom-ref": root_ref,
        "type": "container",
        "name": subject.name,
        "description": format!("image {}", subject.reference),
    });
    if let Some(d) = &subject.digest {
        root["version"] = json!(d);
    }
    if let Some(hex) = subject.sha256_hex() {
        root["hashes"] = json!([{"alg": "SHA-256", "content": hex}]);
    }
    if let Some(purl) = &subject.purl {
        root["purl"] = json!(purl);
    }

    let mut components = Vec::new();
    let mut root_deps = Vec::new();
    if let Some(d) = &report.inventory.distro {
        let os_ref = format!("os:{}@{}", d.id, d.version_id);
        components.push(json!({
            "bom-ref": os_ref,
            "type": "operating-system",
            "name": d.id,
            "version": d.version_id,
            "description": d.pretty_name.clone().unwrap_or_default(),
        }));
        root_deps.push(os_ref);
    }
    for (p, r) in pkgs.iter().zip(&refs) {
        components.push(component(report, p, r));
        root_deps.push(r.clone());
    }
    let mut dependencies = vec![json!({"ref": root_ref, "dependsOn": root_deps})];
    for r in root_deps.iter() {
        dependencies.push(json!({"ref": r}));
    }

    let serial = crate::read::content_uuid(&[
        "cyclonedx",
        TOOL_VERSION,
        &subject.reference,
        subject.digest.as_deref().unwrap_or(""),
        &serde_json::to_string(&components)?,
    ]);
    let doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{serial}"),
        "version": 1,
        "metadata": {
            "timestamp": time::rfc3339(created),
            "tools": {"components": [{
                "type": "application",
                "name": TOOL_NAME,
                "version": TOOL_VERSION,
            }]},
            "component": root,
        },
        "components": components,
        "dependencies": dependencies,
    });
    Ok(serde_json::to_vec_pretty(&doc)?)
}
