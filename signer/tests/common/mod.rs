//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The project's `shared/` directory (fixtures, test scripts): `$WHARF_SHARED`, or
/// `../shared` beside the checkout, where CI and the worktrees put it.
pub fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("WHARF_SHARED") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// Path of a cosign fixture; panics with a clear message when missing.
pub fn cosign_fixture(name: &str) -> PathBuf {
    let p = shared_dir().join("fixtures/cosign").join(name);
    assert!(p.exists(), "fixture {} missing (set WHARF_SHARED to the shared/ directory)", p.display());
    p
}

pub fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(cosign_fixture(name)).unwrap()
}
