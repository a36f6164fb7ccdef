//! Scans the pyapp test image against the real PyPA advisories in ../shared/vulndata.
//! The expected findings are computed here from the advisory files themselves: an advisory
//! applies when the installed version is in its explicit `versions` list (the PyPA data
//! enumerates every affected release) — an oracle independent of our range evaluation.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use wharf_scanner::db::Db;
use wharf_scanner::image::LoadOptions;
use wharf_scanner::inventory::Ecosystem;
use wharf_scanner::{Warnings, report};

fn yaml_str(v: &serde_norway::Value) -> Option<String> {
    match v {
        serde_norway::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// advisory id -> fixed versions named by the advisory, for advisories affecting `name==version`.
fn expected_from_advisories(name: &str, version: &str) -> BTreeMap<String, BTreeSet<String>> {
    let norm = Ecosystem::PyPI.normalize_name(name);
    let dir = common::vulndata().join("pypa/vulns").join(&norm);
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return out;
    };
    for f in rd.flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap();
        let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        if doc.get("withdrawn").is_some() {
            continue;
        }
        let id = yaml_str(&doc["id"]).unwrap();
        for a in doc["affected"].as_sequence().into_iter().flatten() {
            let pname = yaml_str(&a["package"]["name"]).unwrap_or_default();
            if Ecosystem::PyPI.normalize_name(&pname) != norm {
                continue;
            }
            let listed = a["versions"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(yaml_str)
                .any(|v| v == version);
            if listed {
                let fixes: BTreeSet<String> = a["ranges"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .flat_map(|r| r["events"].as_sequence().cloned().unwrap_or_default())
                    .filter_map(|e| yaml_str(&e["fixed"]))
                    .collect();
                out.entry(id.clone())
                    .or_insert_with(BTreeSet::new)
                    .extend(fixes);
            }
        }
    }
    out
}

#[test]
fn pyapp_findings_match_the_advisories() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Db::open(&tmp.path().join("vuln.db")).unwrap();
    let mut w = Warnings::default();
    let stats = db
        .import_osv(&[common::vulndata().join("pypa/vulns")], &mut w)
        .unwrap();
    assert!(stats.advisories > 1000, "{stats:?}");
    assert_eq!(stats.skipped, 0, "{w:?}");

    let report =
        wharf_scanner::scan(&common::image("pyapp", "v1"), &LoadOptions::default(), &db).unwrap();
    let mut want: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for p in report
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::PyPI)
    {
        for (id, fixes) in expected_from_advisories(&p.name, &p.version) {
            want.insert((Ecosystem::PyPI.normalize_name(&p.name), id), fixes);
        }
    }
    assert!(
        want.len() >= 10,
        "the image has old packages; advisories expected: {want:?}"
    );
    let got: BTreeMap<(String, String), Option<String>> = report
        .findings
        .iter()
        .map(|f| {
            (
                (
                    Ecosystem::PyPI.normalize_name(&f.package.name),
                    f.advisory.id.clone(),
                ),
                f.fixed_version.clone(),
            )
        })
        .collect();
    let want_keys: BTreeSet<_> = want.keys().cloned().collect();
    let got_keys: BTreeSet<_> = got.keys().cloned().collect();
    assert_eq!(
        got_keys,
        want_keys,
        "missing: {:?}\nextra: {:?}",
        want_keys.difference(&got_keys).collect::<Vec<_>>(),
        got_keys.difference(&want_keys).collect::<Vec<_>>()
    );
    for (k, fixes) in &want {
        if let Some(fixed) = &got[k] {
            for f in fixed.split(", ") {
                assert!(
                    fixes.contains(f),
                    "{k:?}: fixed version {f} not named by the advisory ({fixes:?})"
                );
            }
        } else {
            assert!(
                fixes.is_empty(),
                "{k:?}: advisory names fixes {fixes:?} but none reported"
            );
        }
    }

    // Output formats carry the same findings.
    let json: serde_json::Value = serde_json::from_str(&report::to_json(&report)).unwrap();
    let n: usize = json["Results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Vulnerabilities"].as_array().unwrap().len())
        .sum();
    assert_eq!(n, report.findings.len());
    let py = json["Results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Type"] == "python-pkg")
        .unwrap();
    for v in py["Vulnerabilities"].as_array().unwrap() {
        for k in [
            "VulnerabilityID",
            "PkgName",
            "InstalledVersion",
            "FixedVersion",
            "Severity",
            "CVSS",
            "PkgIdentifier",
            "Layer",
        ] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
    }
    let sarif: serde_json::Value = serde_json::from_str(&report::to_sarif(&report)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        report.findings.len()
    );
    for rule in sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
    {
        let s: f64 = rule["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=10.0).contains(&s));
    }

    // --ignore-unfixed and --severity filters
    let mut only_fixed = report.clone();
    only_fixed.filter(&[], true);
    assert!(
        only_fixed
            .findings
            .iter()
            .all(|f| f.fixed_version.is_some())
    );
    let mut high = report.clone();
    high.filter(&["critical".into(), "HIGH".into()], false);
    assert!(
        high.findings
            .iter()
            .all(|f| f.advisory.severity == "CRITICAL" || f.advisory.severity == "HIGH")
    );
    assert!(high.findings.len() < report.findings.len());
}
