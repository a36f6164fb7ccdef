//! Trivy's vulnerability database, read into and written from Wharf's SQLite DB.
//!
//! Trivy ships `trivy.db` (a Go bbolt file) with `metadata.json` beside it. The layout, as
//! trivy-db (schema 2) writes it:
//!
//! - one top-level bucket per data source: `debian 12`, `alpine 3.19`, `ubuntu 22.04` for OS
//!   releases; `ECO::NAME` for language ecosystems (`pip::GitHub Security Advisory pip`,
//!   `go::…`, `cargo::…`), → a bucket per package name → key vulnerability id, value the JSON
//!   [`model::Advisory`];
//! - `vulnerability`: vulnerability id → JSON [`model::Vulnerability`];
//! - `data-source`: source bucket name → JSON [`model::DataSource`].
//!
//! Language advisories carry version constraint strings (`>=1.0, <1.2.3`, `=2.0`), OS
//! advisories a `FixedVersion`. [`constraint`] maps those onto Wharf's OSV-shaped ranges, so
//! matching keeps each ecosystem's own comparator.

pub mod bolt;
pub mod constraint;
mod export;
mod import;
pub mod model;

pub use export::ExportStats;

/// The `Version` in `metadata.json` that this code reads and writes (trivy-db schema 2).
pub const SCHEMA_VERSION: i64 = 2;

/// Buckets that hold no advisories.
const NON_SOURCE_BUCKETS: &[&str] = &[
    "vulnerability",
    "data-source",
    "trivy",
    "vulnerability-id",
    "Red Hat CPE",
];

/// Trivy's bucket prefix for a language ecosystem, and back. Trivy spells the OSV ecosystems
/// with its own names (`pip`, `cargo`, `composer`).
const LANG: &[(&str, &str)] = &[
    ("PyPI", "pip"),
    ("npm", "npm"),
    ("Go", "go"),
    ("crates.io", "cargo"),
    ("Maven", "maven"),
    ("RubyGems", "rubygems"),
    ("Packagist", "composer"),
    ("NuGet", "nuget"),
];

/// OS releases: (OSV ecosystem prefix, Trivy bucket prefix, whether OSV writes a `v` before
/// the release, as Alpine's `Alpine:v3.19`).
const OS: &[(&str, &str, bool)] = &[
    ("Debian", "debian", false),
    ("Ubuntu", "ubuntu", false),
    ("Alpine", "alpine", true),
    ("Rocky Linux", "rocky", false),
    ("AlmaLinux", "alma", false),
];

/// The Trivy bucket prefix (`pip`) or OS bucket (`debian 12`) for an OSV ecosystem.
pub fn bucket_for(ecosystem: &str) -> Option<Bucket> {
    if let Some((_, t)) = LANG.iter().find(|(o, _)| *o == ecosystem) {
        return Some(Bucket::Lang(t.to_string()));
    }
    let (base, release) = ecosystem.split_once(':')?;
    let (_, t, v) = OS.iter().find(|(o, _, _)| *o == base)?;
    let release = if *v {
        release.strip_prefix('v').unwrap_or(release)
    } else {
        release
    };
    (!release.is_empty()).then(|| Bucket::Os(format!("{t} {release}")))
}

/// The OSV ecosystem of a Trivy source bucket name; `None` for ones Wharf cannot match.
pub fn ecosystem_of(bucket: &str) -> Option<String> {
    if let Some((prefix, _)) = bucket.split_once("::") {
        return LANG
            .iter()
            .find(|(_, t)| *t == prefix)
            .map(|(o, _)| o.to_string());
    }
    let (base, release) = bucket.split_once(' ')?;
    let (o, _, v) = OS.iter().find(|(_, t, _)| *t == base)?;
    Some(if *v {
        format!("{o}:v{release}")
    } else {
        format!("{o}:{release}")
    })
}

/// Where an OSV ecosystem's advisories go in Trivy's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bucket {
    /// Language ecosystem: the prefix before `::`.
    Lang(String),
    /// OS release: the whole bucket name.
    Os(String),
}

/// Trivy's package-name normalisation for its buckets: pip lower-cases and turns `_` into
/// `-`; NuGet is case-sensitive; everything else is lower-cased.
pub fn trivy_pkg_name(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "PyPI" => name.to_lowercase().replace('_', "-"),
        "NuGet" => name.to_string(),
        _ => name.to_lowercase(),
    }
}

/// A data source's display name in bucket names, from Wharf's source label.
fn source_name(source: &str, trivy_prefix: &str) -> String {
    match source {
        "pypa" => "Python Packaging Advisory Database".into(),
        "go" => "Go Vulnerability Database".into(),
        "rustsec" => "RustSec Advisory Database".into(),
        "ghsa" => format!("GitHub Security Advisory {trivy_prefix}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_map_both_ways() {
        for (eco, bucket) in [
            ("Debian:12", "debian 12"),
            ("Alpine:v3.19", "alpine 3.19"),
            ("Ubuntu:22.04", "ubuntu 22.04"),
        ] {
            assert_eq!(bucket_for(eco), Some(Bucket::Os(bucket.into())));
            assert_eq!(ecosystem_of(bucket).as_deref(), Some(eco));
        }
        assert_eq!(bucket_for("PyPI"), Some(Bucket::Lang("pip".into())));
        assert_eq!(
            ecosystem_of("pip::GitHub Security Advisory pip").as_deref(),
            Some("PyPI")
        );
        assert_eq!(
            ecosystem_of("cargo::RustSec Advisory Database").as_deref(),
            Some("crates.io")
        );
        assert_eq!(
            ecosystem_of("conan::GitLab Advisory Database Community"),
            None
        );
        assert_eq!(ecosystem_of("vulnerability"), None);
        assert_eq!(bucket_for("Hex"), None);
        assert_eq!(trivy_pkg_name("PyPI", "Zope_Interface"), "zope-interface");
    }
}
