//! cosign-compatible verbs: `key generate`, `sign`, `verify`, `sign-blob`, `verify-blob`,
//! `attest`, `verify-attestation`. Parsing and printing only; the work is in `wharf_signer`.
//!
//! [`key`]: key pairs and loading keys; [`signing`]: the verbs that sign (`sign`, `sign-blob`,
//! `attest`); [`verify`]: the verbs that verify, with [`trust`] (keyless trust material and
//! identity policy) and [`output`] (what cosign prints).

mod key;
mod output;
mod signing;
mod trust;
mod verify;

use std::path::Path;

use anyhow::Context;
use clap::ValueEnum;
use wharf_signer::dsse;

pub use key::{KeyCommand, key};
pub use signing::{AttestArgs, SignArgs, SignBlobArgs, attest, sign, sign_blob};
pub use verify::{
    VerifyArgs, VerifyAttestationArgs, VerifyBlobArgs, verify, verify_attestation, verify_blob,
};

/// Exit code when verification ran but nothing verified.
const EXIT_UNVERIFIED: u8 = 1;

/// Where `sign` and `attest` store what they make.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleFormat {
    /// cosign's classic simple-signing signature (tag or referrer).
    Legacy,
    /// cosign v3: a Sigstore bundle v0.3 pushed as an OCI referrer.
    V3,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected key=value, got '{s}'")),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The predicate type URI for `--type` (a shorthand such as `slsaprovenance1`, or a URI).
fn predicate_type(kind: &str) -> anyhow::Result<String> {
    dsse::predicate_type_uri(kind).with_context(|| {
        format!("unknown --type '{kind}': use slsaprovenance, slsaprovenance1, spdxjson, cyclonedx, vuln, custom, link or a URI")
    })
}
