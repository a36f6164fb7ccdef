//! Version ordering, one comparator per ecosystem, each following that ecosystem's own
//! rules. `None` means a version is not valid in that ecosystem: callers must not guess.

pub mod alpine;
pub mod debian;
pub mod maven;
pub mod rpm;
pub mod rubygems;

use std::cmp::Ordering;
use std::str::FromStr;

use crate::inventory::Ecosystem;

/// Compares two versions of `eco`.
pub fn compare(eco: Ecosystem, a: &str, b: &str) -> Option<Ordering> {
    match eco {
        Ecosystem::Debian | Ecosystem::Ubuntu => debian::compare(a, b),
        Ecosystem::Rpm => rpm::compare(a, b),
        Ecosystem::Alpine => alpine::compare(a, b),
        Ecosystem::PyPI => pep440(a, b),
        Ecosystem::Npm
        | Ecosystem::CratesIo
        | Ecosystem::Go
        | Ecosystem::Packagist
        | Ecosystem::NuGet
        | Ecosystem::Conan
        | Ecosystem::Pub
        | Ecosystem::Hex
        | Ecosystem::Swift
        | Ecosystem::CocoaPods => Some(semver_lenient(a)?.cmp_precedence(&semver_lenient(b)?)),
        Ecosystem::Maven => maven::compare(a, b),
        Ecosystem::RubyGems => rubygems::compare(a, b),
        // conda orders versions its own way (VersionOrder) and no advisory source covers
        // conda packages: nothing is ever compared.
        Ecosystem::Conda => None,
    }
}

/// PEP 440 through `pep440_rs` (the parser uv uses). Legacy non-PEP 440 versions are refused.
fn pep440(a: &str, b: &str) -> Option<Ordering> {
    let a = pep440_rs::Version::from_str(a.trim()).ok()?;
    let b = pep440_rs::Version::from_str(b.trim()).ok()?;
    Some(a.cmp(&b))
}

/// SemVer 2.0 with the spellings real ecosystems use: a leading `v` (Go modules), `go1.19`
/// toolchain versions (Go's `stdlib` records), missing minor/patch (`1.2` = `1.2.0`), and Go's
/// `1.21rc2`-style pre-releases.
pub fn semver_lenient(v: &str) -> Option<semver::Version> {
    let v = v.trim();
    let v = v.strip_prefix("go").unwrap_or(v);
    let v = v.strip_prefix('v').unwrap_or(v);
    if let Ok(s) = semver::Version::parse(v) {
        return Some(s);
    }
    // split off pre-release / build
    let cut = v.find(['-', '+']).unwrap_or(v.len());
    let (core, rest) = v.split_at(cut);
    // Go toolchain pre-releases: 1.21rc2, 1.20beta1
    let (core, pre) = match core.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) if rest.is_empty() => (&core[..i], format!("-{}", &core[i..])),
        _ => (core, rest.to_string()),
    };
    let mut parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    let parts: Vec<String> = parts
        .iter()
        .map(|p| p.trim_start_matches('0').to_string())
        .map(|p| if p.is_empty() { "0".into() } else { p })
        .collect();
    semver::Version::parse(&format!("{}{}", parts.join("."), pre)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn pep440_documented_ordering() {
        // PEP 440, "Summary of permitted suffixes and relative ordering"
        let chain = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.1.dev1",
        ];
        for w in chain.windows(2) {
            assert_eq!(
                compare(Ecosystem::PyPI, w[0], w[1]),
                Some(Less),
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert_eq!(compare(Ecosystem::PyPI, "2.2", "2.2.0"), Some(Equal));
        assert_eq!(
            compare(Ecosystem::PyPI, "1!1.0", "2.0"),
            Some(Greater),
            "epoch"
        );
        assert_eq!(
            compare(Ecosystem::PyPI, "1.0-RC1", "1.0rc1"),
            Some(Equal),
            "normalised spelling"
        );
        assert_eq!(compare(Ecosystem::PyPI, "0.12.01", "0.12.1"), Some(Equal));
        assert_eq!(compare(Ecosystem::PyPI, "not a version", "1.0"), None);
    }

    #[test]
    fn semver_precedence() {
        // semver.org §11
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for w in chain.windows(2) {
            assert_eq!(
                compare(Ecosystem::Npm, w[0], w[1]),
                Some(Less),
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert_eq!(
            compare(Ecosystem::CratesIo, "1.0.0+build.1", "1.0.0"),
            Some(Equal),
            "build metadata ignored"
        );
        assert_eq!(
            compare(Ecosystem::Go, "v0.0.0-20210101000000-abcdef123456", "0.1.0"),
            Some(Less),
            "pseudo-version"
        );
        assert_eq!(compare(Ecosystem::Go, "go1.19.8", "1.19.13"), Some(Less));
        assert_eq!(compare(Ecosystem::Go, "go1.20", "1.20.0"), Some(Equal));
        assert_eq!(compare(Ecosystem::Go, "go1.21rc2", "1.21.0"), Some(Less));
        assert_eq!(compare(Ecosystem::Npm, "x", "1.0.0"), None);
    }
}
