//! `wharf db …`: build, inspect, convert and ship the offline vulnerability database.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use wharf_scanner::Warnings;
use wharf_scanner::db::{Db, artifact};

use super::registry_args::RegistryArgs;

#[derive(Args, Debug)]
#[command(after_help = "\
Artifacts:
  wharf db push HOST/REPO:TAG          Wharf's DB: artifactType application/vnd.wharf.vulndb.v1,
                                       one layer application/vnd.wharf.vulndb.v1.sqlite+gzip
  wharf db push --format trivy REF     Trivy's DB artifact (config application/vnd.aquasec.trivy.config.v1+json,
                                       layer application/vnd.aquasec.trivy.db.layer.v1.tar+gzip), for
                                       `trivy image --db-repository HOST/REPO`
  wharf db pull HOST/REPO:TAG          verified (digests, schema) before it replaces --db
  wharf db update [--vuln-db-ref REF]  either format (default ghcr.io/aquasecurity/trivy-db:2),
                                       verified and imported before it replaces --db")]
pub struct DbArgs {
    /// Vulnerability database [default: $WHARF_DB, else <data dir>/wharf/vuln.db].
    #[arg(long, global = true, env = "WHARF_DB")]
    db: Option<PathBuf>,

    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// Import advisories.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write the database in another tool's format.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Show what the database holds.
    Info {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publish the database to a registry as an OCI artifact.
    Push {
        /// HOST[:PORT]/REPO:TAG
        reference: String,
        /// `wharf` (this SQLite DB) or `trivy` (Trivy's DB artifact, for --db-repository).
        #[arg(long, value_enum, default_value_t = PushFormat::Wharf)]
        format: PushFormat,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Download a published vulnerability DB into --db: Trivy's (the default,
    /// ghcr.io/aquasecurity/trivy-db:2) or one pushed with `wharf db push` (either format).
    /// Verified and imported before it replaces --db.
    Update {
        /// The DB artifact, HOST[:PORT]/REPO:TAG: a mirror for air-gapped sites.
        #[arg(long, env = "WHARF_VULN_DB_REF", default_value = artifact::DEFAULT_UPDATE_REF)]
        vuln_db_ref: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Fetch a database pushed with `wharf db push` into --db (verified, then replaced atomically).
    Pull {
        /// HOST[:PORT]/REPO:TAG or @sha256:…
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
enum PushFormat {
    Wharf,
    Trivy,
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// OSV records: JSON or YAML files, directories of them, or zip archives.
    Osv {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Trivy's database: trivy.db (with metadata.json beside it), or a directory holding it.
    Trivy { path: PathBuf },
    /// Alpine's secdb (`v3.19/main.json`, …): files, or directories of them.
    AlpineSecdb {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ExportCommand {
    /// DIR/trivy.db + DIR/metadata.json, for `trivy --cache-dir C` with DIR = C/db.
    Trivy { dir: PathBuf },
}

/// Progress on stderr, only when it is a terminal; at most ~10 updates a second.
fn progress(what: &'static str, unit: &'static str) -> impl FnMut(u64, u64) {
    let tty = std::io::stderr().is_terminal();
    let mut last = Instant::now();
    move |done, total| {
        if !tty || (done < total && last.elapsed().as_millis() < 100) {
            return;
        }
        last = Instant::now();
        let (d, t) = if unit == "MiB" {
            (done as f64 / 1048576.0, total as f64 / 1048576.0)
        } else {
            (done as f64, total as f64)
        };
        eprint!("\r{what}: {d:.1}/{t:.1} {unit}   ");
        if done >= total {
            eprintln!();
        }
    }
}

/// --username/--password, else the registry's user name and password in the Docker config
/// (an entry or a credential helper).
fn registry_options(
    args: &RegistryArgs,
    reference: &str,
) -> anyhow::Result<wharf_oci::RegistryOptions> {
    let mut opts = args.options()?;
    if opts.username.is_none() {
        let r = wharf_oci::parse_remote_reference(reference)?;
        if let Some(c) = wharf_oci::credentials::from_docker_config(r.resolve_registry())?
            && let Some((u, p)) = c.as_basic()
        {
            opts.username = Some(u.to_string());
            opts.password = Some(p.to_string());
        }
    }
    Ok(opts)
}

fn print_warnings(w: &Warnings) {
    for m in &w.messages {
        eprintln!("warning: {m}");
    }
    if w.suppressed > 0 {
        eprintln!("warning: {} more warnings suppressed", w.suppressed);
    }
}

pub fn run(args: DbArgs) -> anyhow::Result<ExitCode> {
    let path = args.db.unwrap_or_else(wharf_scanner::db::default_path);
    match args.command {
        DbCommand::Import(ImportCommand::Osv { paths }) => {
            let t = Instant::now();
            let mut db = Db::open(&path)?;
            let mut w = Warnings::default();
            let s = db.import_osv(&paths, &mut w)?;
            print_warnings(&w);
            println!(
                "imported {} advisories ({} affected packages) from {} files into {} in {:.2}s; {} skipped, {} affected entries without a package skipped",
                s.advisories,
                s.affected,
                s.files,
                path.display(),
                t.elapsed().as_secs_f64(),
                s.skipped,
                s.skipped_entries
            );
        }
        DbCommand::Import(ImportCommand::AlpineSecdb { paths }) => {
            let t = Instant::now();
            let mut db = Db::open(&path)?;
            let mut w = Warnings::default();
            let s = db.import_alpine_secdb(&paths, &mut w)?;
            print_warnings(&w);
            println!(
                "imported {} advisories ({} affected packages) from {} secdb files into {} in {:.2}s; {} skipped",
                s.advisories,
                s.affected,
                s.files,
                path.display(),
                t.elapsed().as_secs_f64(),
                s.skipped
            );
        }
        DbCommand::Import(ImportCommand::Trivy { path: from }) => {
            let t = Instant::now();
            let mut db = Db::open(&path)?;
            let mut w = Warnings::default();
            let s = db
                .import_trivy(&from, &mut w, &mut progress("buckets", "buckets"))
                .with_context(|| format!("importing {}", from.display()))?;
            print_warnings(&w);
            println!(
                "imported {} advisories ({} affected packages) from {} source buckets of {} into {} in {:.2}s; {} skipped",
                s.advisories,
                s.affected,
                s.files,
                from.display(),
                path.display(),
                t.elapsed().as_secs_f64(),
                s.skipped
            );
        }
        DbCommand::Export(ExportCommand::Trivy { dir }) => {
            let t = Instant::now();
            let db = Db::open_existing(&path)?;
            let mut w = Warnings::default();
            let s = db
                .export_trivy(&dir, &mut w)
                .with_context(|| format!("exporting to {}", dir.display()))?;
            print_warnings(&w);
            println!(
                "wrote {} advisories for {} packages in {} buckets, {} vulnerabilities, to {} in {:.2}s; {} skipped",
                s.advisories,
                s.packages,
                s.buckets,
                s.vulnerabilities,
                dir.join("trivy.db").display(),
                t.elapsed().as_secs_f64(),
                s.skipped
            );
        }
        DbCommand::Push {
            reference,
            format,
            registry,
        } => {
            let opts = registry_options(&registry, &reference)?;
            let p = match format {
                PushFormat::Wharf => artifact::push_wharf(
                    &path,
                    &reference,
                    &opts,
                    &mut progress("compressing", "MiB"),
                )?,
                PushFormat::Trivy => {
                    let mut w = Warnings::default();
                    let p = artifact::push_trivy(&path, &reference, &opts, &mut w)?;
                    print_warnings(&w);
                    p
                }
            };
            println!(
                "pushed {} ({} layer {}, {} bytes) as {}",
                p.reference,
                if format == PushFormat::Trivy {
                    "Trivy DB"
                } else {
                    "Wharf DB"
                },
                p.layer_digest,
                p.layer_size,
                p.manifest_digest
            );
        }
        DbCommand::Pull {
            reference,
            registry,
        } => {
            let opts = registry_options(&registry, &reference)?;
            let p = artifact::pull_wharf(
                &reference,
                &path,
                &opts,
                &mut progress("downloading", "MiB"),
            )?;
            println!(
                "pulled {} ({}, layer {} verified) into {}",
                p.reference,
                p.manifest_digest,
                p.layer_digest,
                path.display()
            );
        }
        DbCommand::Update {
            vuln_db_ref,
            registry,
        } => {
            let t = Instant::now();
            let opts = registry_options(&registry, &vuln_db_ref)?;
            let mut w = Warnings::default();
            let u = artifact::update(
                &vuln_db_ref,
                &path,
                &opts,
                &mut progress("downloading", "MiB"),
                &mut w,
            )
            .with_context(|| {
                format!(
                    "updating the vulnerability DB from {vuln_db_ref} failed; nothing was changed. \
                     Offline or air-gapped? Copy the artifact into a registry you can reach and pass \
                     --vuln-db-ref HOST/REPO:TAG (or set WHARF_VULN_DB_REF), or build the DB from \
                     advisory files with `wharf db import`"
                )
            })?;
            print_warnings(&w);
            println!(
                "updated {} from {} ({} DB, {}, layer {} verified): {} advisories in {:.2}s",
                path.display(),
                u.pulled.reference,
                match u.format {
                    artifact::Format::Wharf => "Wharf",
                    artifact::Format::Trivy => "Trivy",
                },
                u.pulled.manifest_digest,
                u.pulled.layer_digest,
                u.advisories,
                t.elapsed().as_secs_f64()
            );
        }
        DbCommand::Info { json } => {
            let info = Db::open_existing(&path)?.info()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                println!("database:       {}", info.path);
                println!("schema version: {}", info.schema_version);
                println!(
                    "updated at:     {}",
                    info.updated_at.as_deref().unwrap_or("never")
                );
                println!("advisories:     {}", info.advisories);
                println!("affected pkgs:  {}", info.affected_packages);
                println!(
                    "sources:        {}",
                    info.sources
                        .iter()
                        .map(|(s, n)| format!("{s} ({n})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                println!("ecosystems:");
                for (e, n) in &info.ecosystems {
                    println!("  {e:<20} {n}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
