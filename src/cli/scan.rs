//! `wharf scan IMAGE`: inventory an image and match it against the local vulnerability DB.

use super::registry_args::RegistryArgs;
use super::scan_cache::CacheArgs;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use wharf_scanner::db::Db;
use wharf_scanner::image::LoadOptions;
use wharf_scanner::report;

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
    /// CycloneDX 1.6: the image's SBOM with `vulnerabilities[]` (VEX).
    Cyclonedx,
}

/// What `wharf scan` looks for (Trivy's `--scanners`).
#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum Scanner {
    /// Known vulnerabilities in OS and language packages (needs the vulnerability DB).
    Vuln,
    /// Secrets in the image's text files: private keys, cloud credentials, tokens.
    Secret,
}

#[derive(Args, Debug)]
#[command(after_help = "\
IMAGE forms:
  oci:DIR[:TAG]              OCI image layout (skopeo/umoci/buildah output)
  docker-archive:FILE[:TAG]  `docker save` tarball
  dir:PATH                   unpacked root filesystem
  HOST[:PORT]/REPO:TAG       pulled from a registry (also @sha256:…; --insecure for plain HTTP)
  PATH                       any of the above, recognised by content

Examples:
  wharf db import osv ./advisories/        # once, offline
  wharf scan oci:./layout:v1
  wharf scan --format json --severity CRITICAL,HIGH --ignore-unfixed --exit-code 1 oci:./layout:v1
  wharf scan --list-packages dir:/")]
pub struct ScanArgs {
    /// The image to scan.
    #[arg(required_unless_present = "sbom")]
    image: Option<String>,

    /// Scan an SPDX or CycloneDX JSON document (from Wharf, Syft or Trivy) instead of an image.
    #[arg(long, conflicts_with = "image")]
    sbom: Option<PathBuf>,

    /// Vulnerability database [default: $WHARF_DB, else <data dir>/wharf/vuln.db].
    #[arg(long, env = "WHARF_DB")]
    db: Option<PathBuf>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Write the report to a file instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,

    /// Only report these severities (comma-separated: CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN).
    #[arg(long, value_delimiter = ',')]
    severity: Vec<String>,

    /// Only report vulnerabilities that have a fixed version.
    #[arg(long)]
    ignore_unfixed: bool,

    /// Exit with this code when any vulnerability or secret remains after filtering (for CI).
    #[arg(long, default_value_t = 0)]
    exit_code: u8,

    /// What to look for, comma-separated [default: vuln,secret for an image; vuln for
    /// --sbom, which has no files to read, as Trivy's `image` and `sbom` do].
    #[arg(long, value_enum, value_delimiter = ',')]
    scanners: Option<Vec<Scanner>>,

    /// Print the package inventory only (no vulnerability DB needed).
    #[arg(long)]
    list_packages: bool,

    /// Platform to pick from a multi-platform image, as os/arch[/variant].
    #[arg(long, default_value = "linux/amd64")]
    platform: String,

    #[command(flatten)]
    registry: RegistryArgs,

    #[command(flatten)]
    cache: CacheArgs,
}

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    for s in &args.severity {
        anyhow::ensure!(
            ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
                .contains(&s.to_ascii_uppercase().as_str()),
            "unknown severity {s:?} (use CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)"
        );
    }
    let scanners = args.scanners.clone().unwrap_or_else(|| match args.sbom {
        Some(_) => vec![Scanner::Vuln],
        None => vec![Scanner::Vuln, Scanner::Secret],
    });
    let vulns = scanners.contains(&Scanner::Vuln);
    let secrets = scanners.contains(&Scanner::Secret) && !args.list_packages;
    anyhow::ensure!(
        !(secrets && args.sbom.is_some()),
        "--sbom has no files to read for secrets: use --scanners vuln"
    );
    let opts = LoadOptions {
        platform: Some(args.platform.clone()),
        registry: args.registry.options()?,
        secrets,
        cache: if args.sbom.is_some() {
            None
        } else {
            args.cache.open()
        },
        ..Default::default()
    };
    let colour = args.output.is_none() && std::io::stdout().is_terminal();
    let target = args.image.clone().unwrap_or_default();
    // The inventory comes from the image, or from the SBOM document.
    let inventory = |opts: &LoadOptions| -> anyhow::Result<report::ScanReport> {
        match &args.sbom {
            Some(path) => sbom_inventory(path),
            None => {
                wharf_scanner::inventory(&target, opts).with_context(|| format!("reading {target}"))
            }
        }
    };
    let (text, count) = if args.list_packages {
        let r = inventory(&opts)?;
        print_warnings(&r);
        let text = match args.format {
            Format::Json => report::to_json_packages(&r),
            Format::Table => report::to_table_packages(&r),
            Format::Sarif | Format::Cyclonedx => {
                anyhow::bail!(
                    "--list-packages prints table or json (`wharf sbom` writes CycloneDX)"
                )
            }
        };
        (text, 0)
    } else {
        let db = if vulns {
            let path = args
                .db
                .clone()
                .unwrap_or_else(wharf_scanner::db::default_path);
            Some(Db::open_existing(&path)?)
        } else {
            None
        };
        let mut r = inventory(&opts)?;
        if let Some(db) = &db {
            r.findings = wharf_scanner::matcher::match_inventory(db, &r.inventory, &mut r.warnings)
                .with_context(|| format!("matching {}", r.artifact))?;
        }
        r.filter(&args.severity, args.ignore_unfixed);
        print_warnings(&r);
        let text = match args.format {
            Format::Table => report::to_table(&r, colour),
            Format::Json => report::to_json(&r),
            Format::Sarif => report::to_sarif(&r),
            Format::Cyclonedx => {
                String::from_utf8(wharf_sbom::vex::render(&r, &Default::default())?)?
            }
        };
        (text, r.findings.len() + r.secret_count())
    };
    match &args.output {
        Some(p) => std::fs::write(p, text.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                out.write_all(b"\n")?;
            }
        }
    }
    Ok(if count > 0 && args.exit_code != 0 {
        ExitCode::from(args.exit_code)
    } else {
        ExitCode::SUCCESS
    })
}

/// An SPDX or CycloneDX document read back as the inventory it describes.
fn sbom_inventory(path: &std::path::Path) -> anyhow::Result<report::ScanReport> {
    let (format, doc) = wharf_sbom::read::read_file(path, wharf_sbom::read::MAX_SBOM)
        .with_context(|| format!("reading SBOM {}", path.display()))?;
    let inventory = wharf_sbom::read::to_inventory(format, &doc)
        .with_context(|| format!("reading SBOM {}", path.display()))?;
    Ok(report::ScanReport {
        artifact: path.display().to_string(),
        manifest_digest: None,
        layers: Vec::new(),
        inventory,
        findings: Vec::new(),
        secrets: Vec::new(),
        warnings: Default::default(),
    })
}

pub fn print_warnings(r: &report::ScanReport) {
    for w in &r.warnings.messages {
        eprintln!("warning: {w}");
    }
    if r.warnings.suppressed > 0 {
        eprintln!(
            "warning: {} more warnings suppressed",
            r.warnings.suppressed
        );
    }
}
