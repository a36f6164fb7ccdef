//! OS package vulnerabilities end to end: images whose package databases record old
//! versions, scanned by the real `wharf` binary against the distros' own advisories in
//! ../shared/vulndata (Debian's OSV export, Alpine's secdb, AlmaLinux's OSV). The expected
//! findings are derived here from the advisory files with each distro's own version
//! comparator as the oracle: `dpkg --compare-versions` for Debian, `rpm.vercmp` (rpm's Lua)
//! for RPM. For Alpine, `apk version -t` is the reference, but apk-tools is not packaged for
//! this Debian (`apt-cache search apk-tools` finds nothing) and cannot be fetched otherwise,
//! so Wharf's Alpine comparator (`wharf_scanner::versions`, tested on its own against
//! apk-tools' test vectors) stands in; the installed versions are chosen so that every
//! comparison differs in one numeric component or the `-rN` suffix, where there is no
//! room for doubt. The real Trivy, reading Wharf's exported `trivy.db`, is compared too.
//! Needs dpkg, rpm/rpmbuild, trivy, the test images and ../shared/vulndata.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

type Key = (String, String, String);

use common::wharf_db as wharf;
use common::{layout_with_layer, read_blob};

fn ok(out: Output) -> String {
    common::stdout_ok(&out)
}

/// The two sets are equal; otherwise says what each has that the other lacks.
fn assert_same(what: [&str; 2], a: &BTreeSet<Key>, b: &BTreeSet<Key>) {
    assert_eq!(
        a,
        b,
        "{} only: {:?}\n{} only: {:?}",
        what[0],
        a.difference(b).collect::<Vec<_>>(),
        what[1],
        b.difference(a).collect::<Vec<_>>()
    );
}

/// A finding's field as a string ("" when absent).
fn field(f: &Value, k: &str) -> String {
    f[k].as_str().unwrap_or_default().to_string()
}

/// (VulnerabilityID, PkgName, InstalledVersion) of a finding.
fn key_of(f: &Value) -> Key {
    (
        field(f, "VulnerabilityID"),
        field(f, "PkgName"),
        field(f, "InstalledVersion"),
    )
}

fn vulndata() -> PathBuf {
    let d = common::shared_dir().join("vulndata");
    assert!(
        d.join("debian/DSA").is_dir() && d.join("alpine").is_dir(),
        "advisory data missing at {} (set WHARF_SHARED to the folder holding vulndata/)",
        d.display()
    );
    d
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// `wharf scan --format json` of the layout; the report.
fn scan(layout: &Path, db: &Path, extra: &[&str]) -> Value {
    let image = format!("oci:{}:t", layout.display());
    let mut args = vec!["scan", "--format", "json"];
    args.extend(extra);
    args.push(&image);
    serde_json::from_str(&ok(wharf(&args, db))).unwrap()
}

fn vulns(report: &Value) -> Vec<Value> {
    report["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["Class"] == "os-pkgs")
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn keys(vs: &[Value]) -> BTreeSet<Key> {
    vs.iter().map(key_of).collect()
}

/// Trivy on the layout with Wharf's DB exported to Trivy's format.
fn trivy(layout: &Path, db: &Path) -> BTreeSet<Key> {
    common::require("trivy");
    let cache = tempfile::tempdir().unwrap();
    ok(wharf(
        &[
            "db",
            "export",
            "trivy",
            cache.path().join("db").to_str().unwrap(),
        ],
        db,
    ));
    let out = Command::new("trivy")
        .args(["image", "--quiet", "--format", "json", "--scanners", "vuln"])
        .args([
            "--offline-scan",
            "--skip-db-update",
            "--skip-java-db-update",
            "--skip-version-check",
            "--disable-telemetry",
        ])
        .arg("--cache-dir")
        .arg(cache.path())
        .arg("--input")
        .arg(layout)
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&ok(out)).unwrap();
    keys(&vulns(&v))
}

/// The id a finding is reported under, as the report format documents it (and Trivy
/// keys its DB): the CVE when the record names exactly one (as alias, or for a distro
/// advisory under `related`), else the record's own id.
fn reported_id(rec: &Value) -> String {
    let id = rec["id"].as_str().unwrap();
    if id.starts_with("CVE-") {
        return id.to_string();
    }
    let mut cves: BTreeSet<&str> = BTreeSet::new();
    for k in ["aliases", "related"] {
        for x in rec[k].as_array().into_iter().flatten() {
            if let Some(x) = x.as_str().filter(|x| x.starts_with("CVE-")) {
                cves.insert(x);
            }
        }
    }
    if cves.len() == 1 {
        cves.into_iter().next().unwrap().to_string()
    } else {
        id.to_string()
    }
}

/// Oracle for OSV records: is `version` affected by the entry, and by which fix (empty:
/// none)? `cmp(a, b)` is the distro's comparator: -1, 0, 1.
fn osv_affected(entry: &Value, version: &str, cmp: &dyn Fn(&str, &str) -> i32) -> Option<String> {
    if entry["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| cmp(v.as_str().unwrap(), version) == 0)
    {
        let fix = entry["ranges"][0]["events"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|e| e["fixed"].as_str())
            .unwrap_or_default();
        return Some(fix.to_string());
    }
    for r in entry["ranges"].as_array().into_iter().flatten() {
        assert_eq!(r["type"], "ECOSYSTEM", "oracle reads ECOSYSTEM ranges only");
        let mut introduced = None;
        for e in r["events"].as_array().unwrap() {
            if let Some(i) = e["introduced"].as_str() {
                introduced = Some(i.to_string());
            } else if let Some(f) = e["fixed"].as_str() {
                let i = introduced.take().expect("fixed without introduced");
                if (i == "0" || cmp(&i, version) <= 0) && cmp(version, f) < 0 {
                    return Some(f.to_string());
                }
            } else {
                panic!("oracle reads introduced/fixed events only: {e}");
            }
        }
        if let Some(i) = introduced
            && (i == "0" || cmp(&i, version) <= 0)
        {
            return Some(String::new());
        }
    }
    None
}

/// `dpkg --compare-versions`, remembered.
struct Dpkg(RefCell<HashMap<(String, String), i32>>);

impl Dpkg {
    fn cmp(&self, a: &str, b: &str) -> i32 {
        if a == b {
            return 0;
        }
        let key = (a.to_string(), b.to_string());
        if let Some(r) = self.0.borrow().get(&key) {
            return *r;
        }
        let test = |op: &str| {
            Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .status()
                .unwrap()
                .success()
        };
        let r = if test("lt") {
            -1
        } else if test("gt") {
            1
        } else {
            0
        };
        self.0.borrow_mut().insert(key, r);
        r
    }
}

/// dpkg status paragraphs: (package, version, source name, source version).
fn dpkg_packages(status: &str) -> Vec<(String, String, String, String)> {
    status
        .split("\n\n")
        .filter_map(|para| {
            let field = |k: &str| {
                para.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                    .map(str::to_string)
            };
            let (name, version) = (field("Package")?, field("Version")?);
            if !field("Status")?.ends_with(" installed") {
                return None;
            }
            let (src, src_version) = match field("Source") {
                Some(s) => match s.split_once(" (") {
                    Some((n, v)) => (n.to_string(), v.trim_end_matches(')').to_string()),
                    None => (s, version.clone()),
                },
                None => (name.clone(), version.clone()),
            };
            Some((name, version, src, src_version))
        })
        .collect()
}

fn with_versions(status: &str, changes: &[(&str, &str)]) -> String {
    status
        .split("\n\n")
        .map(|para| {
            let name = para
                .lines()
                .find_map(|l| l.strip_prefix("Package: "))
                .unwrap_or_default();
            match changes.iter().find(|(n, _)| *n == name) {
                Some((_, v)) => para
                    .lines()
                    .map(|l| {
                        if l.starts_with("Version: ") {
                            format!("Version: {v}")
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                None => para.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Older versions than the snapshot's fixes (README of vulndata: glibc fixed in
/// 2.36-9+deb12u3, perl in 5.36.0-7+deb12u1, systemd in 252.21-1~deb12u1, gnutls28 in
/// 3.7.9-2+deb12u3); zlib1g and libtinfo6 keep theirs (unfixed records).
const OLDER: &[(&str, &str)] = &[
    ("libc6", "2.36-9+deb12u1"),
    ("perl-base", "5.36.0-7"),
    ("libsystemd0", "252.17-1~deb12u1"),
    ("libgnutls30", "3.7.9-2+deb12u2"),
];

fn debian_image(dir: &Path, os_release: Option<&str>) -> (PathBuf, String, String) {
    let rootfs = common::test_images().join("rootfs/bookworm-minbase");
    let status = std::fs::read_to_string(rootfs.join("var/lib/dpkg/status")).unwrap();
    let status = with_versions(&status, OLDER);
    let layout = dir.join("debian");
    let mut files: Vec<(&str, &[u8])> = vec![("var/lib/dpkg/status", status.as_bytes())];
    if let Some(o) = os_release {
        files.push(("etc/os-release", o.as_bytes()));
    }
    let base = common::test_images().join("oci/debian");
    let layer = layout_with_layer(&layout, Some((&base, "bookworm-minbase")), &files);
    (layout, layer, status)
}

#[test]
fn debian_findings_equal_the_records_read_with_dpkg() {
    common::require("dpkg");
    let tmp = tempfile::tempdir().unwrap();
    let data = vulndata().join("debian");
    let db = tmp.path().join("vuln.db");
    ok(wharf(&["db", "import", "osv", data.to_str().unwrap()], &db));
    let (layout, layer, status) = debian_image(tmp.path(), None);
    let changed: Vec<&str> = OLDER.iter().map(|(n, _)| *n).collect();
    let base = common::test_images().join("oci/debian");
    let index: Value =
        serde_json::from_slice(&std::fs::read(base.join("index.json")).unwrap()).unwrap();
    let base_manifest: Value = serde_json::from_slice(&read_blob(
        &base,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    let base_layers = base_manifest["layers"].as_array().unwrap();
    assert_eq!(base_layers.len(), 1, "the debian test image has one layer");
    let base_layer = base_layers[0]["digest"].as_str().unwrap().to_string();

    // the oracle: every Debian:12 entry of every record, for each installed package's
    // source package at its source version
    let installed = dpkg_packages(&status);
    let sources: BTreeSet<&str> = installed.iter().map(|p| p.2.as_str()).collect();
    let mut entries: BTreeMap<String, Vec<(Value, Value)>> = BTreeMap::new();
    let mut files = Vec::new();
    json_files(&data, &mut files);
    for f in files {
        let rec: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        if rec.get("withdrawn").is_some() {
            continue;
        }
        for a in rec["affected"].as_array().into_iter().flatten() {
            let name = a["package"]["name"].as_str().unwrap_or_default();
            if a["package"]["ecosystem"] == "Debian:12" && sources.contains(name) {
                entries
                    .entry(name.to_string())
                    .or_default()
                    .push((rec.clone(), a.clone()));
            }
        }
    }
    let dpkg = Dpkg(RefCell::new(HashMap::new()));
    let cmp = |a: &str, b: &str| dpkg.cmp(a, b);
    let mut expected: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
    for (name, version, src, src_version) in &installed {
        for (rec, entry) in entries.get(src).into_iter().flatten() {
            if let Some(fix) = osv_affected(entry, src_version, &cmp) {
                expected
                    .entry((reported_id(rec), name.clone(), version.clone()))
                    .or_default()
                    .insert(fix);
            }
        }
    }

    let report = scan(&layout, &db, &[]);
    let found = vulns(&report);
    let ours = keys(&found);
    let want: BTreeSet<Key> = expected.keys().cloned().collect();
    assert_same(["Wharf", "oracle"], &ours, &want);
    for f in &found {
        let s = |k: &str| field(f, k);
        let key = key_of(f);
        let fix = s("FixedVersion");
        assert!(
            expected[&key].contains(&fix),
            "{key:?}: fixed {fix:?}, the records say {:?}",
            expected[&key]
        );
        assert_eq!(
            s("Status"),
            if fix.is_empty() { "affected" } else { "fixed" },
            "{key:?}"
        );
        // a package belongs to the layer that installed its version: the added layer for
        // the four whose version it changed, the base image's one layer for the others
        let want_layer = if changed.contains(&key.1.as_str()) {
            layer.as_str()
        } else {
            base_layer.as_str()
        };
        assert_eq!(f["Layer"]["Digest"], want_layer, "{key:?}");
    }
    // the README's known cases are among them, with the DSA beside its CVE
    let glibc = found
        .iter()
        .find(|f| f["VulnerabilityID"] == "CVE-2023-4911" && f["PkgName"] == "libc6")
        .expect("CVE-2023-4911 in libc6 2.36-9+deb12u1");
    assert_eq!(glibc["FixedVersion"], "2.36-9+deb12u3");
    // the DSA has no severity of its own; the CVE record's CVSS vector gives one
    assert_ne!(glibc["Severity"], "UNKNOWN", "{glibc}");
    assert!(
        glibc["VendorIDs"]
            .as_array()
            .is_some_and(|v| v.iter().any(|x| x == "DSA-5514-1")),
        "{glibc}"
    );
    for (id, pkg) in [
        ("CVE-2023-47038", "perl-base"),
        ("CVE-2023-7008", "libsystemd0"),
        ("CVE-2024-28834", "libgnutls30"),
        ("CVE-2023-45853", "zlib1g"),
        ("CVE-2023-50495", "libtinfo6"),
    ] {
        assert!(
            ours.iter().any(|k| k.0 == id && k.1 == pkg),
            "{id} {pkg} missing"
        );
    }

    // --ignore-unfixed keeps exactly the findings the records give a fix for
    let fixed_only = keys(&vulns(&scan(&layout, &db, &["--ignore-unfixed"])));
    let want_fixed: BTreeSet<Key> = found
        .iter()
        .filter(|f| f["FixedVersion"].as_str().is_some_and(|v| !v.is_empty()))
        .map(key_of)
        .collect();
    assert_eq!(fixed_only, want_fixed);
    assert!(fixed_only.len() < ours.len());

    // the real Trivy with Wharf's DB in its format
    let theirs = trivy(&layout, &db);
    assert_same(["Trivy", "Wharf"], &theirs, &ours);
}

#[test]
fn a_release_without_data_warns_and_never_borrows_another() {
    let tmp = tempfile::tempdir().unwrap();
    let data = vulndata().join("debian/DSA");
    let db = tmp.path().join("vuln.db");
    ok(wharf(&["db", "import", "osv", data.to_str().unwrap()], &db));
    // Debian 14 has no advisories in the snapshot (Debian:11/12/13 only)
    let (layout, _, _) = debian_image(
        tmp.path(),
        Some(
            "PRETTY_NAME=\"Debian GNU/Linux 14 (forky)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"14\"\nVERSION_CODENAME=forky\nID=debian\n",
        ),
    );
    let report = scan(&layout, &db, &[]);
    assert!(vulns(&report).is_empty(), "{report}");
    let warnings = report["Warnings"].to_string();
    assert!(
        warnings.contains("no advisories for Debian:14"),
        "{warnings}"
    );
}

/// Versions of one secdb package that `installed` is below, by id. The comparator is
/// Wharf's (see the module doc for why).
fn secdb_expected(secdb: &Value, origin: &str, installed: &str) -> BTreeMap<String, String> {
    use wharf_scanner::inventory::Ecosystem;
    use wharf_scanner::versions;
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut not_affected = BTreeSet::new();
    let pkg = secdb["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pkg"]["name"] == origin)
        .unwrap();
    for (fixed, ids) in pkg["pkg"]["secfixes"].as_object().unwrap() {
        for id in ids.as_array().unwrap() {
            let id = id.as_str().unwrap().split_whitespace().next().unwrap();
            if fixed == "0" {
                not_affected.insert(id.to_string());
                continue;
            }
            let below = versions::compare(Ecosystem::Alpine, installed, fixed)
                == Some(std::cmp::Ordering::Less);
            if below {
                let e = out.entry(id.to_string()).or_insert_with(|| fixed.clone());
                if versions::compare(Ecosystem::Alpine, fixed, e) == Some(std::cmp::Ordering::Less)
                {
                    *e = fixed.clone();
                }
            }
        }
    }
    out.retain(|id, _| !not_affected.contains(id));
    out
}

#[test]
fn alpine_findings_follow_secdb_through_origins() {
    let tmp = tempfile::tempdir().unwrap();
    let file = vulndata().join("alpine/3.19/main.json");
    let secdb: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(secdb["distroversion"], "v3.19");
    let db = tmp.path().join("vuln.db");
    ok(wharf(
        &["db", "import", "alpine-secdb", file.to_str().unwrap()],
        &db,
    ));
    let installed = "\
C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=
P:libcrypto3
V:3.1.4-r0
A:x86_64
o:openssl
L:Apache-2.0

C:Q1BBBBBBBBBBBBBBBBBBBBBBBBBBB=
P:libssl3
V:3.1.4-r0
A:x86_64
o:openssl
L:Apache-2.0

C:Q1CCCCCCCCCCCCCCCCCCCCCCCCCCC=
P:busybox
V:1.36.1-r14
A:x86_64
o:busybox
L:GPL-2.0-only

";
    let os_release =
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n";
    let layout = tmp.path().join("alpine");
    let layer = layout_with_layer(
        &layout,
        None,
        &[
            ("etc/os-release", os_release.as_bytes()),
            ("lib/apk/db/installed", installed.as_bytes()),
        ],
    );
    let mut want: BTreeMap<Key, String> = BTreeMap::new();
    for (pkg, origin, version) in [
        ("libcrypto3", "openssl", "3.1.4-r0"),
        ("libssl3", "openssl", "3.1.4-r0"),
        ("busybox", "busybox", "1.36.1-r14"),
    ] {
        for (id, fixed) in secdb_expected(&secdb, origin, version) {
            want.insert((id, pkg.into(), version.into()), fixed);
        }
    }
    assert!(want.len() > 3, "{want:?}");
    let report = scan(&layout, &db, &[]);
    let found = vulns(&report);
    let ours = keys(&found);
    let want_keys: BTreeSet<Key> = want.keys().cloned().collect();
    assert_same(["Wharf", "oracle"], &ours, &want_keys);
    for f in &found {
        let s = |k: &str| field(f, k);
        let key = key_of(f);
        assert_eq!(s("FixedVersion"), want[&key], "{key:?}");
        assert_eq!(f["Layer"]["Digest"], layer.as_str());
    }

    let theirs = trivy(&layout, &db);
    assert_same(["Trivy", "Wharf"], &theirs, &ours);
}

fn rpmbuild(top: &Path, name: &str, epoch: Option<u32>, version: &str, release: &str) {
    let epoch = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    let spec = format!(
        "Name: {name}\nVersion: {version}\nRelease: {release}\n{epoch}Summary: t\nLicense: MIT\nBuildArch: noarch\n%description\nt\n%files\n"
    );
    std::fs::create_dir_all(top).unwrap();
    let path = top.join(format!("{name}.spec"));
    std::fs::write(&path, spec).unwrap();
    common::run(
        Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg("-bb")
            .arg(&path),
    );
}

/// rpm's own comparison of many pairs in one `rpm --eval` (its Lua `rpm.vercmp`).
fn rpm_vercmp(pairs: &[(String, String)]) -> Vec<i32> {
    let lua: String = pairs
        .iter()
        .map(|(a, b)| format!("print(rpm.vercmp(\"{a}\", \"{b}\") .. \" \")\n"))
        .collect();
    let out = common::run(
        Command::new("rpm")
            .arg("--eval")
            .arg(format!("%{{lua:\n{lua}}}")),
    );
    let r: Vec<i32> = out
        .split_whitespace()
        .map(|x| x.parse::<i32>().unwrap().signum())
        .collect();
    assert_eq!(r.len(), pairs.len());
    r
}

#[test]
fn rpm_findings_equal_the_almalinux_records_read_with_rpm_vercmp() {
    common::require("rpmbuild");
    let tmp = tempfile::tempdir().unwrap();
    let data = vulndata().join("almalinux/advisories/almalinux9");
    let db = tmp.path().join("vuln.db");
    ok(wharf(&["db", "import", "osv", data.to_str().unwrap()], &db));
    let (top, root) = (tmp.path().join("build"), tmp.path().join("root"));
    let pkgs = [
        ("openssl-libs", Some(1), "3.0.7", "25.el9_3"),
        ("libcurl", None, "7.76.1", "26.el9_3.2"),
        ("bash", None, "5.1.8", "4.el9"),
    ];
    for (n, e, v, r) in pkgs {
        rpmbuild(&top, n, e, v, r);
    }
    let rpms: Vec<_> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    common::run(Command::new("rpm").arg("--root").arg(&root).args([
        "--dbpath",
        "/var/lib/rpm",
        "--initdb",
    ]));
    common::run(
        Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .args(["--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--justdb"])
            .args(&rpms),
    );
    let rpmdb = std::fs::read(root.join("var/lib/rpm/rpmdb.sqlite")).unwrap();
    let os_release = "NAME=\"AlmaLinux\"\nID=\"almalinux\"\nVERSION_ID=\"9.3\"\n";
    let layout = tmp.path().join("alma");
    layout_with_layer(
        &layout,
        None,
        &[
            ("etc/os-release", os_release.as_bytes()),
            ("var/lib/rpm/rpmdb.sqlite", &rpmdb),
        ],
    );

    // oracle: every AlmaLinux:9 entry naming an installed package, compared by rpm
    let evr = |e: Option<u32>, v: &str, r: &str| match e {
        Some(e) => format!("{e}:{v}-{r}"),
        None => format!("{v}-{r}"),
    };
    let mut files = Vec::new();
    json_files(&data, &mut files);
    let mut cands: Vec<(Key, Value)> = Vec::new();
    for f in files {
        let rec: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        for a in rec["affected"].as_array().into_iter().flatten() {
            for (n, e, v, r) in pkgs {
                if a["package"]["ecosystem"] == "AlmaLinux:9" && a["package"]["name"] == n {
                    cands.push(((reported_id(&rec), n.into(), evr(e, v, r)), a.clone()));
                }
            }
        }
    }
    // every comparison the oracle may make, answered by rpm in one go
    let mut pairs = Vec::new();
    for ((_, _, installed), a) in &cands {
        for r in a["ranges"].as_array().into_iter().flatten() {
            for e in r["events"].as_array().unwrap() {
                for k in ["introduced", "fixed"] {
                    if let Some(x) = e[k].as_str().filter(|x| *x != "0") {
                        pairs.push((installed.clone(), x.to_string()));
                        pairs.push((x.to_string(), installed.clone()));
                    }
                }
            }
        }
    }
    let answers: HashMap<(String, String), i32> =
        pairs.iter().cloned().zip(rpm_vercmp(&pairs)).collect();
    let cmp = |a: &str, b: &str| {
        if a == b {
            0
        } else {
            answers[&(a.to_string(), b.to_string())]
        }
    };
    let mut want: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
    for (key, a) in &cands {
        if let Some(fix) = osv_affected(a, &key.2, &cmp) {
            want.entry(key.clone()).or_default().insert(fix);
        }
    }
    assert!(!want.is_empty());

    let found = vulns(&scan(&layout, &db, &[]));
    let ours = keys(&found);
    let want_keys: BTreeSet<Key> = want.keys().cloned().collect();
    assert_same(["Wharf", "oracle"], &ours, &want_keys);
    for f in &found {
        let s = |k: &str| field(f, k);
        let key = key_of(f);
        assert!(want[&key].contains(&s("FixedVersion")), "{key:?}");
    }
}
