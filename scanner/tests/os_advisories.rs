//! Importing the distros' own advisory data (../shared/vulndata: Debian's OSV export, Alpine's
//! secdb, AlmaLinux's OSV). Expected values are read here from the files with serde_json,
//! never from Wharf's output.

mod common;

use std::path::Path;

use wharf_scanner::Warnings;
use wharf_scanner::db::Db;

fn json_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn doc(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// An entry the importer can store: a package with an ecosystem and a name.
fn usable(a: &serde_json::Value) -> bool {
    let s = |k: &str| a["package"][k].as_str().is_some_and(|v| !v.is_empty());
    s("ecosystem") && s("name")
}

/// osv.dev's Debian CVE records carry `"package": {}` entries beside `GIT` ranges; those
/// entries used to cost the whole record ("missing field `ecosystem`").
#[test]
fn debian_cve_records_with_package_less_entries_are_imported() {
    let dir = common::vulndata().join("debian/CVE");
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    let (mut with_usable, mut unusable_entries) = (0u64, 0u64);
    for f in &files {
        let d = doc(f);
        let affected = d["affected"].as_array().cloned().unwrap_or_default();
        if affected.iter().any(usable) {
            with_usable += 1;
        }
        unusable_entries += affected.iter().filter(|a| !usable(a)).count() as u64;
    }
    assert!(unusable_entries > 0, "the data has no package-less entries");

    let tmp = tempfile::tempdir().unwrap();
    let mut db = Db::open(&tmp.path().join("v.db")).unwrap();
    let mut w = Warnings::default();
    let s = db.import_osv(&[&dir], &mut w).unwrap();
    assert_eq!(s.files, files.len() as u64);
    assert_eq!(
        s.advisories,
        with_usable,
        "first warnings: {:?}",
        &w.messages[..w.messages.len().min(3)]
    );
    assert_eq!(s.skipped_entries, unusable_entries);

    // zlib's CVE-2023-45853: bookworm has no fix (introduced 0, no fixed event)
    let rows = db.lookup("Debian:12", "zlib").unwrap();
    let row = rows
        .iter()
        .find(|r| r.advisory.id == "CVE-2023-45853")
        .expect("CVE-2023-45853 for Debian:12 zlib");
    assert!(
        row.ranges
            .iter()
            .flat_map(|r| &r.events)
            .all(|e| e.fixed.is_none())
    );
}

/// DSA records name their CVEs under `related`: the finding's id is the CVE (one CVE) and
/// the DSA stays in the advisory; `unimportant` / `end-of-life` urgencies are kept.
#[test]
fn debian_advisories_carry_their_cves_and_urgencies() {
    let root = common::vulndata().join("debian");
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Db::open(&tmp.path().join("v.db")).unwrap();
    let mut w = Warnings::default();
    db.import_osv(&[root.join("DSA"), root.join("CVE")], &mut w)
        .unwrap();

    let mut files = Vec::new();
    json_files(&root.join("DSA"), &mut files);
    let f = files
        .iter()
        .find(|p| p.file_name().unwrap() == "DSA-5514-1.json")
        .unwrap();
    let d = doc(f);
    let related: Vec<String> = d["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    let rows = db.lookup("Debian:12", "glibc").unwrap();
    let dsa = rows
        .iter()
        .find(|r| r.advisory.id == "DSA-5514-1")
        .expect("DSA-5514-1 for Debian:12 glibc");
    for cve in &related {
        assert!(dsa.advisory.aliases.contains(cve), "{cve} missing");
    }
    assert_eq!(
        wharf_scanner::matcher::display_id(&dsa.advisory),
        related[0],
        "one CVE: the finding is shown under it"
    );

    // every end-of-life entry of the data is a row with status end_of_life
    let mut cves = Vec::new();
    json_files(&root.join("CVE"), &mut cves);
    let mut eol = 0;
    for f in &cves {
        let d = doc(f);
        for a in d["affected"].as_array().into_iter().flatten() {
            if a["ecosystem_specific"]["urgency"] == "end-of-life" {
                eol += 1;
                let eco = a["package"]["ecosystem"].as_str().unwrap();
                let name = a["package"]["name"].as_str().unwrap();
                let rows = db.lookup(eco, &name.to_ascii_lowercase()).unwrap();
                let row = rows
                    .iter()
                    .find(|r| Some(r.advisory.id.as_str()) == d["id"].as_str())
                    .unwrap();
                assert_eq!(row.status.as_deref(), Some("end_of_life"));
            }
        }
    }
    assert!(eol > 0, "the data has no end-of-life entry");
}

/// Every (release, origin, id) of the secdb snapshot becomes a row; `"0"` is not affected,
/// others are fixed at the lowest listed version (by `apk version -t` order, checked in
/// the unit tests; here only that the listed version is one of the file's).
#[test]
fn alpine_secdb_is_imported_per_release_and_origin() {
    let file = common::vulndata().join("alpine/3.19/main.json");
    let d = doc(&file);
    assert_eq!(d["distroversion"], "v3.19");
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Db::open(&tmp.path().join("v.db")).unwrap();
    let mut w = Warnings::default();
    let s = db.import_alpine_secdb(&[&file], &mut w).unwrap();
    assert_eq!(s.skipped, 0, "{:?}", w.messages);

    let openssl = d["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pkg"]["name"] == "openssl")
        .unwrap();
    let rows = db.lookup("Alpine:v3.19", "openssl").unwrap();
    for (version, ids) in openssl["pkg"]["secfixes"].as_object().unwrap() {
        for id in ids.as_array().unwrap() {
            let id = id.as_str().unwrap().split_whitespace().next().unwrap();
            let row = rows
                .iter()
                .find(|r| r.advisory.aliases.iter().any(|a| a == id))
                .unwrap_or_else(|| panic!("{id} missing"));
            if version == "0" {
                assert_eq!(row.status.as_deref(), Some("not_affected"), "{id}");
            } else {
                let fixed = row.ranges[0].events[1].fixed.clone().unwrap();
                assert!(
                    openssl["pkg"]["secfixes"][&fixed]
                        .as_array()
                        .is_some_and(|l| l.iter().any(|x| x.as_str().unwrap().contains(id))),
                    "{id}: fixed {fixed} is not a version listing it"
                );
            }
        }
    }
    // another release's data is not this release's
    assert!(db.lookup("Alpine:v3.18", "openssl").unwrap().is_empty());
}

/// AlmaLinux's OSV: ecosystem `AlmaLinux:9`, fixed versions with epochs.
#[test]
fn almalinux_records_keep_epochs() {
    let dir = common::vulndata().join("almalinux/advisories/almalinux9");
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Db::open(&tmp.path().join("v.db")).unwrap();
    let mut w = Warnings::default();
    let s = db.import_osv(&[&dir], &mut w).unwrap();
    assert_eq!(s.skipped, 0, "{:?}", w.messages);
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    assert_eq!(s.advisories, files.len() as u64);
    // one record with an epoch in its fixed version, looked up as the data names it
    let (id, name, fixed) = files
        .iter()
        .find_map(|f| {
            let d = doc(f);
            d["affected"].as_array()?.iter().find_map(|a| {
                let fixed = a["ranges"][0]["events"]
                    .as_array()?
                    .iter()
                    .find_map(|e| e["fixed"].as_str())?;
                fixed.contains(':').then(|| {
                    (
                        d["id"].as_str().unwrap().to_string(),
                        a["package"]["name"].as_str().unwrap().to_string(),
                        fixed.to_string(),
                    )
                })
            })
        })
        .expect("a fixed version with an epoch");
    let rows = db.lookup("AlmaLinux:9", &name).unwrap();
    let row = rows.iter().find(|r| r.advisory.id == id).unwrap();
    assert!(
        row.ranges[0]
            .events
            .iter()
            .any(|e| e.fixed.as_deref() == Some(&fixed))
    );
}

/// Debian's `urgency: end-of-life` (bullseye's pdns-recursor in CVE-2023-50387): a finding
/// with status `end_of_life` and no fixed version, so `--ignore-unfixed` and the policy's
/// `ignoreUnfixed` (both: no fixed version → dropped) drop it, as Trivy's
/// `--ignore-unfixed` (= `--ignore-status affected,will_not_fix,fix_deferred,end_of_life`)
/// does.
#[test]
fn end_of_life_entries_are_findings_without_a_fix() {
    use wharf_scanner::analyzers::dpkg;
    use wharf_scanner::inventory::{Distro, Inventory};

    let root = common::vulndata().join("debian/CVE");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    // the data's end-of-life entries for Debian:11, with a version each lists
    let mut eol = Vec::new();
    for f in &files {
        let d = doc(f);
        for a in d["affected"].as_array().into_iter().flatten() {
            if a["ecosystem_specific"]["urgency"] == "end-of-life"
                && a["package"]["ecosystem"] == "Debian:11"
            {
                eol.push((
                    d["id"].as_str().unwrap().to_string(),
                    a["package"]["name"].as_str().unwrap().to_string(),
                    a["versions"][0].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    assert!(
        !eol.is_empty(),
        "the data has no Debian:11 end-of-life entry"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Db::open(&tmp.path().join("v.db")).unwrap();
    let mut w = Warnings::default();
    db.import_osv(&[&root], &mut w).unwrap();

    let distro = Distro {
        id: "debian".into(),
        version_id: "11".into(),
        version_codename: Some("bullseye".into()),
        pretty_name: None,
    };
    for (id, source, version) in eol {
        let status = format!(
            "Package: {source}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n"
        );
        let mut packages = Vec::new();
        dpkg::parse_status(
            &status,
            "var/lib/dpkg/status",
            None,
            Some(&distro),
            &mut packages,
        );
        let inv = Inventory {
            distro: Some(distro.clone()),
            packages,
        };
        let found = wharf_scanner::matcher::match_inventory(&db, &inv, &mut w).unwrap();
        let f = found
            .iter()
            .find(|f| f.vulnerability_id == id)
            .unwrap_or_else(|| panic!("{id} not found for {source} {version}"));
        assert_eq!(f.status, "end_of_life", "{id}");
        assert_eq!(f.fixed_version, None, "{id}");
    }
}
