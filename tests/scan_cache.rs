//! The layer cache through the CLI (`--cache-dir`, `--cache-backend`, `wharf clean
//! --scan-cache`) on the shared test images: warm runs print what cold runs and uncached
//! runs print, and list the packages the real Trivy lists; the memory backend writes
//! nothing; a second image sharing the base layer reads only its own layer.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use common::{require, stdout_ok, test_images};
use serde_json::Value;

fn wharf(env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .env_remove("WHARF_CACHE_DIR")
        .env_remove("WHARF_CACHE_BACKEND")
        .env_remove("XDG_CACHE_HOME")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

fn layout(name: &str) -> String {
    test_images().join("oci").join(name).display().to_string()
}

/// (name, version) of every CycloneDX component with a PURL, nested ones included.
fn name_versions(doc: &Value) -> BTreeSet<(String, String)> {
    fn walk(v: &Value, out: &mut BTreeSet<(String, String)>) {
        for c in v.as_array().into_iter().flatten() {
            if c["purl"].is_string() {
                out.insert((
                    c["name"].as_str().unwrap_or("").into(),
                    c["version"].as_str().unwrap_or("").into(),
                ));
            }
            walk(&c["components"], out);
        }
    }
    let mut out = BTreeSet::new();
    walk(&doc["components"], &mut out);
    out
}

fn trivy_packages(layout: &str, cache: &Path) -> BTreeSet<(String, String)> {
    let out = Command::new("trivy")
        .args([
            "image",
            "--format",
            "cyclonedx",
            "--skip-db-update",
            "--offline-scan",
            "-q",
            "--cache-backend",
            "memory",
            "--cache-dir",
        ])
        .arg(cache)
        .args(["--input", layout])
        .output()
        .unwrap();
    name_versions(&serde_json::from_str(&stdout_ok(&out)).unwrap())
}

/// Layer-cache hits and misses as the debug log tells them.
fn hits_and_misses(o: &Output) -> (usize, usize) {
    let err = String::from_utf8_lossy(&o.stderr);
    (
        err.matches("layer cache hit").count(),
        err.matches("layer cache miss").count(),
    )
}

#[test]
fn warm_runs_print_what_cold_runs_print_and_trivy_lists() {
    require("trivy");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let dir = dir.to_str().unwrap();
    for (name, tag, layers) in [("debian", "bookworm-minbase", 1), ("pyapp", "v1", 2)] {
        let image = format!("oci:{}:{tag}", layout(name));
        let scan = |backend: &str| {
            let o = wharf(
                &[],
                &[
                    "--log-level",
                    "debug",
                    "scan",
                    "--list-packages",
                    "--format",
                    "json",
                    "--cache-backend",
                    backend,
                    "--cache-dir",
                    dir,
                    &image,
                ],
            );
            (stdout_ok(&o), hits_and_misses(&o))
        };
        let (uncached, none) = scan("memory");
        assert_eq!(
            none,
            (0, 0),
            "{name}: the memory backend looked something up"
        );
        let (cold, (cold_hits, cold_misses)) = scan("fs");
        let (warm, (warm_hits, warm_misses)) = scan("fs");
        assert_eq!(cold, uncached, "{name}: cold differs from uncached");
        assert_eq!(warm, uncached, "{name}: warm differs from uncached");
        // pyapp's base layer is the Debian image's, cached by the first image's scan
        let shared = usize::from(name == "pyapp");
        assert_eq!(
            (cold_hits, cold_misses),
            (shared, layers - shared),
            "{name} cold"
        );
        assert_eq!((warm_hits, warm_misses), (layers, 0), "{name} warm");

        // the SBOM of a warm run lists the packages Trivy lists
        let sbom = |backend: &str| -> BTreeSet<(String, String)> {
            let o = wharf(
                &[("SOURCE_DATE_EPOCH", "0")],
                &[
                    "sbom",
                    "--format",
                    "cyclonedx-json",
                    "--cache-backend",
                    backend,
                    "--cache-dir",
                    dir,
                    &image,
                ],
            );
            name_versions(&serde_json::from_str(&stdout_ok(&o)).unwrap())
        };
        // `--list-packages` reads no secrets either: the SBOM shares its entries
        let warm_sbom = sbom("fs");
        let trivy = trivy_packages(&layout(name), &tmp.path().join("trivy"));
        assert!(trivy.len() > 50, "{name}: trivy found only {}", trivy.len());
        assert_eq!(warm_sbom, trivy, "{name}: warm SBOM and Trivy differ");
        assert_eq!(sbom("memory"), warm_sbom);
    }
}

#[test]
fn memory_backend_writes_nothing_and_fs_uses_the_xdg_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let xdg_env = xdg.to_str().unwrap();
    let image = format!("oci:{}:bookworm-minbase", layout("debian"));
    let list = [
        "scan",
        "--list-packages",
        "--format",
        "json",
        image.as_str(),
    ];
    stdout_ok(&wharf(
        &[
            ("XDG_CACHE_HOME", xdg_env),
            ("WHARF_CACHE_BACKEND", "memory"),
        ],
        &list,
    ));
    let explicit = tmp.path().join("explicit");
    let mut args = vec!["scan", "--cache-backend", "memory", "--cache-dir"];
    args.push(explicit.to_str().unwrap());
    args.extend(&list[1..]);
    stdout_ok(&wharf(&[("XDG_CACHE_HOME", xdg_env)], &args));
    assert!(!xdg.exists(), "memory backend created {}", xdg.display());
    assert!(
        !explicit.exists(),
        "memory backend created {}",
        explicit.display()
    );

    // the default backend: $XDG_CACHE_HOME/wharf/layers
    stdout_ok(&wharf(&[("XDG_CACHE_HOME", xdg_env)], &list));
    let layers = xdg.join("wharf/layers");
    assert_eq!(std::fs::read_dir(&layers).unwrap().count(), 1);

    // and `wharf clean --scan-cache` empties it
    let o = wharf(&[("XDG_CACHE_HOME", xdg_env)], &["clean", "--scan-cache"]);
    stdout_ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1 layers"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!layers.exists());
    // a cache directory it cannot create is a warning, not a failed scan
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let o = wharf(&[("WHARF_CACHE_DIR", file.to_str().unwrap())], &list);
    stdout_ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("layer cache"));
}
