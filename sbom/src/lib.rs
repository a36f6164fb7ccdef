//! wharf-sbom: the scanner's package inventory as SPDX 2.3 JSON or CycloneDX 1.6 JSON,
//! attached to images as OCI 1.1 referrers (with the referrers tag schema fallback) and
//! read back — from Wharf, Syft or Trivy documents — as an inventory to scan.
//!
//! Works against any registry; never depends on `wharf-registry`.

pub mod attach;
mod cpe;
pub mod cyclonedx;
mod error;
mod license;
pub mod read;
pub mod spdx_json;
mod subject;
mod supplier;
mod time;
pub mod vex;

pub use error::{Error, Result};
pub use subject::Subject;

use wharf_scanner::report::ScanReport;

/// The tool name written into creation info.
pub const TOOL_NAME: &str = "wharf";
/// The tool version written into creation info.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An SBOM document format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    SpdxJson,
    CycloneDxJson,
}

impl Format {
    /// The media type used as the referrer's `artifactType` and the layer media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::SpdxJson => "application/spdx+json",
            Format::CycloneDxJson => "application/vnd.cyclonedx+json",
        }
    }

    /// Guesses the format of a document from its top-level fields.
    pub fn detect(doc: &serde_json::Value) -> Option<Format> {
        if doc.get("spdxVersion").is_some() {
            Some(Format::SpdxJson)
        } else if doc.get("bomFormat").and_then(|v| v.as_str()) == Some("CycloneDX") {
            Some(Format::CycloneDxJson)
        } else {
            None
        }
    }
}

/// Options that change document content.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Creation time, seconds since the epoch. `None`: `$SOURCE_DATE_EPOCH`, else now.
    pub created: Option<i64>,
}

/// Renders `report`'s inventory as an SBOM. The same inventory and creation time always give
/// byte-identical output (packages sorted, identifiers derived from content).
pub fn generate(report: &ScanReport, format: Format, opts: &Options) -> Result<Vec<u8>> {
    let created = match opts.created {
        Some(t) => t,
        None => time::source_date_epoch()?.unwrap_or_else(time::now),
    };
    let subject = Subject::from_report(report);
    let mut out = match format {
        Format::SpdxJson => spdx_json::render(&subject, report, created)?,
        Format::CycloneDxJson => cyclonedx::render(&subject, report, created)?,
    };
    out.push(b'\n');
    Ok(out)
}
