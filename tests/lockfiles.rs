//! Lock files of the languages added for Trivy parity (.NET, Conan, Dart, Swift, CocoaPods,
//! yarn, pnpm, bun, conda), real files from public repositories or made by the real package
//! managers (`tests/fixtures/lockfiles/README.md`): Wharf's package list must equal the real
//! Trivy's (`trivy fs`, or `trivy rootfs` for what Trivy reads only in images, CycloneDX
//! purls) on the same files, except where Trivy is known to leave packages out (each such
//! case tested on its own, the missing packages named from another source).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    common::repo_root().join("tests/fixtures/lockfiles")
}

fn purls_of_cyclonedx(doc: &serde_json::Value) -> BTreeSet<String> {
    doc["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["purl"].as_str())
        .map(String::from)
        .collect()
}

/// Node lock files, one directory at a time (several pin the same packages, so a reader
/// that read nothing from one of them would be hidden in a comparison of all at once),
/// with the fewest packages Trivy must find in each. The `-dev` ones have development
/// dependencies (left out) and peer dependencies (keyed with suffixes).
const NODE_LOCKS: [(&str, usize); 6] = [
    ("yarn-v1", 70),
    ("yarn-berry", 70),
    ("pnpm-v6", 70),
    ("pnpm-v9", 70),
    ("pnpm-v6-dev", 4),
    ("pnpm-v9-dev", 4),
];

/// Directories compared on their own below, not with `trivy fs` over the whole tree.
const APART: [&str; 5] = ["elixir", "bun", "bun-dev", "conda", "conda-base"];

#[test]
fn lock_files_give_the_packages_trivy_reads() {
    common::require("trivy");
    let tmp = tempfile::tempdir().unwrap();
    // Trivy reads no package from this mix.lock (Hex's older six-field entries); it is
    // checked on its own below.
    let dir = tmp.path().join("tree");
    common::run(Command::new("cp").arg("-a").arg(fixtures()).arg(&dir));
    for apart in APART {
        std::fs::remove_dir_all(dir.join(apart)).unwrap();
    }
    for (node, _) in NODE_LOCKS {
        std::fs::remove_dir_all(dir.join(node)).unwrap();
    }
    assert_same_packages_as_trivy(tmp.path(), &dir, 20);
}

#[test]
fn yarn_and_pnpm_lock_files_give_the_packages_trivy_reads() {
    common::require("trivy");
    let tmp = tempfile::tempdir().unwrap();
    for (node, min) in NODE_LOCKS {
        assert_same_packages_as_trivy(tmp.path(), &fixtures().join(node), min);
    }
}

/// `trivy fs` and `wharf scan dir:` list the same purls for `dir`, at least `min` of them.
fn assert_same_packages_as_trivy(tmp: &std::path::Path, dir: &std::path::Path, min: usize) {
    let want = trivy_purls(tmp, "fs", dir);
    assert!(want.len() > min, "Trivy read {}: {want:?}", dir.display());
    assert_eq!(
        wharf_purls(dir),
        want,
        "{}: Wharf (left) vs Trivy (right)",
        dir.display()
    );
}

/// The purls of Trivy's CycloneDX SBOM of `dir` (`mode`: `fs`, or `rootfs` to read it as an
/// image's file system).
fn trivy_purls(tmp: &std::path::Path, mode: &str, dir: &std::path::Path) -> BTreeSet<String> {
    let out = Command::new("trivy")
        .args([mode, "--quiet", "--format", "cyclonedx", "--cache-dir"])
        .arg(tmp.join("cache"))
        .arg(dir)
        .output()
        .unwrap();
    let trivy: serde_json::Value = serde_json::from_str(&common::stdout_ok(&out)).unwrap();
    purls_of_cyclonedx(&trivy)
}

/// The purls `wharf scan --list-packages` lists for `dir:`.
fn wharf_purls(dir: &std::path::Path) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["scan", "--list-packages", "--format", "json"])
        .arg(format!("dir:{}", dir.display()))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&common::stdout_ok(&out)).unwrap();
    let got: BTreeSet<String> = report["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Packages"].as_array().unwrap())
        .map(|p| p["Identifier"]["PURL"].as_str().unwrap().to_string())
        .collect();
    got
}

/// Trivy reports each Node lock file as an application of its own, typed by its package
/// manager (`yarn`, `pnpm`, `bun`; `npm` for package-lock.json) and named by the lock file's
/// path, with that file's packages. Wharf's JSON report must group them the same way: the
/// same (Target, Type) pairs, and the same packages under each (bun's nested packages
/// aside: `bun_lock_gives_what_bun_installs`).
#[test]
fn node_lock_files_are_reported_as_trivy_types_them() {
    common::require("trivy");
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let dirs = NODE_LOCKS
        .map(|(d, _)| d)
        .into_iter()
        .chain(["bun", "bun-dev"]);
    for d in dirs {
        common::run(
            Command::new("cp")
                .arg("-a")
                .arg(fixtures().join(d))
                .arg(&tree),
        );
    }
    // Trivy's JSON report needs a vulnerability DB: Wharf's, exported (one advisory).
    let db = tmp.path().join("vuln.db");
    let advisory = common::shared_dir().join("vulndata/rustsec/crates/RUSTSEC-2019-0001.json");
    assert!(advisory.is_file(), "missing {}", advisory.display());
    common::stdout_ok(&common::wharf_db(
        &["db", "import", "osv", advisory.to_str().unwrap()],
        &db,
    ));
    let cache = tmp.path().join("cache");
    common::stdout_ok(&common::wharf_db(
        &["db", "export", "trivy", cache.join("db").to_str().unwrap()],
        &db,
    ));
    let out = Command::new("trivy")
        .args(["fs", "--quiet", "--format", "json", "--list-all-pkgs"])
        .args([
            "--scanners",
            "vuln",
            "--skip-db-update",
            "--cache-backend",
            "memory",
        ])
        .arg("--cache-dir")
        .arg(&cache)
        .arg(&tree)
        .output()
        .unwrap();
    let trivy = node_groups(&serde_json::from_str(&common::stdout_ok(&out)).unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["scan", "--list-packages", "--format", "json"])
        .arg(format!("dir:{}", tree.display()))
        .output()
        .unwrap();
    let wharf = node_groups(&serde_json::from_str(&common::stdout_ok(&out)).unwrap());
    assert_eq!(
        wharf.keys().collect::<Vec<_>>(),
        trivy.keys().collect::<Vec<_>>(),
        "(Target, Type): Wharf (left) vs Trivy (right)"
    );
    assert_eq!(trivy.len(), 8, "{:?}", trivy.keys());
    for (key, want) in &trivy {
        if key.1 == "bun" {
            continue;
        }
        assert_eq!(&wharf[key], want, "{key:?}: Wharf (left) vs Trivy (right)");
    }
}

/// (Target, Type) → purls of a Trivy-shaped JSON report's Node results.
fn node_groups(
    report: &serde_json::Value,
) -> std::collections::BTreeMap<(String, String), BTreeSet<String>> {
    report["Results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            ["npm", "yarn", "pnpm", "bun", "node-pkg"].contains(&r["Type"].as_str().unwrap())
        })
        .map(|r| {
            let purls = r["Packages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["Identifier"]["PURL"].as_str().unwrap().to_string())
                .collect();
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            ((s("Target"), s("Type")), purls)
        })
        .collect()
}

/// bun.lock files made by bun 1.4.4: `bun` from the same package.json as the yarn and pnpm
/// fixtures, `bun-dev` with development, optional and peer dependencies. Each has a nested
/// package (a key like `send/ms`: installed under send's own node_modules beside a
/// top-level `ms` of another version). Trivy looks dependencies up by the top-level key
/// only and leaves nested packages out; `bun install --production` of each fixture's
/// package.json installed exactly Trivy's packages plus these (75 and 8 packages), which
/// are therefore what Wharf must list.
#[test]
fn bun_lock_gives_what_bun_installs() {
    common::require("trivy");
    let tmp = tempfile::tempdir().unwrap();
    // (fixture, packages Trivy lists, nested packages bun installs besides)
    let cases = [
        ("bun", 74, "pkg:npm/ms@2.1.3"),
        ("bun-dev", 7, "pkg:npm/ms@2.1.2"),
    ];
    for (name, trivy_count, nested) in cases {
        let dir = fixtures().join(name);
        let trivy = trivy_purls(tmp.path(), "fs", &dir);
        assert_eq!(trivy.len(), trivy_count, "Trivy read {name}: {trivy:?}");
        assert!(!trivy.contains(nested), "{name}: Trivy now lists {nested}");
        // Development-only packages are left out by both.
        assert!(
            !trivy
                .iter()
                .any(|p| p.contains("left-pad") || p.contains("is-number"))
        );
        let mut want = trivy;
        want.insert(nested.into());
        assert_eq!(
            wharf_purls(&dir),
            want,
            "{name}: Wharf (left) vs bun (right)"
        );
    }
}

/// conda-meta records written by a conda installer (rattler): in an `envs/<env>/`
/// environment Trivy reads them in images (`trivy rootfs`, not `trivy fs`), and Wharf lists
/// the same purls; in the base environment (`/opt/conda/conda-meta`, where a miniconda
/// image keeps its packages) Trivy reads none, and Wharf lists each record, named by its
/// file (`<name>-<version>-<build>.json`, conda's own naming).
#[test]
fn conda_meta_records_are_read() {
    common::require("trivy");
    let tmp = tempfile::tempdir().unwrap();
    let env = fixtures().join("conda");
    let want = trivy_purls(tmp.path(), "rootfs", &env);
    assert_eq!(want.len(), 3, "Trivy read: {want:?}");
    assert_eq!(wharf_purls(&env), want, "Wharf (left) vs Trivy (right)");

    let base = fixtures().join("conda-base");
    assert_eq!(trivy_purls(tmp.path(), "rootfs", &base), BTreeSet::new());
    let meta = base.join("opt/conda/conda-meta");
    let from_file_names: BTreeSet<String> = std::fs::read_dir(&meta)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|f| {
            let stem = f.strip_suffix(".json")?;
            let mut parts = stem.rsplitn(3, '-');
            let (_build, version, name) = (parts.next()?, parts.next()?, parts.next()?);
            Some(format!("pkg:conda/{name}@{version}"))
        })
        .collect();
    assert_eq!(from_file_names.len(), 2);
    assert_eq!(wharf_purls(&base), from_file_names);

    // The records' licences and archive digests reach the package list.
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["scan", "--list-packages", "--format", "json"])
        .arg(format!("dir:{}", env.display()))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&common::stdout_ok(&out)).unwrap();
    let zlib = report["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Packages"].as_array().unwrap())
        .find(|p| p["Name"] == "zlib")
        .unwrap()
        .clone();
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.join("opt/conda/envs/app/conda-meta/zlib-1.3.1-hb9d3cd8_2.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(zlib["Licenses"][0], record["license"]);

    // In the SBOM: the purl, the licence and the archive's SHA-256 as the record gives them.
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["sbom", "--format", "cyclonedx-json"])
        .arg(format!("dir:{}", env.display()))
        .output()
        .unwrap();
    let bom: serde_json::Value = serde_json::from_str(&common::stdout_ok(&out)).unwrap();
    let zlib = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "zlib")
        .unwrap();
    assert_eq!(zlib["purl"], "pkg:conda/zlib@1.3.1");
    assert_eq!(zlib["licenses"][0]["expression"], record["license"]);
    assert_eq!(zlib["hashes"][0]["alg"], "SHA-256");
    assert_eq!(zlib["hashes"][0]["content"], record["sha256"]);
}

#[test]
fn an_older_mix_lock_is_read() {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["scan", "--list-packages", "--format", "json"])
        .arg(format!("dir:{}", fixtures().join("elixir").display()))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&common::stdout_ok(&out)).unwrap();
    let purls: Vec<&str> = report["Results"][0]["Packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Identifier"]["PURL"].as_str().unwrap())
        .collect();
    // the file's one entry: `"telemetry": {:hex, :telemetry, "0.1.0", …}`
    assert_eq!(purls, ["pkg:hex/telemetry@0.1.0"]);
}

/// The same files in an image: one uncompressed layer (made by the system's `tar`) of an
/// OCI layout gives the packages `dir:` gives, each attributed to that layer.
#[test]
fn the_new_lock_files_are_read_in_images() {
    use sha2::{Digest, Sha256};
    let tmp = tempfile::tempdir().unwrap();
    let dirs = [
        "bun-dev",
        "conda",
        "conda-base",
        "conda-env",
        "nuget-config",
    ];
    let tree = tmp.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    for d in dirs {
        common::run(
            Command::new("cp")
                .arg("-a")
                .arg(fixtures().join(d))
                .arg(&tree),
        );
    }
    let layer = tmp.path().join("layer.tar");
    common::run(
        Command::new("tar")
            .arg("-cf")
            .arg(&layer)
            .arg("-C")
            .arg(&tree)
            .args(dirs),
    );
    let layout = tmp.path().join("oci");
    let blob = |data: &[u8]| {
        let hex = hex::encode(Sha256::digest(data));
        std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
        std::fs::write(layout.join("blobs/sha256").join(&hex), data).unwrap();
        (format!("sha256:{hex}"), data.len())
    };
    let (layer_digest, layer_size) = blob(&std::fs::read(&layer).unwrap());
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]}})
    .to_string();
    let (config_digest, config_size) = blob(config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest, "size": layer_size}]
    })
    .to_string();
    let (manifest_digest, manifest_size) = blob(manifest.as_bytes());
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        layout.join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "v1"}}]})
        .to_string(),
    )
    .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["scan", "--list-packages", "--format", "json"])
        .arg(format!("oci:{}:v1", layout.display()))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&common::stdout_ok(&out)).unwrap();
    let packages: Vec<&serde_json::Value> = report["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Packages"].as_array().unwrap())
        .collect();
    let got: BTreeSet<String> = packages
        .iter()
        .map(|p| p["Identifier"]["PURL"].as_str().unwrap().to_string())
        .collect();
    let want = wharf_purls(&tree);
    assert!(want.len() > 35, "{want:?}");
    for prefix in ["pkg:npm/", "pkg:conda/", "pkg:nuget/"] {
        assert!(
            want.iter().any(|p| p.starts_with(prefix)),
            "{prefix}: {want:?}"
        );
    }
    assert_eq!(got, want, "image (left) vs dir: (right)");
    for p in packages {
        assert_eq!(p["Layer"]["Digest"], layer_digest.as_str(), "{p}");
    }
}
