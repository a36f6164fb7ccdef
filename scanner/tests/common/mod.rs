//! Locations of the shared test data. Missing data is a test FAILURE with instructions,
//! never a silent skip.
#![allow(dead_code)]

use std::path::PathBuf;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `$WHARF_TEST_IMAGES`, default `target/test-images` (built by
/// `../shared/testing/make-test-images.sh target/test-images`).
pub fn images() -> PathBuf {
    let p = std::env::var_os("WHARF_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/test-images"));
    assert!(
        p.join("oci/pyapp/index.json").is_file() && p.join("oci/debian/index.json").is_file(),
        "test images missing under {}: run ../shared/testing/make-test-images.sh {} (needs umoci, debootstrap, jq) or set WHARF_TEST_IMAGES",
        p.display(),
        p.display()
    );
    p
}

/// `$WHARF_VULNDATA`, else `$WHARF_SHARED/vulndata`, else `../shared/vulndata` next to the workspace.
pub fn vulndata() -> PathBuf {
    let p = std::env::var_os("WHARF_VULNDATA")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("WHARF_SHARED").map(|s| PathBuf::from(s).join("vulndata")))
        .unwrap_or_else(|| workspace().join("../shared/vulndata"));
    assert!(
        p.join("pypa/vulns").is_dir(),
        "advisory data missing at {} (set WHARF_VULNDATA)",
        p.display()
    );
    p
}

pub fn image(name: &str, tag: &str) -> String {
    format!("oci:{}:{tag}", images().join("oci").join(name).display())
}
