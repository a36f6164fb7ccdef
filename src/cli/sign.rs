//! cosign-compatible verbs: `key generate`, `sign`, `verify`, `sign-blob`, `verify-blob`,
//! `attest`, `verify-attestation`. Parsing and printing only; the work is in `wharf_signer`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use wharf_oci::{Client as Registry, RegistryOptions};
use wharf_signer::image::{self, Layout, Target};
use wharf_signer::keys::{self, PrivateKeyFile};
use wharf_signer::{bundle, dsse, keyless, payload, roots};

/// Exit code when verification ran but nothing verified.
const EXIT_UNVERIFIED: u8 = 1;

/// How to reach the registry holding the image.
#[derive(Args, Debug, Clone)]
pub struct RegistryArgs {
    /// Talk plain HTTP to the registry (e.g. a local registry on 127.0.0.1).
    #[arg(long, env = "WHARF_INSECURE")]
    insecure: bool,
    /// Registry user (else the docker config's credentials, else anonymous).
    #[arg(long, env = "WHARF_USERNAME")]
    username: Option<String>,
    /// Registry password or token.
    #[arg(long, env = "WHARF_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Extra PEM CA certificate(s) to trust for the registry's HTTPS (repeatable).
    #[arg(long)]
    registry_cacert: Vec<PathBuf>,
}

impl RegistryArgs {
    fn registry_for(&self, image: &str) -> anyhow::Result<Registry> {
        let reference = Registry::parse_reference(image)?;
        let ca_certs_pem = self
            .registry_cacert
            .iter()
            .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let reg = Registry::new(RegistryOptions {
            insecure: self.insecure,
            username: self.username.clone(),
            password: self.password.clone(),
            ca_certs_pem,
        });
        Ok(reg.with_docker_config_for(reference.resolve_registry())?)
    }
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Write an encrypted cosign key pair (<prefix>.key, <prefix>.pub).
    ///
    /// The password comes from COSIGN_PASSWORD, or is asked for on the terminal.
    Generate {
        /// File name prefix for the key pair.
        #[arg(long, default_value = "cosign")]
        output_key_prefix: String,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
}

/// Where `sign` and `attest` store what they make.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleFormat {
    /// cosign's classic simple-signing signature (tag or referrer).
    Legacy,
    /// cosign v3: a Sigstore bundle v0.3 pushed as an OCI referrer.
    V3,
}

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
#[command(
    after_help = "Trust for keyless verification, as cosign: a Sigstore trusted_root.json, or PEM files.
Checked: the certificate chains to a trusted Fulcio CA and carries a valid SCT from a
trusted CT log; the Rekor entry is by a trusted log and binds this signature; the
certificate was valid at the entry's time and at every RFC 3161 timestamp (verified when a
TSA is trusted; else not used, with a note); identity and OIDC issuer match.

Examples:
  wharf verify --trusted-root trusted_root.json \\
    --certificate-identity-regexp '^https://github.com/org/' \\
    --certificate-oidc-issuer https://token.actions.githubusercontent.com IMAGE
  wharf verify --certificate-chain fulcio-chain.pem --rekor-public-key rekor.pub \\
    --ctlog-public-key ctfe.pub --certificate-identity ID --certificate-oidc-issuer ISS IMAGE
  wharf verify --key cosign.pub -a build=42 IMAGE"
)]
pub struct VerifyArgs {
    /// Public key file (PEM). Either this, or keyless options (--trusted-root or PEM roots).
    #[arg(long, conflicts_with_all = ["trusted_root", "ca_roots", "certificate_chain"])]
    key: Option<PathBuf>,
    /// Required annotation key=value (repeatable).
    #[arg(short = 'a', long = "annotations", value_parser = parse_kv)]
    annotations: Vec<(String, String)>,
    #[command(flatten)]
    keyless: KeylessArgs,
    /// Verify a Sigstore bundle file instead of an image in a registry (needs --digest).
    #[arg(long, requires = "digest")]
    bundle: Option<PathBuf>,
    /// The image digest the --bundle must sign (sha256:<hex>).
    #[arg(long)]
    digest: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Image to verify.
    #[arg(required_unless_present = "bundle")]
    image: Option<String>,
}

/// Keyless (Fulcio certificate) verification options.
///
/// Trust comes either from a Sigstore `trusted_root.json` (`--trusted-root`), or, as with
/// cosign, from PEM files: root CAs (`--ca-roots`, optionally `--ca-intermediates`, or both
/// in `--certificate-chain`) plus the Rekor key (`--rekor-public-key`) and the CT log key
/// (`--ctlog-public-key`).
#[derive(Args, Debug)]
pub struct KeylessArgs {
    /// Sigstore trusted_root.json (TUF) with the Fulcio CAs, Rekor and CT log keys to trust.
    #[arg(long, conflicts_with_all = ["ca_roots", "ca_intermediates", "certificate_chain", "rekor_public_key", "ctlog_public_key"])]
    trusted_root: Option<PathBuf>,
    /// PEM file of root CA certificates the signing certificate must chain to (instead of
    /// --trusted-root). Trusted while the certificates themselves are valid.
    #[arg(long, conflicts_with = "certificate_chain")]
    ca_roots: Option<PathBuf>,
    /// PEM file of intermediate CA certificates; each must chain to a --ca-roots certificate.
    #[arg(long, requires = "ca_roots")]
    ca_intermediates: Option<PathBuf>,
    /// PEM file with the intermediate CA(s) and the self-signed root in one (cosign's flag).
    #[arg(long)]
    certificate_chain: Option<PathBuf>,
    /// PEM public key of the Rekor transparency log, needed with PEM roots. Defaults to the
    /// file named by $SIGSTORE_REKOR_PUBLIC_KEY (as cosign); ignored with --trusted-root.
    #[arg(long)]
    rekor_public_key: Option<PathBuf>,
    /// PEM public key of the Certificate Transparency log whose SCT the certificate must
    /// carry, with PEM roots. Defaults to $SIGSTORE_CT_LOG_PUBLIC_KEY_FILE (as cosign).
    #[arg(long)]
    ctlog_public_key: Option<PathBuf>,
    /// PEM chain of a trusted RFC 3161 timestamp authority: its certificate first, root
    /// last (cosign's flag). Added to the trusted root's timestampAuthorities; a bundle's
    /// signed timestamps are then verified, and the certificate must be valid at each.
    /// Without any trusted TSA, timestamps are not used (the log entry dates the signature).
    #[arg(long)]
    timestamp_certificate_chain: Option<PathBuf>,
    /// Do not require a valid embedded SCT (proof that the certificate was logged in a
    /// trusted CT log). INSECURE: a certificate a CA issued without logging is accepted.
    #[arg(long)]
    insecure_ignore_sct: bool,
    /// Exact certificate identity (SAN URI or email) to require.
    #[arg(long)]
    certificate_identity: Option<String>,
    /// Regular expression the certificate identity must match.
    #[arg(long)]
    certificate_identity_regexp: Option<String>,
    /// Exact OIDC issuer to require.
    #[arg(long)]
    certificate_oidc_issuer: Option<String>,
    /// Regular expression the OIDC issuer must match.
    #[arg(long)]
    certificate_oidc_issuer_regexp: Option<String>,
}

/// A flag's file, else the file an environment variable names (cosign's convention).
fn flag_or_env(flag: &Option<PathBuf>, env: &str) -> Option<PathBuf> {
    flag.clone().or_else(|| {
        std::env::var_os(env)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

impl KeylessArgs {
    /// True when any keyless trust material was given.
    fn given(&self) -> bool {
        self.trusted_root.is_some() || self.ca_roots.is_some() || self.certificate_chain.is_some()
    }

    fn trusted_root(&self) -> anyhow::Result<Option<keyless::TrustedRoot>> {
        let Some(root) = self.base_root()? else {
            if self.timestamp_certificate_chain.is_some() {
                bail!(
                    "--timestamp-certificate-chain needs --trusted-root, --ca-roots or --certificate-chain"
                );
            }
            return Ok(None);
        };
        Ok(Some(match &self.timestamp_certificate_chain {
            Some(p) => root
                .with_timestamp_chain(&read_text(p)?)
                .with_context(|| format!("--timestamp-certificate-chain {}", p.display()))?,
            None => root,
        }))
    }

    /// The trusted root from --trusted-root or the PEM flags.
    fn base_root(&self) -> anyhow::Result<Option<keyless::TrustedRoot>> {
        if let Some(root) = &self.trusted_root {
            let text =
                std::fs::read(root).with_context(|| format!("reading {}", root.display()))?;
            let trusted = keyless::TrustedRoot::parse(&text)
                .with_context(|| format!("trusted root {}", root.display()))?;
            return Ok(Some(trusted));
        }
        if !self.given() {
            if self.ca_intermediates.is_some()
                || self.rekor_public_key.is_some()
                || self.ctlog_public_key.is_some()
            {
                bail!("PEM trust material needs --ca-roots or --certificate-chain");
            }
            return Ok(None);
        }
        let mut pem = roots::PemTrust::default();
        if let Some(p) = &self.ca_roots {
            pem.roots = roots::certificates_from_pem(
                &format!("--ca-roots {}", p.display()),
                &read_text(p)?,
            )?;
        }
        if let Some(p) = &self.ca_intermediates {
            pem.intermediates = roots::certificates_from_pem(
                &format!("--ca-intermediates {}", p.display()),
                &read_text(p)?,
            )?;
        }
        if let Some(p) = &self.certificate_chain {
            pem.add_chain(&read_text(p)?)
                .with_context(|| format!("--certificate-chain {}", p.display()))?;
        }
        if let Some(p) = flag_or_env(&self.rekor_public_key, "SIGSTORE_REKOR_PUBLIC_KEY") {
            pem.rekor_keys = roots::public_keys_from_pem(
                &format!("Rekor key {}", p.display()),
                &read_text(&p)?,
            )?;
        }
        if let Some(p) = flag_or_env(&self.ctlog_public_key, "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE") {
            pem.ctlog_keys = roots::public_keys_from_pem(
                &format!("CT log key {}", p.display()),
                &read_text(&p)?,
            )?;
        }
        Ok(Some(pem.into_trusted_root()?))
    }

    fn policy(&self) -> anyhow::Result<Option<(keyless::TrustedRoot, keyless::IdentityPolicy)>> {
        let Some(mut trusted) = self.trusted_root()? else {
            return Ok(None);
        };
        if self.insecure_ignore_sct {
            eprintln!(
                "WARNING: --insecure-ignore-sct: the signing certificate's embedded SCT is NOT checked; \
                 a certificate that was never logged in a Certificate Transparency log is accepted"
            );
            trusted = trusted.insecure_ignore_sct();
        }
        let policy = keyless::IdentityPolicy::new(
            self.certificate_identity.as_deref(),
            self.certificate_identity_regexp.as_deref(),
            self.certificate_oidc_issuer.as_deref(),
            self.certificate_oidc_issuer_regexp.as_deref(),
        )?;
        Ok(Some((trusted, policy)))
    }
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

#[derive(Args, Debug)]
#[command(
    after_help = "Trust for keyless verification, as cosign: a Sigstore trusted_root.json, or PEM files.
Checked: the certificate chains to a trusted Fulcio CA and carries a valid SCT from a
trusted CT log; the Rekor entry is by a trusted log and binds this signature; the
certificate was valid at the entry's time and at every RFC 3161 timestamp (verified when a
TSA is trusted; else not used, with a note); identity and OIDC issuer match.

Examples:
  wharf verify-attestation --trusted-root trusted_root.json \\
    --certificate-identity-regexp '^https://github.com/org/' \\
    --certificate-oidc-issuer https://token.actions.githubusercontent.com IMAGE
  wharf verify-attestation --certificate-chain fulcio-chain.pem --rekor-public-key rekor.pub \\
    --ctlog-public-key ctfe.pub --certificate-identity ID --certificate-oidc-issuer ISS IMAGE
  wharf verify-attestation --key cosign.pub --type slsaprovenance1 IMAGE"
)]
pub struct VerifyAttestationArgs {
    /// Public key file (PEM). Either this, or keyless options (--trusted-root or PEM roots).
    #[arg(long, conflicts_with_all = ["trusted_root", "ca_roots", "certificate_chain"])]
    key: Option<PathBuf>,
    /// Only attestations of this predicate type (shorthand or URI); all when absent.
    /// `https://sigstore.dev/cosign/sign/v1` also selects cosign v3 signature bundles.
    #[arg(long = "type")]
    kind: Option<String>,
    #[command(flatten)]
    keyless: KeylessArgs,
    /// Verify a Sigstore bundle file instead of an image in a registry (needs --digest).
    #[arg(long, requires = "digest")]
    bundle: Option<PathBuf>,
    /// The image digest the --bundle's statement must be about (sha256:<hex>).
    #[arg(long)]
    digest: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Image whose attestations to verify (`.att` tag, DSSE referrers, v3 bundles).
    #[arg(required_unless_present = "bundle")]
    image: Option<String>,
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

/// COSIGN_PASSWORD, or a terminal prompt (twice when `confirm`).
fn password(prompt: &str, confirm: bool) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("COSIGN_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("the key is encrypted: set COSIGN_PASSWORD (no terminal to ask for it)");
    }
    let p = rpassword::prompt_password(prompt).context("reading password")?;
    if confirm {
        let again = rpassword::prompt_password("Enter password for private key again: ")
            .context("reading password")?;
        if again != p {
            bail!("passwords do not match");
        }
    }
    Ok(p)
}

fn load_signing_key(path: &Path) -> anyhow::Result<p256::ecdsa::SigningKey> {
    let file = PrivateKeyFile::parse(&read_text(path)?)
        .with_context(|| format!("private key {}", path.display()))?;
    let pw = if file.is_encrypted() {
        Some(password("Enter password for private key: ", false)?)
    } else {
        None
    };
    file.into_signing_key(pw.as_deref().map(str::as_bytes))
        .with_context(|| format!("private key {}", path.display()))
}

fn load_verifying_key(path: &Path) -> anyhow::Result<p256::ecdsa::VerifyingKey> {
    keys::load_public_key(&read_text(path)?)
        .with_context(|| format!("public key {}", path.display()))
}

pub fn key(cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::Generate {
            output_key_prefix,
            force,
        } => {
            let key_path = PathBuf::from(format!("{output_key_prefix}.key"));
            let pub_path = PathBuf::from(format!("{output_key_prefix}.pub"));
            for p in [&key_path, &pub_path] {
                if p.exists() && !force {
                    bail!("{} exists; use --force to overwrite", p.display());
                }
            }
            let pw = password("Enter password for private key: ", true)?;
            let key = keys::generate()?;
            let pem = keys::encrypt_private_key(&key, pw.as_bytes())?;
            write_private(&key_path, pem.as_bytes())?;
            std::fs::write(&pub_path, keys::public_key_pem(key.verifying_key()))
                .with_context(|| format!("writing {}", pub_path.display()))?;
            eprintln!("Private key written to {}", key_path.display());
            eprintln!("Public key written to {}", pub_path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(data)
        .with_context(|| format!("writing {}", path.display()))
}

pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let key = load_signing_key(&args.key)?;
    let reg = args.registry.registry_for(&args.image)?;
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
                let layout = if args.referrers {
                    Layout::Referrers
                } else {
                    Layout::Tag
                };
                image::sign(&reg, &target, &key, &annotations, layout).await?
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

pub fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let required: BTreeMap<_, _> = args.annotations.into_iter().collect();
    let keyless = args.keyless.policy()?;
    if args.key.is_none() && keyless.is_none() {
        bail!(
            "give --key PUBLIC_KEY, or --trusted-root (or --ca-roots/--certificate-chain with --rekor-public-key) with --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]"
        );
    }
    let key = args.key.as_deref().map(load_verifying_key).transpose()?;

    // Offline: a bundle file and the digest it must sign.
    if let Some(path) = &args.bundle {
        let digest = args
            .digest
            .as_deref()
            .expect("clap requires --digest with --bundle");
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let result = match (&key, &keyless) {
            (Some(k), _) => bundle::verify_bundle_with_key(&bytes, digest, k, &required),
            (None, Some((root, policy))) => {
                keyless::verify_bundle(&bytes, digest, root, policy, &required)
                    .map(|v| {
                        print_notes(&v.notes);
                        v.payload
                    })
                    .map_err(|e| e.to_string())
            }
            (None, None) => unreachable!("checked above"),
        };
        return Ok(match result {
            Ok(v) => {
                print_verified(
                    &format!("bundle {}", path.display()),
                    &[v],
                    keyless.is_some(),
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: no valid signature in {}: {e}", path.display());
                ExitCode::from(EXIT_UNVERIFIED)
            }
        });
    }

    let image_name = args.image.expect("clap requires IMAGE without --bundle");
    let reg = args.registry.registry_for(&image_name)?;
    runtime()?.block_on(async {
        let target = image::resolve(&reg, &image_name).await?;
        let report = match (&key, &keyless) {
            (Some(k), _) => image::verify_signatures(&reg, &target, k, &required).await?,
            (None, Some((root, policy))) => {
                keyless::verify_image(&reg, &target, root, policy, &required).await?
            }
            (None, None) => unreachable!("checked above"),
        };
        Ok(finish(&target, report, "signatures", keyless.is_some()))
    })
}

/// Things found but deliberately not used (e.g. timestamps without a trusted TSA).
fn print_notes(notes: &[String]) {
    let mut seen = std::collections::BTreeSet::new();
    for n in notes.iter().filter(|n| seen.insert(n.as_str())) {
        eprintln!("Note: {n}");
    }
}

fn finish(target: &Target, report: image::Report, what: &str, keyless: bool) -> ExitCode {
    print_notes(&report.notes);
    if report.verified.is_empty() {
        eprintln!(
            "error: no valid {what} found for {}@{}:\n{}",
            target.reference.whole(),
            target.digest(),
            report.explain()
        );
        return ExitCode::from(EXIT_UNVERIFIED);
    }
    print_verified(
        &format!("{}@{}", target.reference.whole(), target.digest()),
        &report.verified,
        keyless,
    );
    ExitCode::SUCCESS
}

/// cosign's output: the checks on stderr, the verified payloads as a JSON array on stdout.
fn print_verified(subject: &str, verified: &[serde_json::Value], keyless: bool) {
    eprintln!("\nVerification for {subject} --");
    eprintln!("The following checks were performed on each of these signatures:");
    eprintln!("  - The cosign claims were validated");
    if keyless {
        eprintln!("  - Existence of the claims in the transparency log was verified offline");
        eprintln!(
            "  - The code-signing certificate was verified using trusted certificate authority certificates"
        );
    } else {
        eprintln!("  - The signatures were verified against the specified public key");
    }
    println!(
        "{}",
        serde_json::to_string(verified).expect("json values serialise")
    );
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

fn predicate_type(kind: &str) -> anyhow::Result<String> {
    dsse::predicate_type_uri(kind).with_context(|| {
        format!("unknown --type '{kind}': use slsaprovenance, slsaprovenance1, spdxjson, cyclonedx, vuln, custom, link or a URI")
    })
}

pub fn attest(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let predicate_type = predicate_type(&args.kind)?;
    let text = read_text(&args.predicate)?;
    let predicate: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("predicate {} is not JSON", args.predicate.display()))?;
    let key = load_signing_key(&args.key)?;
    let reg = args.registry.registry_for(&args.image)?;
    let layout = if args.referrers {
        Layout::Referrers
    } else {
        Layout::Tag
    };
    runtime()?.block_on(async {
        let target = image::resolve(&reg, &args.image).await?;
        let stored = match args.bundle_format {
            BundleFormat::V3 => {
                image::attest_bundle(&reg, &target, &key, &predicate_type, predicate).await?
            }
            BundleFormat::Legacy => {
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

pub fn verify_attestation(args: VerifyAttestationArgs) -> anyhow::Result<ExitCode> {
    let predicate_type = args.kind.as_deref().map(predicate_type).transpose()?;
    let keyless = args.keyless.policy()?;
    if args.key.is_none() && keyless.is_none() {
        bail!(
            "give --key PUBLIC_KEY, or --trusted-root (or --ca-roots/--certificate-chain with --rekor-public-key) with --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]"
        );
    }
    let key = args.key.as_deref().map(load_verifying_key).transpose()?;

    // Offline: a bundle file and the digest its statement must be about.
    if let Some(path) = &args.bundle {
        let digest = args
            .digest
            .as_deref()
            .expect("clap requires --digest with --bundle");
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let result = match (&key, &keyless) {
            (Some(k), _) => bundle::verify_attestation_bundle_with_key(
                &bytes,
                digest,
                k,
                predicate_type.as_deref(),
            ),
            (None, Some((root, policy))) => keyless::verify_attestation_bundle(
                &bytes,
                digest,
                root,
                policy,
                predicate_type.as_deref(),
            )
            .map(|v| {
                print_notes(&v.notes);
                v.payload
            })
            .map_err(|e| e.to_string()),
            (None, None) => unreachable!("checked above"),
        };
        return Ok(match result {
            Ok(st) => {
                print_attestations(
                    &format!("bundle {}", path.display()),
                    &[st],
                    keyless.is_some(),
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: no valid attestation in {}: {e}", path.display());
                ExitCode::from(EXIT_UNVERIFIED)
            }
        });
    }

    let image_name = args.image.expect("clap requires IMAGE without --bundle");
    let reg = args.registry.registry_for(&image_name)?;
    runtime()?.block_on(async {
        let target = image::resolve(&reg, &image_name).await?;
        let report = match (&key, &keyless) {
            (Some(k), _) => {
                image::verify_attestations(&reg, &target, k, predicate_type.as_deref()).await?
            }
            (None, Some((root, policy))) => {
                keyless::verify_image_attestations(
                    &reg,
                    &target,
                    root,
                    policy,
                    predicate_type.as_deref(),
                )
                .await?
            }
            (None, None) => unreachable!("checked above"),
        };
        print_notes(&report.notes);
        if report.verified.is_empty() {
            eprintln!(
                "error: no valid attestations found for {}@{}:\n{}",
                target.reference.whole(),
                target.digest(),
                report.explain()
            );
            return Ok(ExitCode::from(EXIT_UNVERIFIED));
        }
        print_attestations(
            &format!("{}@{}", target.reference.whole(), target.digest()),
            &report.verified,
            keyless.is_some(),
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// The checks on stderr; one in-toto statement per line on stdout, as cosign prints them.
fn print_attestations(subject: &str, statements: &[serde_json::Value], keyless: bool) {
    eprintln!("\nVerification for {subject} --");
    eprintln!("The following checks were performed on each of these attestations:");
    if keyless {
        eprintln!("  - Existence of the claims in the transparency log was verified offline");
        eprintln!(
            "  - The code-signing certificate was verified using trusted certificate authority certificates"
        );
    } else {
        eprintln!("  - The DSSE signatures were verified against the specified public key");
    }
    eprintln!("  - The statement subject is the image digest");
    for st in statements {
        println!(
            "{}",
            serde_json::to_string(st).expect("json values serialise")
        );
    }
}
