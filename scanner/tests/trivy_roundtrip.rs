//! Wharf's DB → `trivy.db` → Wharf's DB keeps what matches, on every real advisory in
//! ../shared/vulndata (PyPA, Go, RustSec): for each package, every version named in its
//! advisories (and so every interval boundary) is affected by the same vulnerability ids
//! before and after the trip through Trivy's constraint strings (packages whose names differ
//! only in case excepted: Trivy folds case, see below).

mod common;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use wharf_scanner::Warnings;
use wharf_scanner::db::{AffectedRow, Db};
use wharf_scanner::inventory::Ecosystem;
use wharf_scanner::matcher::{display_id, in_range};
use wharf_scanner::versions;

/// The ids whose rows say `v` is affected, as the matcher decides it.
fn hits(eco: Ecosystem, rows: &[AffectedRow], v: &str) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| r.status.as_deref() != Some("not_affected"))
        .filter(|r| {
            r.versions
                .iter()
                .any(|x| x == v || versions::compare(eco, x, v) == Some(Ordering::Equal))
                || r.ranges
                    .iter()
                    .any(|x| in_range(eco, x, v).is_some_and(|(hit, _)| hit))
        })
        .map(|r| display_id(&r.advisory))
        .collect()
}

#[test]
fn export_then_import_keeps_every_match() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::vulndata();
    let mut orig = Db::open(&tmp.path().join("orig.db")).unwrap();
    let mut w = Warnings::default();
    orig.import_osv(
        &[
            data.join("pypa/vulns"),
            data.join("go/data/osv"),
            data.join("rustsec/crates"),
        ],
        &mut w,
    )
    .unwrap();
    let out = tmp.path().join("trivy");
    let stats = orig.export_trivy(&out, &mut w).unwrap();
    assert_eq!(stats.skipped, 0, "{w:?}");
    let mut back = Db::open(&tmp.path().join("back.db")).unwrap();
    let s = back.import_trivy(&out, &mut w, &mut |_, _| {}).unwrap();
    assert_eq!(s.skipped, 0, "{w:?}");

    let info = orig.info().unwrap();
    let mut packages: BTreeMap<(String, String), ()> = BTreeMap::new();
    {
        // every (ecosystem, package) of the original
        let conn = rusqlite::Connection::open(tmp.path().join("orig.db")).unwrap();
        let mut st = conn
            .prepare("SELECT DISTINCT ecosystem, package FROM affected")
            .unwrap();
        for r in st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap()
        {
            packages.insert(r.unwrap(), ());
        }
    }
    assert!(info.ecosystems.len() >= 3);
    // Trivy folds the case of package names (trivy-db's NormalizePkgName), so two packages
    // whose names differ only in case become one (Go's vulndb has such pairs, e.g. a module
    // renamed from Nginx-UI to nginx-ui). Those are the one expected difference; they are few.
    let mut folded: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (eco, pkg) in packages.keys() {
        folded
            .entry((eco.clone(), pkg.to_lowercase()))
            .or_default()
            .insert(pkg.clone());
    }
    let collide: BTreeSet<&String> = folded.values().filter(|s| s.len() > 1).flatten().collect();
    assert!(collide.len() < 20, "case collisions: {collide:?}");
    let (mut probes, mut checked_pkgs) = (0usize, 0usize);
    for (eco_name, pkg) in packages.keys() {
        let Some((eco, _)) = Ecosystem::from_osv(eco_name) else {
            continue;
        };
        if collide.contains(pkg) {
            continue;
        }
        let a = orig.lookup(eco_name, pkg).unwrap();
        let b = back.lookup(eco_name, pkg).unwrap();
        let mut vs: BTreeSet<String> = BTreeSet::new();
        for r in &a {
            vs.extend(r.versions.iter().cloned());
            for range in &r.ranges {
                for e in &range.events {
                    for v in [&e.introduced, &e.fixed, &e.last_affected]
                        .into_iter()
                        .flatten()
                    {
                        if v != "0" {
                            vs.insert(v.clone());
                        }
                    }
                }
            }
        }
        for v in &vs {
            assert_eq!(hits(eco, &b, v), hits(eco, &a, v), "{eco_name} {pkg} {v}");
            probes += 1;
        }
        checked_pkgs += 1;
    }
    assert!(
        checked_pkgs > 1000 && probes > 10_000,
        "{checked_pkgs} packages, {probes} versions"
    );
}
