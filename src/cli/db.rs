//! `wharf db …`: build and inspect the offline vulnerability database.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use wharf_scanner::Warnings;
use wharf_scanner::db::Db;

#[derive(Args, Debug)]
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
    /// Show what the database holds.
    Info {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// OSV records: JSON or YAML files, directories of them, or zip archives.
    Osv {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

pub fn run(args: DbArgs) -> anyhow::Result<ExitCode> {
    let path = args.db.unwrap_or_else(wharf_scanner::db::default_path);
    match args.command {
        DbCommand::Import(ImportCommand::Osv { paths }) => {
            let t = Instant::now();
            let mut db = Db::open(&path)?;
            let mut w = Warnings::default();
            let s = db.import_osv(&paths, &mut w)?;
            for m in &w.messages {
                eprintln!("warning: {m}");
            }
            println!(
                "imported {} advisories ({} affected packages) from {} files into {} in {:.2}s; {} skipped",
                s.advisories,
                s.affected,
                s.files,
                path.display(),
                t.elapsed().as_secs_f64(),
                s.skipped
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
