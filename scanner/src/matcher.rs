//! Matches an inventory against the database with OSV's range semantics
//! (<https://ossf.github.io/osv-schema/#evaluation>): events sorted by version, `introduced`
//! opens, `fixed` closes before, `last_affected` closes after; explicit `versions` match too.
//! OS packages are matched per distro release through their source package.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::db::osv::{Event, Range};
use crate::db::{Advisory, Db};
use crate::inventory::{Ecosystem, Inventory, Package};
use crate::severity::Severity;
use crate::versions;
use crate::{Result, Warnings};

/// One vulnerable package. Deserialize too: the registry stores findings as they are
/// and renders Harbor's report from them when asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub package: Package,
    pub advisory: Arc<Advisory>,
    /// The id to show: the CVE alias when the advisory has exactly one, else its own id.
    pub vulnerability_id: String,
    /// The other advisories' ids for this vulnerability and package (`DSA-5514-1` beside
    /// `CVE-2023-4911`): the advisory's own id when it is not the one shown, plus those of
    /// other records of the same vulnerability that were merged into this finding.
    /// Reports stored before this field existed read back with none.
    #[serde(default)]
    pub vendor_ids: Vec<String>,
    pub fixed_version: Option<String>,
    /// `fixed`, `affected` (no fix yet), `will_not_fix` or `end_of_life` (the release is
    /// out of security support); the last three have no fixed version.
    pub status: String,
}

impl Finding {
    /// This finding's place on the severity scale. Findings are ranked on Trivy's five
    /// levels: the scanner never stores `NONE` for an advisory (CVSS "NONE" falls through
    /// to the advisory's label on import), and should one appear it counts as `UNKNOWN`,
    /// as any name that is not a severity does.
    pub fn severity(&self) -> Severity {
        Severity::lenient(&self.advisory.severity).max(Severity::Unknown)
    }
}

/// Whether `version` falls in an OSV range, and the fix closing its interval if any.
/// `None` when the range cannot be evaluated (unknown type, unparseable versions).
pub fn in_range(eco: Ecosystem, range: &Range, version: &str) -> Option<(bool, Option<String>)> {
    let cmp = |a: &str, b: &str| -> Option<Ordering> {
        match range.kind.as_str() {
            "SEMVER" => {
                Some(versions::semver_lenient(a)?.cmp_precedence(&versions::semver_lenient(b)?))
            }
            "ECOSYSTEM" => versions::compare(eco, a, b),
            _ => None,
        }
    };
    // (version, event) with introduced "0" sorting before everything
    let key = |e: &Event| -> Option<String> {
        e.introduced
            .clone()
            .or(e.introduced_after.clone())
            .or(e.fixed.clone())
            .or(e.last_affected.clone())
    };
    let mut evs: Vec<(&Event, String)> = range
        .events
        .iter()
        .filter(|e| e.limit.is_none())
        .filter_map(|e| Some((e, key(e)?)))
        .collect();
    for (_, v) in &evs {
        if v != "0" {
            cmp(v, v)?;
        }
    }
    cmp(version, version)?;
    sort_events(&mut evs, &cmp);
    let mut affected = false;
    let mut fix = None;
    for (i, (e, v)) in evs.iter().enumerate() {
        let ord = if v == "0" {
            Ordering::Greater
        } else {
            cmp(version, v)?
        };
        let opens = match (&e.introduced, &e.introduced_after) {
            (Some(_), _) => ord != Ordering::Less,
            (None, Some(_)) => ord == Ordering::Greater,
            (None, None) => false,
        };
        if e.introduced.is_some() || e.introduced_after.is_some() {
            if opens {
                affected = true;
                fix = None;
                // the next closing event after this one is this interval's end
                for (later, lv) in &evs[i + 1..] {
                    if later.fixed.is_some() {
                        fix = Some(lv.clone());
                        break;
                    }
                    if later.last_affected.is_some() {
                        break;
                    }
                }
            }
        } else if e.fixed.is_some() {
            if ord != Ordering::Less {
                affected = false;
            }
        } else if e.last_affected.is_some() && ord == Ordering::Greater {
            affected = false;
        }
    }
    Some((affected, if affected { fix } else { None }))
}

/// Sorts range events by version, `introduced: 0` first. At one version a closing event
/// comes before an opening one, so `fixed: 0.13.0` then `introduced: 0.13.0` (two adjacent
/// intervals, as PyPA writes them) leaves 0.13.0 affected whatever order the record lists them in.
pub(crate) fn sort_events(
    evs: &mut [(&Event, String)],
    cmp: &dyn Fn(&str, &str) -> Option<Ordering>,
) {
    let rank =
        |e: &Event| u8::from(e.introduced.is_some()) + 2 * u8::from(e.introduced_after.is_some());
    evs.sort_by(|(ea, a), (eb, b)| match (a == "0", b == "0") {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => cmp(a, b)
            .unwrap_or(Ordering::Equal)
            .then_with(|| rank(ea).cmp(&rank(eb))),
    });
}

/// The id a finding is shown under: the CVE alias when the advisory has exactly one, else
/// the advisory's own id. The Trivy DB export keys advisories by the same id, so Trivy and
/// Wharf report one vulnerability under one name.
pub fn display_id(a: &Advisory) -> String {
    let mut cves = a.aliases.iter().filter(|x| x.starts_with("CVE-"));
    match (cves.next(), cves.next()) {
        (Some(cve), None) if !a.id.starts_with("CVE-") => cve.clone(),
        _ => a.id.clone(),
    }
}

/// The (ecosystem, package name, version) keys an inventory package is looked up by.
///
/// OS packages are looked up in their release's ecosystem (`Debian:12`, `Alpine:v3.19`,
/// `AlmaLinux:9`), under the name the distro's advisories use:
/// - Debian and Ubuntu name **source** packages: dpkg's `Source:` (libc6 → glibc), at the
///   source version when `Source: foo (1.2-3)` gives one.
/// - Alpine's secdb names the **origin** (apk `o:`; libcrypto3 → openssl), at the package's
///   version (an origin has no version of its own).
/// - RPM distros' advisories name **binary** packages (AlmaLinux: `kernel`, `kernel-64k`),
///   some the source RPM: both names are asked, always at the binary version, which
///   carries the epoch (`1:3.0.7-25.el9`) that the source RPM's file name lacks.
fn lookup_keys(p: &Package, eco_key: Option<&str>) -> Vec<(String, String, String)> {
    if p.ecosystem.is_os() {
        let Some(eco) = eco_key else {
            return Vec::new();
        };
        let key = |name: &str, version: &str| {
            (
                eco.to_string(),
                p.ecosystem.normalize_name(name),
                version.to_string(),
            )
        };
        let source = p.source_name.as_deref();
        match p.ecosystem {
            Ecosystem::Rpm => {
                let mut keys = vec![key(&p.name, &p.version)];
                if let Some(src) = source.filter(|s| *s != p.name) {
                    keys.push(key(src, &p.version));
                }
                keys
            }
            Ecosystem::Alpine => vec![key(source.unwrap_or(&p.name), &p.version)],
            _ => vec![key(
                source.unwrap_or(&p.name),
                p.source_version.as_deref().unwrap_or(&p.version),
            )],
        }
    } else {
        let version = match p.ecosystem {
            // Go's stdlib records use plain semver: go1.19.8 -> 1.19.8
            Ecosystem::Go if p.name == "stdlib" => p.version.trim_start_matches("go").to_string(),
            _ => p.version.clone(),
        };
        vec![(
            p.ecosystem.osv_name().to_string(),
            p.ecosystem.normalize_name(&p.name),
            version,
        )]
    }
}

/// The ecosystem OS packages are matched in, if the DB has data for it. Otherwise a
/// warning says so and OS packages get no findings: another release's data would give
/// wrong answers (different fixed versions), so it is never used instead.
fn os_ecosystem(db: &Db, inv: &Inventory, warnings: &mut Warnings) -> Result<Option<String>> {
    let os_packages = inv.packages.iter().filter(|p| p.ecosystem.is_os()).count();
    if os_packages == 0 {
        return Ok(None);
    }
    let Some(distro) = inv.distro.as_ref() else {
        warnings.push(format!(
            "{os_packages} OS packages but no /etc/os-release: OS packages not matched"
        ));
        return Ok(None);
    };
    let Some(eco) = distro.osv_ecosystem() else {
        warnings.push(format!(
            "OS {} {}: no advisory source known for this distro; {os_packages} OS packages not matched",
            distro.id, distro.version_id
        ));
        return Ok(None);
    };
    if !db.has_ecosystem(&eco)? {
        warnings.push(format!(
            "the vulnerability DB has no advisories for {eco} (OS {} {}): {os_packages} OS packages not matched; import that release's data (wharf db import osv / alpine-secdb, or wharf db update)",
            distro.id, distro.version_id
        ));
        return Ok(None);
    }
    Ok(Some(eco))
}

/// Finds the vulnerabilities of every package. Each (package, vulnerability) once.
pub fn match_inventory(db: &Db, inv: &Inventory, warnings: &mut Warnings) -> Result<Vec<Finding>> {
    let mut out: Vec<Finding> = Vec::new();
    let mut seen: HashMap<(String, String, String, String), usize> = HashMap::new();
    let mut unparsed = 0usize;
    let os_eco = os_ecosystem(db, inv, warnings)?;
    for p in &inv.packages {
        for (eco_key, name, version) in lookup_keys(p, os_eco.as_deref()) {
            match_one(
                db,
                p,
                &eco_key,
                &name,
                &version,
                &mut out,
                &mut seen,
                &mut unparsed,
            )?;
        }
    }
    if unparsed > 0 {
        warnings.push(format!("{unparsed} advisory ranges could not be evaluated (versions not valid in their ecosystem)"));
    }
    out.sort_by(|a, b| {
        (b.severity(), &a.package.name, &a.vulnerability_id).cmp(&(
            a.severity(),
            &b.package.name,
            &b.vulnerability_id,
        ))
    });
    Ok(out)
}

/// One package's findings under one lookup key, added to `out` (each (package,
/// vulnerability) once: `seen` maps it to its place in `out`).
#[allow(clippy::too_many_arguments)]
fn match_one(
    db: &Db,
    p: &Package,
    eco_key: &str,
    name: &str,
    version: &str,
    out: &mut Vec<Finding>,
    seen: &mut HashMap<(String, String, String, String), usize>,
    unparsed: &mut usize,
) -> Result<()> {
    let version = version.to_string();
    {
        for row in db.lookup(eco_key, name)? {
            if row.status.as_deref() == Some("not_affected") {
                continue;
            }
            let mut affected = row.versions.iter().any(|v| {
                v == &version
                    || versions::compare(p.ecosystem, v, &version) == Some(Ordering::Equal)
            });
            let mut fixes: Vec<String> = Vec::new();
            let mut evaluated = false;
            for r in &row.ranges {
                match in_range(p.ecosystem, r, &version) {
                    Some((hit, fix)) => {
                        evaluated = true;
                        if hit {
                            affected = true;
                            fixes.extend(fix);
                        }
                    }
                    None if r.kind == "GIT" => {}
                    None => *unparsed += 1,
                }
            }
            let _ = evaluated;
            if !affected {
                continue;
            }
            fixes.sort_by(|a, b| versions::compare(p.ecosystem, a, b).unwrap_or(Ordering::Equal));
            fixes.dedup();
            // Trivy's statuses with no fix: the row's own status wins over its ranges.
            let no_fix_status = match row.status.as_deref() {
                Some(s @ ("will_not_fix" | "end_of_life")) => Some(s),
                _ => None,
            };
            let fixed_version = if no_fix_status.is_some() || fixes.is_empty() {
                None
            } else {
                Some(fixes.join(", "))
            };
            let vid = display_id(&row.advisory);
            let status = if let Some(s) = no_fix_status {
                s
            } else if fixed_version.is_some() {
                "fixed"
            } else {
                "affected"
            };
            let key = (
                p.name.clone(),
                p.version.clone(),
                p.path.clone(),
                vid.clone(),
            );
            let mut f = Finding {
                package: p.clone(),
                advisory: row.advisory.clone(),
                vendor_ids: if row.advisory.id != vid {
                    vec![row.advisory.id.clone()]
                } else {
                    Vec::new()
                },
                vulnerability_id: vid,
                fixed_version,
                status: status.into(),
            };
            match seen.get(&key) {
                // Two records of one vulnerability (Debian's CVE record and its DSA): keep
                // the better one, and every advisory id of both.
                Some(&i) => {
                    let mut ids = std::mem::take(&mut out[i].vendor_ids);
                    for id in f.vendor_ids.drain(..) {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    ids.sort();
                    // a fix beats none; then a known severity (the CVE record's CVSS)
                    // beats a DSA's UNKNOWN
                    let (kept, new) = (&out[i], &f);
                    let better = match (kept.fixed_version.is_some(), new.fixed_version.is_some()) {
                        (false, true) => true,
                        (true, false) => false,
                        _ => {
                            kept.severity() == Severity::Unknown
                                && new.severity() > Severity::Unknown
                        }
                    };
                    if better {
                        out[i] = f;
                    }
                    out[i].vendor_ids = ids;
                }
                None => {
                    seen.insert(key, out.len());
                    out.push(f);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event::default();
        match kind {
            "i" => e.introduced = Some(v.into()),
            "f" => e.fixed = Some(v.into()),
            _ => e.last_affected = Some(v.into()),
        }
        e
    }

    #[test]
    fn osv_range_evaluation() {
        // two branches, out of order on purpose: [2.2, 2.2.24) and [3.0, 3.1.12)
        let r = Range {
            kind: "ECOSYSTEM".into(),
            events: vec![
                ev("i", "3.0"),
                ev("f", "3.1.12"),
                ev("i", "2.2"),
                ev("f", "2.2.24"),
            ],
        };
        assert_eq!(
            in_range(Ecosystem::PyPI, &r, "2.2"),
            Some((true, Some("2.2.24".into())))
        );
        assert_eq!(in_range(Ecosystem::PyPI, &r, "2.2.24"), Some((false, None)));
        assert_eq!(in_range(Ecosystem::PyPI, &r, "2.1"), Some((false, None)));
        assert_eq!(
            in_range(Ecosystem::PyPI, &r, "3.1.0"),
            Some((true, Some("3.1.12".into())))
        );
        let r = Range {
            kind: "SEMVER".into(),
            events: vec![ev("i", "0"), ev("l", "1.2.3")],
        };
        assert_eq!(in_range(Ecosystem::Go, &r, "v1.2.3"), Some((true, None)));
        assert_eq!(in_range(Ecosystem::Go, &r, "v1.2.4"), Some((false, None)));
        let r = Range {
            kind: "ECOSYSTEM".into(),
            events: vec![ev("i", "0"), ev("f", "2.36-9+deb12u4")],
        };
        assert_eq!(
            in_range(Ecosystem::Debian, &r, "2.36-9+deb12u3"),
            Some((true, Some("2.36-9+deb12u4".into())))
        );
        assert_eq!(
            in_range(Ecosystem::Debian, &r, "2.36-9+deb12u10"),
            Some((false, None))
        );
        // PyPA's apache-iotdb record: [0.12.2, 0.13.0) and [0.13.0, 0.14.0rc1), listed with
        // the later interval first; 0.13.0 is in the second one.
        let r = Range {
            kind: "ECOSYSTEM".into(),
            events: vec![
                ev("i", "0.13.0"),
                ev("f", "0.14.0rc1"),
                ev("i", "0.12.2"),
                ev("f", "0.13.0"),
            ],
        };
        assert_eq!(
            in_range(Ecosystem::PyPI, &r, "0.13.0"),
            Some((true, Some("0.14.0rc1".into())))
        );
        assert_eq!(in_range(Ecosystem::PyPI, &r, "0.10.0"), Some((false, None)));
        let r = Range {
            kind: "GIT".into(),
            events: vec![ev("i", "abc")],
        };
        assert_eq!(in_range(Ecosystem::PyPI, &r, "1.0"), None);
    }
}
