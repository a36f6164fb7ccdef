//! Package suppliers and checksums in the forms SPDX and CycloneDX spell them.
//!
//! The inventory keeps what the package metadata says (`Name <email>` from dpkg
//! `Maintainer`, Python `Author`, …). SPDX needs it typed as a `Person:` or an
//! `Organization:`; package metadata does not say which, so names of teams, lists and
//! companies are taken as organizations. An OS package without a maintainer is supplied by
//! its distribution.

use serde_json::{Value, json};
use wharf_scanner::inventory::{Checksum, HashAlgorithm, Package};
use wharf_scanner::report::ScanReport;

/// Who supplied a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Supplier {
    pub name: String,
    pub email: Option<String>,
    pub organization: bool,
}

/// Words that mark a maintainer field as a group rather than one person.
const GROUP_WORDS: &[&str] = &[
    "team",
    "maintainers",
    "developers",
    "project",
    "foundation",
    "community",
    "group",
    "contributors",
    "authors",
    "inc",
    "inc.",
    "ltd",
    "llc",
    "gmbh",
    "corp",
    "corporation",
    "company",
    "organization",
    "organisation",
    "association",
    "consortium",
    "packagers",
];

fn looks_like_group(name: &str) -> bool {
    name.split(|c: char| !c.is_alphanumeric() && c != '.')
        .any(|w| GROUP_WORDS.contains(&w.to_ascii_lowercase().as_str()))
}

impl Supplier {
    /// Parses `Name <email>`, `Name`, or `<email>`.
    pub fn parse(s: &str) -> Option<Supplier> {
        let s = s.trim();
        let (name, email) = match s.split_once('<') {
            Some((n, rest)) => {
                let e = rest.split('>').next().unwrap_or("").trim();
                (
                    n.trim().trim_matches('"').trim(),
                    Some(e).filter(|e| !e.is_empty()),
                )
            }
            None => (s, None),
        };
        // SPDX puts the email in parentheses: keep them out of the name.
        let name = name.replace(['(', ')'], "").trim().to_string();
        let (name, email) = match (name.is_empty(), email) {
            (false, e) => (name, e.map(String::from)),
            (true, Some(e)) => (e.to_string(), None),
            (true, None) => return None,
        };
        Some(Supplier {
            organization: looks_like_group(&name),
            name,
            email,
        })
    }

    /// SPDX 2.3 `supplier`: `Person: name (email)` or `Organization: name (email)`.
    pub fn spdx(&self) -> String {
        let kind = if self.organization {
            "Organization"
        } else {
            "Person"
        };
        match &self.email {
            Some(e) => format!("{kind}: {} ({e})", self.name),
            None => format!("{kind}: {}", self.name),
        }
    }

    /// CycloneDX `supplier` (an organizationalEntity), with the email as a contact.
    pub fn cyclonedx(&self) -> Value {
        let mut v = json!({"name": self.name});
        if let Some(e) = &self.email {
            v["contact"] = json!([{"name": self.name, "email": e}]);
        }
        v
    }

    /// Back from SPDX's form; `NOASSERTION` and garbage give `None`.
    pub fn from_spdx(s: &str) -> Option<String> {
        let (_, rest) = s.split_once(':')?;
        let rest = rest.trim();
        Some(match rest.rsplit_once(" (") {
            Some((n, e)) if e.ends_with(')') => format!("{n} <{}>", &e[..e.len() - 1]),
            _ => rest.to_string(),
        })
        .filter(|s| !s.is_empty())
    }
}

/// The supplier of a package: its maintainer or author, else for OS packages the distro.
pub(crate) fn supplier(report: &ScanReport, p: &Package) -> Option<Supplier> {
    if let Some(s) = p.supplier.as_deref().and_then(Supplier::parse) {
        return Some(s);
    }
    if !p.ecosystem.is_os() {
        return None;
    }
    let d = report.inventory.distro.as_ref()?;
    let name = d
        .pretty_name
        .as_deref()
        .and_then(|n| n.split_whitespace().next())
        .map(String::from)
        .unwrap_or_else(|| d.id.clone());
    Some(Supplier {
        name,
        email: None,
        organization: true,
    })
}

/// SPDX `checksums[]`.
pub(crate) fn spdx_checksums(p: &Package) -> Option<Value> {
    (!p.checksums.is_empty()).then(|| {
        p.checksums
            .iter()
            .map(|c| json!({"algorithm": c.algorithm.spdx_name(), "checksumValue": c.value}))
            .collect()
    })
}

/// CycloneDX `hashes[]`.
pub(crate) fn cyclonedx_hashes(p: &Package) -> Option<Value> {
    (!p.checksums.is_empty()).then(|| {
        p.checksums
            .iter()
            .map(|c| json!({"alg": c.algorithm.cyclonedx_name(), "content": c.value}))
            .collect()
    })
}

/// Checksums from either format's array (`algorithm`/`checksumValue` or `alg`/`content`);
/// algorithms the inventory has no name for are skipped.
pub(crate) fn read_checksums(v: Option<&Value>) -> Vec<Checksum> {
    let mut out: Vec<Checksum> = v
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let alg = c.get("algorithm").or_else(|| c.get("alg"))?.as_str()?;
            let val = c
                .get("checksumValue")
                .or_else(|| c.get("content"))?
                .as_str()?;
            Checksum::from_hex(HashAlgorithm::from_name(alg)?, val)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_and_organizations() {
        let s = Supplier::parse("Santiago Vila <sanvila@debian.org>").unwrap();
        assert_eq!(s.spdx(), "Person: Santiago Vila (sanvila@debian.org)");
        let s = Supplier::parse("GNU Libc Maintainers <debian-glibc@lists.debian.org>").unwrap();
        assert_eq!(
            s.spdx(),
            "Organization: GNU Libc Maintainers (debian-glibc@lists.debian.org)"
        );
        assert_eq!(
            Supplier::parse("Red Hat, Inc.").unwrap().spdx(),
            "Organization: Red Hat, Inc."
        );
        assert_eq!(Supplier::parse("<a@b.c>").unwrap().spdx(), "Person: a@b.c");
        assert_eq!(Supplier::parse("  "), None);
        // Parentheses would break SPDX's `name (email)` form.
        assert_eq!(
            Supplier::parse("X (Y) <x@y>").unwrap().spdx(),
            "Person: X Y (x@y)"
        );
    }

    #[test]
    fn spdx_form_reads_back() {
        for s in ["Santiago Vila <sanvila@debian.org>", "Red Hat, Inc."] {
            let spdx = Supplier::parse(s).unwrap().spdx();
            assert_eq!(Supplier::from_spdx(&spdx).as_deref(), Some(s));
        }
        assert_eq!(Supplier::from_spdx("NOASSERTION"), None);
    }
}
