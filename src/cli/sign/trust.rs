//! What `verify` and `verify-attestation` trust: a public key (`--key`), or keyless trust
//! material (a trusted_root.json or cosign's PEM flags) with an identity policy.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use wharf_signer::{keyless, roots};

use super::key::load_verifying_key;
use super::read_text;

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

/// What a signature must verify with.
pub(super) enum Trust {
    Key(p256::ecdsa::VerifyingKey),
    Keyless(keyless::TrustedRoot, keyless::IdentityPolicy),
}

impl Trust {
    /// `--key`, else the keyless flags; one of them is required.
    pub(super) fn from_args(key: Option<&Path>, keyless: &KeylessArgs) -> anyhow::Result<Self> {
        let policy = keyless.policy()?;
        match (key, policy) {
            (Some(k), _) => Ok(Self::Key(load_verifying_key(k)?)),
            (None, Some((root, policy))) => Ok(Self::Keyless(root, policy)),
            (None, None) => bail!(
                "give --key PUBLIC_KEY, or --trusted-root (or --ca-roots/--certificate-chain with --rekor-public-key) with --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]"
            ),
        }
    }

    pub(super) fn is_keyless(&self) -> bool {
        matches!(self, Self::Keyless(..))
    }
}
