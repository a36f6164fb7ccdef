//! zstd-compressed layers: the pyapp image recompressed by skopeo
//! (`--dest-compress-format zstd`, layers `application/vnd.oci.image.layer.v1.tar+zstd`)
//! inventories to exactly what the gzip original does.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use wharf_scanner::image::LoadOptions;

fn packages(reference: &str) -> (BTreeSet<(String, String, String)>, Vec<String>) {
    let r = wharf_scanner::inventory(reference, &LoadOptions::default()).unwrap();
    let set = r
        .inventory
        .packages
        .iter()
        .map(|p| {
            (
                format!("{:?}", p.ecosystem),
                p.name.clone(),
                p.version.clone(),
            )
        })
        .collect();
    (set, r.warnings.messages)
}

#[test]
fn zstd_layers_inventory_like_gzip_ones() {
    common::require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let src = common::image("pyapp", "v1");
    let dest = tmp.path().join("pyapp-zstd");
    let out = Command::new("skopeo")
        .args(["copy", "--dest-compress-format", "zstd"])
        .arg(&src)
        .arg(format!("oci:{}:v1", dest.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dest.join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"),
        "skopeo wrote zstd layers: {manifest}"
    );

    let (gzip, _) = packages(&src);
    let (zstd, warnings) = packages(&format!("oci:{}:v1", dest.display()));
    assert!(gzip.len() > 50);
    assert_eq!(zstd, gzip);
    assert!(!warnings.iter().any(|w| w.contains("zstd")), "{warnings:?}");
}
