//! `wharf key generate`, and loading keys for the other verbs (passwords from
//! COSIGN_PASSWORD or the terminal, as cosign).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use wharf_signer::keys::{self, PrivateKeyFile};

use super::read_text;

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

pub(super) fn load_signing_key(path: &Path) -> anyhow::Result<p256::ecdsa::SigningKey> {
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

pub(super) fn load_verifying_key(path: &Path) -> anyhow::Result<p256::ecdsa::VerifyingKey> {
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
