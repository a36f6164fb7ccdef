//! `wharf registry add|list|ping|remove`: the registry endpoints a Wharf
//! replicates to and from (Harbor's `/registries`).

use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

use super::manage::client::{Client, Target};
use super::manage::{Output, print_rows, runtime, stdin_line};

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum RegistryType {
    /// Another Wharf or a Harbor.
    Harbor,
    /// Any registry of the distribution API only (Distribution, Zot, …).
    DockerRegistry,
}

impl RegistryType {
    fn as_str(self) -> &'static str {
        match self {
            RegistryType::Harbor => "harbor",
            RegistryType::DockerRegistry => "docker-registry",
        }
    }
}

/// The endpoint's address and credentials, as `add` and `ping` take them.
#[derive(Args, Debug)]
pub struct EndpointArgs {
    /// http(s)://host[:port] of the remote registry (http:// is plain HTTP).
    #[arg(long)]
    url: String,
    #[arg(long = "type", value_enum, default_value = "harbor")]
    kind: RegistryType,
    /// User or robot name on the remote registry.
    #[arg(long)]
    access_key: Option<String>,
    /// Its password or secret [env: WHARF_ACCESS_SECRET] (prefer --access-secret-stdin).
    #[arg(long, env = "WHARF_ACCESS_SECRET", hide_env_values = true)]
    access_secret: Option<String>,
    /// Read the secret from the first line of stdin.
    #[arg(long, conflicts_with = "access_secret")]
    access_secret_stdin: bool,
    /// PEM file (on the server) of the CAs to trust for the remote's HTTPS.
    #[arg(long)]
    ca_file: Option<String>,
}

impl EndpointArgs {
    fn secret(&self) -> anyhow::Result<Option<String>> {
        if self.access_secret_stdin {
            return Ok(Some(stdin_line()?));
        }
        Ok(self.access_secret.clone())
    }

    fn credential(&self) -> anyhow::Result<Value> {
        let secret = self.secret()?;
        Ok(match (&self.access_key, secret) {
            (None, None) => Value::Null,
            (Some(key), Some(secret)) => {
                json!({"type": "basic", "access_key": key, "access_secret": secret})
            }
            _ => bail!("--access-key and a secret go together"),
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum RegistryCmd {
    /// Add an endpoint; its secret is stored encrypted and never shown again.
    #[command(
        after_help = "Examples:\n  wharf registry add airgap --url https://airgap.example.com --access-key 'robot$sync' --access-secret-stdin\n  wharf registry add hub-mirror --type docker-registry --url http://127.0.0.1:5001"
    )]
    Add {
        name: String,
        #[command(flatten)]
        endpoint: EndpointArgs,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// The endpoints (secrets shown as *****).
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Check that an endpoint answers and accepts its credentials: a stored one by
    /// id, or a new one with --url.
    Ping {
        /// A stored endpoint's id.
        id: Option<i64>,
        #[arg(long, value_enum)]
        r#type: Option<RegistryType>,
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        access_key: Option<String>,
        #[arg(long, env = "WHARF_ACCESS_SECRET", hide_env_values = true)]
        access_secret: Option<String>,
    },
    /// Remove an endpoint by id.
    Remove { id: i64 },
}

#[derive(Args, Debug)]
pub struct RegistryArgs {
    #[command(subcommand)]
    cmd: RegistryCmd,
    #[command(flatten)]
    target: Target,
}

pub fn run(args: RegistryArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.target)?;
    runtime()?.block_on(async {
        match args.cmd {
            RegistryCmd::Add {
                name,
                endpoint,
                description,
            } => {
                let mut body = json!({
                    "name": name, "url": endpoint.url, "type": endpoint.kind.as_str(),
                    "description": description, "credential": endpoint.credential()?,
                });
                if let Some(ca) = &endpoint.ca_file {
                    body["ca_file"] = json!(ca);
                }
                let resp = c.call(Method::POST, "/registries", Some(&body)).await?;
                let id = super::manage::created_id(&resp);
                println!("added registry {id} ({name})");
            }
            RegistryCmd::List { output } => {
                let items = c.json(Method::GET, "/registries", None).await?;
                let items = items.as_array().cloned().unwrap_or_default();
                print_rows(
                    output,
                    &items,
                    &[
                        ("ID", "/id"),
                        ("NAME", "/name"),
                        ("TYPE", "/type"),
                        ("URL", "/url"),
                        ("ACCESS KEY", "/credential/access_key"),
                    ],
                );
            }
            RegistryCmd::Ping {
                id,
                r#type,
                url,
                access_key,
                access_secret,
            } => {
                if id.is_none() && url.is_none() {
                    bail!("give a stored endpoint's id or --url");
                }
                let mut body = json!({});
                for (k, v) in [
                    ("type", r#type.map(|t| t.as_str().to_string())),
                    ("url", url),
                    ("access_key", access_key),
                    ("access_secret", access_secret),
                ] {
                    if let Some(v) = v {
                        body[k] = json!(v);
                    }
                }
                if let Some(id) = id {
                    body["id"] = json!(id);
                }
                c.call(Method::POST, "/registries/ping", Some(&body))
                    .await?;
                println!("registry is reachable and accepts the credentials");
            }
            RegistryCmd::Remove { id } => {
                c.call(Method::DELETE, &format!("/registries/{id}"), None)
                    .await?;
                println!("removed registry {id}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
