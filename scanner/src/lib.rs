//! wharf-scanner: an image (OCI layout, docker archive, root filesystem) → package
//! inventory (OS and language packages) → matched against an offline SQLite vulnerability
//! database built from OSV records → reports (table, Trivy-shaped JSON, SARIF).
//!
//! The crate works against any registry or layout and never depends on `wharf-registry`.

pub mod analyzers;
pub mod db;
mod error;
pub mod image;
pub mod inventory;
pub mod matcher;
/// Registry options kept at their old path for `wharf-registry`'s scan service, which is
/// being restructured concurrently; the client itself is `wharf_oci`'s.
pub mod report;
pub mod secret;
mod severity;
pub mod versions;

pub use error::{Error, Result, Warnings};
pub use severity::{Severity, UnknownSeverity};

use image::{ImageSource, LoadOptions};
use inventory::Inventory;
use report::ScanReport;

/// Reads an image and inventories it, without any vulnerability data.
pub fn inventory(reference: &str, opts: &LoadOptions) -> Result<ScanReport> {
    let source = ImageSource::parse(reference)?;
    let mut warnings = Warnings::default();
    let img = image::load(&source, opts, &mut warnings)?;
    let inv: Inventory = analyzers::analyze(&img.fs, &mut warnings);
    Ok(ScanReport {
        artifact: reference.to_string(),
        manifest_digest: img.manifest_digest,
        layers: img.fs.layers.iter().map(|l| l.digest.clone()).collect(),
        inventory: inv,
        findings: Vec::new(),
        secrets: img.fs.secret_files(),
        warnings,
    })
}

/// Inventories an image and matches it against `db`.
pub fn scan(reference: &str, opts: &LoadOptions, db: &db::Db) -> Result<ScanReport> {
    let mut report = inventory(reference, opts)?;
    report.findings = matcher::match_inventory(db, &report.inventory, &mut report.warnings)?;
    Ok(report)
}
