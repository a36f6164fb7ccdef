//! Locating the project's shared test data, so that a test run without it says exactly
//! what is missing and where to get it instead of failing on a bare `unwrap`.
//!
//! The fixtures are not in this repository: they live in the project's `shared/`
//! directory (real cosign / Sigstore test vectors, see `shared/fixtures/cosign/README.md`),
//! found through `$WHARF_SHARED`, else as `../shared` beside the workspace.

use std::path::PathBuf;

/// Where each cosign fixture comes from (upstream test data, taken unchanged).
const COSIGN_FIXTURE_SOURCES: &[(&str, &str)] = &[
    (
        "sigstore_public_good_trusted_root.json",
        "sigstore/sigstore-rs trust_root/prod/trusted_root.json (the Sigstore public-good trusted root)",
    ),
    (
        "sigstore_rs_bundle_v03_keyless_dsse.json",
        "sigstore/sigstore-rs tests/data/bundle_v03.json (a real public-good keyless cosign v3 bundle)",
    ),
    (
        "sigstore_rs_rekor_bundle.json",
        "sigstore/sigstore-rs src/cosign/signature_layers.rs (a legacy Rekor bundle annotation)",
    ),
    (
        "sigstore_rs_payload.json",
        "sigstore/sigstore-rs src/cosign/signature_layers.rs (a simple-signing payload)",
    ),
    (
        "sigstore_rs_payload.sig.der",
        "sigstore/sigstore-rs src/crypto/verification_key.rs (the payload's signature)",
    ),
    (
        "sigstore_rs_payload.pub",
        "sigstore/sigstore-rs src/crypto/verification_key.rs (the payload's public key)",
    ),
];

/// The project's `shared/` directory and how it was found: `$WHARF_SHARED`, or
/// `../shared` beside the workspace, where CI and the worktrees put it.
fn shared_dir_and_origin() -> (PathBuf, &'static str) {
    match std::env::var_os("WHARF_SHARED") {
        Some(dir) => (PathBuf::from(dir), "from $WHARF_SHARED"),
        // CARGO_MANIFEST_DIR is signer/; its parent is the workspace root.
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
            "../shared beside the workspace; set WHARF_SHARED to use another",
        ),
    }
}

/// Path of a file under `shared/`; panics naming the file, where it was looked for and
/// where it comes from when it is missing.
pub fn shared_file(relative: &str, comes_from: &str) -> PathBuf {
    let (dir, origin) = shared_dir_and_origin();
    let p = dir.join(relative);
    assert!(
        p.is_file(),
        "missing test data: {} ({origin}).\n\
         It is {comes_from}, kept in the project's shared/ directory as shared/{relative}: \
         put that directory beside the workspace as ../shared, or set WHARF_SHARED to it.",
        p.display(),
    );
    p
}

/// Path of a cosign fixture (`shared/fixtures/cosign/NAME`).
pub fn cosign_fixture(name: &str) -> PathBuf {
    let source = COSIGN_FIXTURE_SOURCES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| format!("a real cosign / Sigstore test vector from {s}"))
        .unwrap_or_else(|| {
            "a real cosign / Sigstore test vector (see shared/fixtures/cosign/README.md)".into()
        });
    shared_file(&format!("fixtures/cosign/{name}"), &source)
}

/// A cosign fixture's text.
pub fn read_fixture(name: &str) -> String {
    let p = cosign_fixture(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// A cosign fixture's bytes.
pub fn read_fixture_bytes(name: &str) -> Vec<u8> {
    let p = cosign_fixture(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}
