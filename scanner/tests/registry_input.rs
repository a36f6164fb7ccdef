//! Registry image input against the reference registry (distribution 2.8): the inventory
//! pulled over the network must equal the inventory read from the OCI layout it was pushed
//! from — same packages, files, layers, distro, manifest digest and warnings.

mod common;

use wharf_oci::RegistryOptions;
use wharf_scanner::image::LoadOptions;

fn insecure(platform: Option<&str>, user: Option<(&str, &str)>) -> LoadOptions {
    LoadOptions {
        platform: platform.map(String::from),
        registry: RegistryOptions {
            insecure: true,
            username: user.map(|u| u.0.to_string()),
            password: user.map(|u| u.1.to_string()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn assert_same(layout: &str, remote: &str, opts: &LoadOptions) {
    let a = wharf_scanner::inventory(layout, opts).unwrap();
    let b = wharf_scanner::inventory(remote, opts)
        .unwrap_or_else(|e| panic!("inventory of {remote}: {e}"));
    assert!(!a.layers.is_empty(), "{layout}");
    assert_eq!(b.manifest_digest, a.manifest_digest, "{remote}");
    assert_eq!(b.layers, a.layers, "{remote}");
    assert_eq!(b.inventory.distro, a.inventory.distro, "{remote}");
    assert_eq!(b.inventory.packages, a.inventory.packages, "{remote}");
    assert_eq!(b.warnings.messages, a.warnings.messages, "{remote}");
}

#[test]
fn registry_inventory_equals_layout_inventory() {
    let reg = common::RefRegistry::start(None);
    for (name, tag) in [
        ("small", "v1"),
        ("pyapp", "v1"),
        ("debian", "bookworm-minbase"),
    ] {
        let layout = common::image(name, tag);
        let remote = format!("{}/test/{name}:{tag}", reg.host());
        common::skopeo_push(&layout, &remote, None);
        assert_same(&layout, &remote, &insecure(None, None));
    }
    // By digest, too.
    let layout = common::image("pyapp", "v1");
    let digest = wharf_scanner::inventory(&layout, &LoadOptions::default())
        .unwrap()
        .manifest_digest
        .unwrap();
    assert_same(
        &layout,
        &format!("{}/test/pyapp@{digest}", reg.host()),
        &insecure(None, None),
    );
}

#[test]
fn registry_index_is_resolved_by_platform() {
    let reg = common::RefRegistry::start(None);
    let layout = common::image("multi", "v1");
    let remote = format!("{}/test/multi:v1", reg.host());
    common::skopeo_push(&layout, &remote, None);
    let mut digests = Vec::new();
    for p in ["linux/amd64", "linux/arm64"] {
        let opts = insecure(Some(p), None);
        assert_same(&layout, &remote, &opts);
        digests.push(
            wharf_scanner::inventory(&remote, &opts)
                .unwrap()
                .manifest_digest,
        );
    }
    assert_ne!(digests[0], digests[1], "each platform has its own manifest");
    let err = wharf_scanner::inventory(&remote, &insecure(Some("linux/s390x"), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("linux/s390x"), "{err}");
}

#[test]
fn registry_credentials_are_used_and_required() {
    common::require("htpasswd");
    let reg = common::RefRegistry::start(Some("scan:s3cret"));
    let layout = common::image("small", "v1");
    let remote = format!("{}/test/small:v1", reg.host());
    common::skopeo_push(&layout, &remote, Some("scan:s3cret"));
    assert_same(&layout, &remote, &insecure(None, Some(("scan", "s3cret"))));
    let err = wharf_scanner::inventory(&remote, &insecure(None, None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("manifest"), "anonymous pull must fail: {err}");
    assert!(wharf_scanner::inventory(&remote, &insecure(None, Some(("scan", "wrong")))).is_err());
}

#[test]
fn registry_missing_image_and_refused_references_are_clear_errors() {
    let reg = common::RefRegistry::start(None);
    let err = wharf_scanner::inventory(
        &format!("{}/nothing/here:v1", reg.host()),
        &insecure(None, None),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("nothing/here"), "{err}");
    // TLS against a plain-HTTP registry fails instead of silently downgrading.
    let err = wharf_scanner::inventory(
        &format!("{}/nothing/here:v1", reg.host()),
        &LoadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(!err.is_empty());
}
