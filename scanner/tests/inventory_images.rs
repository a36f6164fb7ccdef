//! Inventory of the shared test images. Expected packages are derived from the inputs the
//! images were built from (the debootstrap rootfs's dpkg database, the Python layer's
//! requirements.txt), never listed by hand.

mod common;

use std::collections::BTreeSet;

use wharf_scanner::image::LoadOptions;
use wharf_scanner::inventory::Ecosystem;
use wharf_scanner::versions;

fn dpkg_status_of_rootfs() -> BTreeSet<(String, String)> {
    let rootfs = std::fs::read_dir(common::images().join("rootfs"))
        .unwrap()
        .flatten()
        .next()
        .expect("rootfs dir")
        .path();
    let text = std::fs::read_to_string(rootfs.join("var/lib/dpkg/status")).unwrap();
    text.split("\n\n")
        .filter_map(|par| {
            let get = |k: &str| {
                par.lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(|v| v.trim().to_string())
            };
            Some((get("Package:")?, get("Version:")?))
        })
        .collect()
}

#[test]
fn debian_image_dpkg_packages_and_distro() {
    let r = wharf_scanner::inventory(
        &common::image("debian", "bookworm-minbase"),
        &LoadOptions::default(),
    )
    .unwrap();
    let d = r
        .inventory
        .distro
        .as_ref()
        .expect("distro detected through the etc/os-release symlink");
    assert_eq!(d.id, "debian");
    assert_eq!(d.version_id, "12");
    let got: BTreeSet<(String, String)> = r
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Debian)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    let want = dpkg_status_of_rootfs();
    assert!(want.len() > 50, "rootfs status has {} packages", want.len());
    assert_eq!(got, want);
    let libc = r
        .inventory
        .packages
        .iter()
        .find(|p| p.name == "libc6")
        .unwrap();
    assert_eq!(libc.source_name.as_deref(), Some("glibc"));
    assert!(
        libc.purl.starts_with("pkg:deb/debian/libc6@") && libc.purl.contains("distro=debian-12"),
        "{}",
        libc.purl
    );
    assert_eq!(libc.layer.as_deref(), Some(r.layers[0].as_str()));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn rootfs_dir_and_oci_layout_agree() {
    let rootfs = std::fs::read_dir(common::images().join("rootfs"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let a = wharf_scanner::inventory(
        &format!("dir:{}", rootfs.display()),
        &LoadOptions::default(),
    )
    .unwrap();
    let b = wharf_scanner::inventory(
        &common::image("debian", "bookworm-minbase"),
        &LoadOptions::default(),
    )
    .unwrap();
    let key = |r: &wharf_scanner::report::ScanReport| {
        r.inventory
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.purl.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&a), key(&b));
    assert_eq!(a.inventory.distro, b.inventory.distro);
}

#[test]
fn pyapp_python_packages_match_requirements() {
    let r =
        wharf_scanner::inventory(&common::image("pyapp", "v1"), &LoadOptions::default()).unwrap();
    let reqs =
        std::fs::read_to_string(common::images().join("pylayer/app/requirements.txt")).unwrap();
    let py: Vec<_> = r
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::PyPI)
        .collect();
    let mut want = 0;
    for line in reqs.lines().filter(|l| l.contains("==")) {
        want += 1;
        let (name, ver) = line.split_once("==").unwrap();
        let hit = py.iter().find(|p| {
            Ecosystem::PyPI.normalize_name(&p.name) == Ecosystem::PyPI.normalize_name(name)
        });
        let hit = hit.unwrap_or_else(|| panic!("{name} not found in {py:?}"));
        assert_eq!(
            versions::compare(Ecosystem::PyPI, &hit.version, ver),
            Some(std::cmp::Ordering::Equal),
            "{name}"
        );
        assert!(
            hit.path
                .starts_with("usr/local/lib/python3.11/dist-packages/"),
            "{}",
            hit.path
        );
        assert_eq!(
            hit.layer.as_deref(),
            Some(r.layers[1].as_str()),
            "python packages come from the second layer"
        );
        assert!(hit.purl.starts_with("pkg:pypi/"));
    }
    assert_eq!(py.len(), want);
    // the Debian base layer is still there underneath
    assert!(
        r.inventory
            .packages
            .iter()
            .filter(|p| p.ecosystem == Ecosystem::Debian)
            .count()
            > 50
    );
}

#[test]
fn multi_platform_index_and_missing_tags() {
    let r =
        wharf_scanner::inventory(&common::image("multi", "v1"), &LoadOptions::default()).unwrap();
    assert_eq!(r.layers.len(), 2);
    let arm = LoadOptions {
        platform: Some("linux/arm64".into()),
        ..Default::default()
    };
    let r2 = wharf_scanner::inventory(&common::image("multi", "v1"), &arm).unwrap();
    assert_ne!(r.manifest_digest, r2.manifest_digest);
    let err = wharf_scanner::inventory(&common::image("small", "nope"), &LoadOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("no image tagged"), "{err}");
}
