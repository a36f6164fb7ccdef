//! `wharf adapter serve`: Harbor's pluggable scanner adapter API (`wharf_scanner_adapter`),
//! configured from flags, so a Harbor installation can register Wharf as its scanner.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use wharf_scanner_adapter::Config;

#[derive(Args, Debug)]
pub struct AdapterArgs {
    #[command(subcommand)]
    command: AdapterCommand,
}

#[derive(Subcommand, Debug)]
enum AdapterCommand {
    /// Serve /api/v1/metadata, /api/v1/scan and /api/v1/scan/{id}/report.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "\
Harbor sends each scan request with the registry's URL and a robot account's Basic
credentials; the adapter pulls the artifact from there, scans it against the
vulnerability database and keeps the report until Harbor fetches it. Reports:
Harbor's vulnerability report (version 1.1 and 1.0), Trivy-shaped raw JSON, and
SBOMs (SPDX or CycloneDX).

Register it in Harbor: Interrogation Services → Scanners → New scanner, endpoint
http(s)://HOST:PORT, authorization \"Bearer\" or \"APIKey\" with the --api-key-file's
content when one is set.

Examples:
  wharf db update                        # the database the scans read
  wharf adapter serve --listen 0.0.0.0:8080 --api-key-file /run/secrets/adapter-key
  wharf adapter serve --tls-cert tls.crt --tls-key tls.key --registry-cacert harbor-ca.pem")]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WHARF_ADAPTER_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,

    /// TLS certificate chain (PEM); plain HTTP without it.
    #[arg(long, env = "WHARF_ADAPTER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(long, env = "WHARF_ADAPTER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Vulnerability database [default: $WHARF_DB, else <data dir>/wharf/vuln.db].
    #[arg(long, env = "WHARF_DB")]
    db: Option<PathBuf>,

    /// A file holding the credential Harbor must present (`Authorization: Bearer …` or
    /// `X-ScannerAdapter-API-Key`). Without it the API is open to anyone who can reach it.
    #[arg(long, env = "WHARF_ADAPTER_API_KEY_FILE")]
    api_key_file: Option<PathBuf>,

    /// Extra PEM CA certificate(s) to trust for the registries in scan requests (repeatable).
    #[arg(long)]
    registry_cacert: Vec<PathBuf>,

    /// Scans that run at once [default: the number of CPUs].
    #[arg(long, env = "WHARF_ADAPTER_CONCURRENCY")]
    concurrency: Option<usize>,

    /// Seconds a finished scan's report is kept for Harbor to fetch.
    #[arg(long, env = "WHARF_ADAPTER_KEEP_SECONDS", default_value_t = 3600)]
    keep_seconds: u64,

    /// Scan requests held at once (queued, running and kept); more get 503.
    #[arg(long, env = "WHARF_ADAPTER_MAX_REQUESTS", default_value_t = 1000)]
    max_requests: usize,

    #[command(flatten)]
    cache: super::scan_cache::CacheArgs,
}

pub fn run(args: AdapterArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AdapterCommand::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::new(args.db.unwrap_or_else(wharf_scanner::db::default_path));
    if let Some(path) = &args.api_key_file {
        let key =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let key = key.trim();
        anyhow::ensure!(!key.is_empty(), "{} is empty", path.display());
        config.api_key = Some(key.to_string());
    } else {
        tracing::warn!(
            "no --api-key-file: anyone who reaches the adapter can make it pull and scan"
        );
    }
    if !config.db.is_file() {
        tracing::warn!(db = %config.db.display(), "no vulnerability database yet: scans fail until `wharf db update` (or `wharf db import`) creates it");
    }
    config.ca_certs_pem = args
        .registry_cacert
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .collect::<anyhow::Result<_>>()?;
    if let Some(n) = args.concurrency {
        anyhow::ensure!(n > 0, "--concurrency must be at least 1");
        config.concurrency = n;
    }
    anyhow::ensure!(args.max_requests > 0, "--max-requests must be at least 1");
    config.keep_results = Duration::from_secs(args.keep_seconds);
    config.max_requests = args.max_requests;
    config.layer_cache = args.cache.open();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("wharf-adapter")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(wharf_scanner_adapter::serve(
        config,
        args.listen,
        args.tls_cert.zip(args.tls_key),
        super::serve::shutdown_signal(),
        |_| {},
    ))?;
    Ok(ExitCode::SUCCESS)
}
