//! The verbs that make signatures: `sign` and `attest` (into a registry), `sign-blob`
//! (a file).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use wharf_signer::image::{self, Layout};
use wharf_signer::{bundle, payload};

use super::key::load_signing_key;
use super::{BundleFormat, parse_kv, predicate_type, read_text, runtime};
use crate::cli::registry_args::RegistryArgs;

#[derive(Args, Debug)]
pub struct SignArgs {
    /// Private key file (cosign's encrypted format, or PKCS#8/SEC1 PEM).
    #[arg(long)]
    key: PathBuf,
    /// Annotation key=value to sign with the image (repeatable).
    #[arg(short = 'a', long = "annotations", value_parser = parse_kv)]
    annotations: Vec<(String, String)>,
    /// Store the signature as an OCI 1.1 referrer instead of the `sha256-<hex>.sig` tag.
    #[arg(long)]
    referrers: bool,
    /// Signature format.
    #[arg(long, value_enum, default_value = "legacy")]
    bundle_format: BundleFormat,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Image to sign (tag or digest; tags are resolved to a digest first).
    image: String,
}

#[derive(Args, Debug)]
pub struct SignBlobArgs {
    /// Private key file.
    #[arg(long)]
    key: PathBuf,
    /// Also write the base64 signature to this file.
    #[arg(long)]
    output_signature: Option<PathBuf>,
    /// File to sign.
    file: PathBuf,
}

#[derive(Args, Debug)]
pub struct AttestArgs {
    /// Private key file.
    #[arg(long)]
    key: PathBuf,
    /// JSON file with the predicate.
    #[arg(long)]
    predicate: PathBuf,
    /// Predicate type: slsaprovenance, slsaprovenance1, spdxjson, cyclonedx, vuln, custom, or a URI.
    #[arg(long = "type", default_value = "custom")]
    kind: String,
    /// Store as an OCI 1.1 referrer instead of the `sha256-<hex>.att` tag (legacy format).
    #[arg(long)]
    referrers: bool,
    /// Attestation format: `legacy` is a DSSE layer (`.att` tag or referrer); `v3` is a
    /// Sigstore bundle v0.3 referrer annotated with the predicate type, as cosign v3
    /// `attest --new-bundle-format` writes it.
    #[arg(
        long,
        value_enum,
        default_value = "legacy",
        conflicts_with = "referrers"
    )]
    bundle_format: BundleFormat,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Image to attest.
    image: String,
}

/// The legacy layout `--referrers` asks for.
fn layout(referrers: bool) -> Layout {
    if referrers {
        Layout::Referrers
    } else {
        Layout::Tag
    }
}

pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let key = load_signing_key(&args.key)?;
    let reg = args.registry.client_for(&args.image)?;
    let annotations: BTreeMap<_, _> = args.annotations.into_iter().collect();
    runtime()?.block_on(async {
        let target = image::resolve(&reg, &args.image).await?;
        let stored = match args.bundle_format {
            BundleFormat::V3 => {
                let b = bundle::sign_image_bundle(&key, target.digest(), &annotations);
                image::push_bundle(&reg, &target, b.to_bytes(), image::COSIGN_SIGN_PREDICATE)
                    .await?
            }
            BundleFormat::Legacy => {
                image::sign(&reg, &target, &key, &annotations, layout(args.referrers)).await?
            }
        };
        eprintln!(
            "Signed {}@{}; signature stored at {}",
            target.reference.whole(),
            target.digest(),
            stored.location
        );
        Ok(ExitCode::SUCCESS)
    })
}

pub fn sign_blob(args: SignBlobArgs) -> anyhow::Result<ExitCode> {
    let key = load_signing_key(&args.key)?;
    let data =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let sig = payload::sign_b64(&key, &data);
    if let Some(out) = &args.output_signature {
        std::fs::write(out, &sig).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("Signature written to {}", out.display());
    }
    println!("{sig}");
    Ok(ExitCode::SUCCESS)
}

pub fn attest(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let predicate_type = predicate_type(&args.kind)?;
    let text = read_text(&args.predicate)?;
    let predicate: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("predicate {} is not JSON", args.predicate.display()))?;
    let key = load_signing_key(&args.key)?;
    let reg = args.registry.client_for(&args.image)?;
    runtime()?.block_on(async {
        let target = image::resolve(&reg, &args.image).await?;
        let stored = match args.bundle_format {
            BundleFormat::V3 => {
                image::attest_bundle(&reg, &target, &key, &predicate_type, predicate).await?
            }
            BundleFormat::Legacy => {
                let layout = layout(args.referrers);
                image::attest(&reg, &target, &key, &predicate_type, predicate, layout).await?
            }
        };
        eprintln!(
            "Attested {}@{} ({predicate_type}); stored at {}",
            target.reference.whole(),
            target.digest(),
            stored.location
        );
        Ok(ExitCode::SUCCESS)
    })
}
