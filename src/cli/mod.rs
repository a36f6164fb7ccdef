//! Argument parsing and dispatch. One module per verb (or family of verbs).

mod db;
mod logging;
mod sbom;
mod scan;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Wharf: an OCI registry with supply-chain security built in.
///
/// Run `wharf serve` to start a registry that keeps everything under one data
/// directory (blobs on the filesystem, metadata in SQLite). Any OCI client
/// (docker, skopeo, podman, oras) can then push to and pull from it.
#[derive(Parser, Debug)]
#[command(name = "wharf", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    log: logging::LogArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the registry server.
    Serve(serve::ServeArgs),
    /// Scan an image for vulnerable packages (or list them with --list-packages).
    Scan(scan::ScanArgs),
    /// Manage the offline vulnerability database.
    Db(db::DbArgs),
    /// Generate an SBOM (SPDX / CycloneDX) for an image; attach or fetch it as a referrer.
    Sbom(sbom::SbomArgs),
}

/// Exit codes CI can rely on: 0 success, 1 a check failed (policy, verify, scan
/// findings), 2 usage or runtime error.
pub const EXIT_ERROR: u8 = 2;

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.log);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Db(args) => db::run(args),
        Command::Sbom(args) => sbom::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
