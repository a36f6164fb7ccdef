//! Reports: a table for people, Trivy-shaped JSON for tools, SARIF 2.1.0 for code scanning,
//! and Harbor's vulnerability report (`harbor.rs`) for Harbor's API and scanner adapter.
//! All render the same [`ScanReport`], grouped into Trivy's "results" (targets).

pub mod harbor;
mod json;
mod sarif;
mod table;

use std::collections::BTreeMap;

use serde::Serialize;

pub use json::{to_json, to_json_packages};
pub use sarif::to_sarif;
pub use table::{to_table, to_table_packages};

use crate::Warnings;
use crate::inventory::{Ecosystem, Inventory, Package};
use crate::matcher::Finding;
use crate::secret::SecretFile;
use crate::severity::Severity;

/// Everything a scan produced.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub artifact: String,
    pub manifest_digest: Option<String>,
    pub layers: Vec<String>,
    pub inventory: Inventory,
    pub findings: Vec<Finding>,
    /// Files holding secrets (`--scanners secret`), in path order.
    pub secrets: Vec<SecretFile>,
    pub warnings: Warnings,
}

/// Trivy's result grouping: (class, type, target).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Target {
    pub class: &'static str,
    pub kind: String,
    pub name: String,
}

pub(crate) fn target_of(p: &Package, artifact: &str, inv: &Inventory) -> Target {
    if p.ecosystem.is_os() {
        let (id, ver) = inv
            .distro
            .as_ref()
            .map(|d| (d.id.clone(), d.version_id.clone()))
            .unwrap_or_else(|| ("unknown".into(), String::new()));
        return Target {
            class: "os-pkgs",
            name: format!("{artifact} ({id} {ver})").replace(" )", ")"),
            kind: id,
        };
    }
    let lang = |kind: &str, name: &str| Target {
        class: "lang-pkgs",
        kind: kind.into(),
        name: name.into(),
    };
    let is_rust_binary = p.ecosystem == Ecosystem::CratesIo && !p.path.ends_with("Cargo.lock");
    match p.ecosystem {
        Ecosystem::PyPI => lang("python-pkg", "Python"),
        Ecosystem::Npm => match crate::analyzers::node::lock_type(&p.path) {
            Some(kind) => lang(kind, &p.path),
            None => lang("node-pkg", "Node.js"),
        },
        Ecosystem::Go => lang("gobinary", &p.path),
        Ecosystem::CratesIo if is_rust_binary => lang("rustbinary", &p.path),
        Ecosystem::CratesIo => lang("cargo", &p.path),
        Ecosystem::Maven => lang("jar", "Java"),
        Ecosystem::RubyGems => lang("gemspec", "Ruby"),
        Ecosystem::Packagist => lang("composer", &p.path),
        Ecosystem::NuGet if p.path.ends_with(".deps.json") => lang("dotnet-core", &p.path),
        Ecosystem::NuGet => lang("nuget", &p.path),
        Ecosystem::Conan => lang("conan", &p.path),
        Ecosystem::Pub => lang("pub", &p.path),
        Ecosystem::Hex => lang("hex", &p.path),
        Ecosystem::Swift => lang("swift", &p.path),
        Ecosystem::CocoaPods => lang("cocoapods", &p.path),
        Ecosystem::Conda if p.path.contains("conda-meta/") => lang("conda-pkg", "Conda"),
        Ecosystem::Conda => lang("conda-environment", &p.path),
        _ => lang("unknown", &p.path),
    }
}

impl ScanReport {
    /// Keeps only findings at the given severities (empty = all) and, with `ignore_unfixed`,
    /// only those with a fixed version.
    pub fn filter(&mut self, severities: &[String], ignore_unfixed: bool) {
        let sevs: Vec<String> = severities.iter().map(|s| s.to_ascii_uppercase()).collect();
        self.findings.retain(|f| {
            (sevs.is_empty() || sevs.contains(&f.advisory.severity))
                && (!ignore_unfixed || f.fixed_version.is_some())
        });
        // Trivy's --severity applies to secrets too.
        for file in &mut self.secrets {
            file.findings
                .retain(|s| sevs.is_empty() || sevs.iter().any(|v| v == s.severity));
        }
        self.secrets.retain(|f| !f.findings.is_empty());
    }

    /// Secrets found, all files together.
    pub fn secret_count(&self) -> usize {
        self.secrets.iter().map(|f| f.findings.len()).sum()
    }

    /// Findings grouped by target, targets in a stable order.
    pub(crate) fn grouped(&self) -> BTreeMap<Target, Vec<&Finding>> {
        let mut m: BTreeMap<Target, Vec<&Finding>> = BTreeMap::new();
        for f in &self.findings {
            m.entry(target_of(&f.package, &self.artifact, &self.inventory))
                .or_default()
                .push(f);
        }
        m
    }

    pub(crate) fn packages_grouped(&self) -> BTreeMap<Target, Vec<&Package>> {
        let mut m: BTreeMap<Target, Vec<&Package>> = BTreeMap::new();
        for p in &self.inventory.packages {
            m.entry(target_of(p, &self.artifact, &self.inventory))
                .or_default()
                .push(p);
        }
        m
    }

    /// Counts per severity, CRITICAL first.
    pub fn summary(&self) -> Vec<(&'static str, usize)> {
        Severity::ALL[1..]
            .iter()
            .rev()
            .map(|s| {
                (
                    s.as_str(),
                    self.findings.iter().filter(|f| f.severity() == *s).count(),
                )
            })
            .collect()
    }
}
