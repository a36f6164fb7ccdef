//! The verbs that verify: `verify` (image signatures), `verify-attestation` and
//! `verify-blob`. Both image verbs have the same two modes, one function each: a bundle
//! file checked offline, or everything attached to an image in a registry.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use p256::ecdsa::VerifyingKey;
use wharf_oci::Client as Registry;
use wharf_signer::image::{self, Report, Target};
use wharf_signer::keyless::{self, IdentityPolicy, KeylessError, TrustedRoot, Verified};
use wharf_signer::{bundle, payload};

use super::key::load_verifying_key;
use super::output::{Claims, finish, print_notes};
use super::trust::{KeylessArgs, Trust};
use super::{EXIT_UNVERIFIED, parse_kv, predicate_type, read_text, runtime};
use crate::cli::registry_args::RegistryArgs;

/// The `--help` epilogue of `verify` and `verify-attestation`: what keyless verification
/// checks, and examples for `$verb`, the last one with a key (`$key_example`).
macro_rules! verify_after_help {
    ($verb:literal, $key_example:literal) => {
        concat!(
            "Trust for keyless verification, as cosign: a Sigstore trusted_root.json, or PEM files.
Checked: the certificate chains to a trusted Fulcio CA and carries a valid SCT from a
trusted CT log; the Rekor entry is by a trusted log and binds this signature; the
certificate was valid at the entry's time and at every RFC 3161 timestamp (verified when a
TSA is trusted; else not used, with a note); identity and OIDC issuer match.

Examples:
  wharf ",
            $verb,
            " --trusted-root trusted_root.json \\
    --certificate-identity-regexp '^https://github.com/org/' \\
    --certificate-oidc-issuer https://token.actions.githubusercontent.com IMAGE
  wharf ",
            $verb,
            " --certificate-chain fulcio-chain.pem --rekor-public-key rekor.pub \\
    --ctlog-public-key ctfe.pub --certificate-identity ID --certificate-oidc-issuer ISS IMAGE
  wharf ",
            $verb,
            " ",
            $key_example
        )
    };
}

/// What `verify` and `verify-attestation` check and with which trust: a bundle file
/// offline, or an image in a registry; a key, or keyless roots.
#[derive(Args, Debug)]
pub struct VerifyTarget {
    /// Public key file (PEM). Either this, or keyless options (--trusted-root or PEM roots).
    #[arg(long, conflicts_with_all = ["trusted_root", "ca_roots", "certificate_chain"])]
    key: Option<PathBuf>,
    #[command(flatten)]
    keyless: KeylessArgs,
    /// Verify a Sigstore bundle file instead of an image in a registry (needs --digest).
    #[arg(long, requires = "digest")]
    bundle: Option<PathBuf>,
    /// The image digest the --bundle must be about (sha256:<hex>).
    #[arg(long)]
    digest: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Image to verify: what is attached to it (`.sig`/`.att` tags, referrers, v3 bundles).
    #[arg(required_unless_present = "bundle")]
    image: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = verify_after_help!("verify", "--key cosign.pub -a build=42 IMAGE"))]
pub struct VerifyArgs {
    /// Required annotation key=value (repeatable).
    #[arg(short = 'a', long = "annotations", value_parser = parse_kv)]
    annotations: Vec<(String, String)>,
    #[command(flatten)]
    target: VerifyTarget,
}

#[derive(Args, Debug)]
#[command(after_help = verify_after_help!(
    "verify-attestation",
    "--key cosign.pub --type slsaprovenance1 IMAGE"
))]
pub struct VerifyAttestationArgs {
    /// Only attestations of this predicate type (shorthand or URI); all when absent.
    /// `https://sigstore.dev/cosign/sign/v1` also selects cosign v3 signature bundles.
    #[arg(long = "type")]
    kind: Option<String>,
    #[command(flatten)]
    target: VerifyTarget,
}

#[derive(Args, Debug)]
pub struct VerifyBlobArgs {
    /// Public key file (PEM).
    #[arg(long)]
    key: PathBuf,
    /// File holding the base64 signature (as written by `sign-blob`/`cosign sign-blob`).
    #[arg(long)]
    signature: PathBuf,
    /// File that was signed.
    file: PathBuf,
}

/// Verifies `target` for `claims`: its bundle file offline with `with_key` or
/// `keyless`, whichever the trust calls for, or what is attached to its image in a
/// registry through `in_registry`. Exit 1 when nothing verifies.
fn verify_target(
    target: VerifyTarget,
    claims: Claims,
    with_key: impl FnOnce(&[u8], &str, &VerifyingKey) -> Result<serde_json::Value, String>,
    keyless: impl FnOnce(&[u8], &str, &TrustedRoot, &IdentityPolicy) -> Result<Verified, KeylessError>,
    in_registry: impl AsyncFnOnce(&Registry, &Target, &Trust) -> anyhow::Result<Report>,
) -> anyhow::Result<ExitCode> {
    let trust = Trust::from_args(target.key.as_deref(), &target.keyless)?;
    let Some(path) = &target.bundle else {
        let name = target.image.expect("clap requires IMAGE without --bundle");
        let reg = target.registry.client_for(&name)?;
        return runtime()?.block_on(async {
            let resolved = image::resolve(&reg, &name).await?;
            let report = in_registry(&reg, &resolved, &trust).await?;
            Ok(finish(&resolved, report, claims, trust.is_keyless()))
        });
    };
    let digest = target.digest.expect("clap requires --digest with --bundle");
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let result = match &trust {
        Trust::Key(k) => with_key(&bytes, &digest, k),
        Trust::Keyless(root, policy) => keyless(&bytes, &digest, root, policy)
            .map(|v| {
                print_notes(&v.notes);
                v.payload
            })
            .map_err(|e| e.to_string()),
    };
    Ok(match result {
        Ok(v) => {
            claims.print(
                &format!("bundle {}", path.display()),
                &[v],
                trust.is_keyless(),
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: no valid {} in {}: {e}",
                claims.one(),
                path.display()
            );
            ExitCode::from(EXIT_UNVERIFIED)
        }
    })
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let required: BTreeMap<_, _> = args.annotations.into_iter().collect();
    verify_target(
        args.target,
        Claims::Signatures,
        |b, d, k| bundle::verify_bundle_with_key(b, d, k, &required),
        |b, d, r, p| keyless::verify_bundle(b, d, r, p, &required),
        async |reg, target, trust| {
            Ok(match trust {
                Trust::Key(k) => image::verify_signatures(reg, target, k, &required).await?,
                Trust::Keyless(root, policy) => {
                    keyless::verify_image(reg, target, root, policy, &required).await?
                }
            })
        },
    )
}

pub fn verify_attestation(args: VerifyAttestationArgs) -> anyhow::Result<ExitCode> {
    let predicate_type = args.kind.as_deref().map(predicate_type).transpose()?;
    let kind = predicate_type.as_deref();
    verify_target(
        args.target,
        Claims::Attestations,
        |b, d, k| bundle::verify_attestation_bundle_with_key(b, d, k, kind),
        |b, d, r, p| keyless::verify_attestation_bundle(b, d, r, p, kind),
        async |reg, target, trust| {
            Ok(match trust {
                Trust::Key(k) => image::verify_attestations(reg, target, k, kind).await?,
                Trust::Keyless(root, policy) => {
                    keyless::verify_image_attestations(reg, target, root, policy, kind).await?
                }
            })
        },
    )
}

pub fn verify_blob(args: VerifyBlobArgs) -> anyhow::Result<ExitCode> {
    let key = load_verifying_key(&args.key)?;
    let data =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let sig = read_text(&args.signature)?;
    match payload::verify_b64(&key, &data, &sig) {
        Ok(()) => {
            eprintln!("Verified OK");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            Ok(ExitCode::from(EXIT_UNVERIFIED))
        }
    }
}
