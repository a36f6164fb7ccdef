//! How a verb reaches a registry: one set of flags (`--insecure`, `--username`,
//! `--password`, `--registry-cacert`) for every verb that pulls or pushes — scan,
//! sbom, db, the cosign verbs and `policy check` — so they read the same and mean
//! the same everywhere.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use wharf_oci::{Client, RegistryOptions};

#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// Talk plain HTTP to the registry (local registries such as 127.0.0.1:5000).
    #[arg(long, env = "WHARF_INSECURE")]
    pub insecure: bool,
    /// Registry user (else the docker config's credentials, else anonymous).
    #[arg(long, env = "WHARF_USERNAME")]
    pub username: Option<String>,
    /// Registry password or token.
    #[arg(long, env = "WHARF_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Extra PEM CA certificate(s) to trust for the registry's HTTPS (repeatable).
    #[arg(long)]
    pub registry_cacert: Vec<PathBuf>,
}

impl RegistryArgs {
    /// The client options these flags ask for (the CA files read now, so a missing
    /// one is an error before any network traffic).
    pub fn options(&self) -> anyhow::Result<RegistryOptions> {
        let ca_certs_pem = self
            .registry_cacert
            .iter()
            .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(RegistryOptions {
            insecure: self.insecure,
            username: self.username.clone(),
            password: self.password.clone(),
            ca_certs_pem,
        })
    }

    /// An async client for the registry of `image`, with the Docker config's
    /// credentials for it when no --username is given.
    pub fn client_for(&self, image: &str) -> anyhow::Result<Client> {
        let reference = Client::parse_reference(image)?;
        let reg = Client::new(self.options()?);
        Ok(reg.with_docker_config_for(reference.resolve_registry())?)
    }
}
