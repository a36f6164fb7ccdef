//! Documents for the shared test images: valid per the official SPDX 2.3 and CycloneDX 1.6
//! JSON schemas and the reference validators (pyspdxtools, cyclonedx-python-lib), complete with respect to
//! the scanner's inventory, and byte-identical on reruns.

#[path = "../../scanner/tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use wharf_sbom::{Format, Options, read};
use wharf_scanner::image::LoadOptions;
use wharf_scanner::report::ScanReport;

const IMAGES: &[(&str, &str)] = &[
    ("small", "v1"),
    ("multi", "v1"),
    ("debian", "bookworm-minbase"),
    ("pyapp", "v1"),
];

fn schemas() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

fn load_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn cyclonedx_validator() -> jsonschema::Validator {
    let s = schemas();
    let mut builder = jsonschema::Registry::new();
    for f in ["spdx.schema.json", "jsf-0.82.schema.json"] {
        let v = load_json(&s.join(f));
        let id = v["$id"].as_str().unwrap().to_string();
        builder = builder.add(id, v).unwrap();
    }
    let registry: &'static _ = Box::leak(Box::new(builder.prepare().unwrap()));
    jsonschema::options()
        .with_registry(registry)
        .build(&load_json(&s.join("bom-1.6.schema.json")))
        .expect("CycloneDX 1.6 schema compiles")
}

fn spdx_validator() -> jsonschema::Validator {
    jsonschema::validator_for(&load_json(&schemas().join("spdx-2.3.schema.json")))
        .expect("SPDX 2.3 schema compiles")
}

fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn report(name: &str, tag: &str) -> ScanReport {
    wharf_scanner::inventory(&common::image(name, tag), &LoadOptions::default()).unwrap()
}

fn render(r: &ScanReport, f: Format) -> Vec<u8> {
    wharf_sbom::generate(
        r,
        f,
        &Options {
            created: Some(1_700_000_000),
        },
    )
    .unwrap()
}

/// Runs a reference validator; a missing tool is a failure with instructions.
fn run_validator(cmd: &mut Command, what: &str, file: &Path) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what} not runnable ({e}): run scripts/test.sh, which pip-installs it")
    });
    assert_ne!(
        out.status.code(),
        Some(2).filter(|_| what.contains("cyclonedx")),
        "{what} missing: pip install 'cyclonedx-python-lib[json-validation]' (scripts/test.sh does)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} rejects {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn documents_validate_against_official_schema_and_reference_validators() {
    common::require("pyspdxtools");
    let validator = cyclonedx_validator();
    let spdx_schema = spdx_validator();
    let tmp = tempfile::tempdir().unwrap();
    for (name, tag) in IMAGES {
        let r = report(name, tag);
        let cdx = render(&r, Format::CycloneDxJson);
        let doc: Value = serde_json::from_slice(&cdx).unwrap();
        let errors = schema_errors(&validator, &doc);
        assert!(
            errors.is_empty(),
            "{name}: CycloneDX schema errors: {errors:#?}"
        );
        assert_eq!(doc["specVersion"], "1.6");
        assert_eq!(
            doc["$schema"],
            "http://cyclonedx.org/schema/bom-1.6.schema.json"
        );

        let cdx_file = tmp.path().join(format!("{name}.cdx.json"));
        std::fs::write(&cdx_file, &cdx).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/validate_cyclonedx.py");
        run_validator(
            Command::new("python3").arg(&script).arg(&cdx_file),
            "cyclonedx-python-lib validator",
            &cdx_file,
        );

        let spdx = render(&r, Format::SpdxJson);
        let doc: Value = serde_json::from_slice(&spdx).unwrap();
        let errors = schema_errors(&spdx_schema, &doc);
        assert!(
            errors.is_empty(),
            "{name}: SPDX 2.3 schema errors: {errors:#?}"
        );
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        // The schema is live: a package without its required name is caught.
        let mut broken = doc.clone();
        broken["packages"][0]
            .as_object_mut()
            .unwrap()
            .remove("name");
        assert!(
            !schema_errors(&spdx_schema, &broken).is_empty(),
            "{name}: schema missed a nameless package"
        );
        let spdx_file = tmp.path().join(format!("{name}.spdx.json"));
        std::fs::write(&spdx_file, &spdx).unwrap();
        run_validator(
            Command::new("pyspdxtools").arg("-i").arg(&spdx_file),
            "pyspdxtools",
            &spdx_file,
        );
    }
}

type Key = (String, String, String);

fn keys(inv: &wharf_scanner::inventory::Inventory) -> BTreeSet<Key> {
    inv.packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone(), p.purl.clone()))
        .collect()
}

type Meta = BTreeSet<(String, Option<String>, Vec<(String, String)>)>;

fn metadata(inv: &wharf_scanner::inventory::Inventory) -> Meta {
    inv.packages
        .iter()
        .map(|p| {
            let sums = p
                .checksums
                .iter()
                .map(|c| (c.algorithm.spdx_name().to_string(), c.value.clone()));
            (p.purl.clone(), p.supplier.clone(), sums.collect())
        })
        .collect()
}

#[test]
fn documents_contain_every_inventory_package_with_its_origin() {
    for (name, tag) in [("debian", "bookworm-minbase"), ("pyapp", "v1")] {
        let r = report(name, tag);
        let want = keys(&r.inventory);
        assert!(want.len() > 50, "{name}: {} packages", want.len());
        for f in [Format::SpdxJson, Format::CycloneDxJson] {
            let (fmt, doc) = read::parse_bytes(&render(&r, f)).unwrap();
            assert_eq!(fmt, f);
            let inv = read::to_inventory(fmt, &doc).unwrap();
            assert_eq!(keys(&inv), want, "{name} {f:?}");
            // Suppliers (maintainers, authors) and checksums survive the document.
            assert_eq!(metadata(&inv), metadata(&r.inventory), "{name} {f:?}");
            assert_eq!(
                inv.distro.as_ref().map(|d| (&d.id, &d.version_id)),
                r.inventory.distro.as_ref().map(|d| (&d.id, &d.version_id))
            );
        }
        // CycloneDX keeps file and layer per package.
        let (_, doc) = read::parse_bytes(&render(&r, Format::CycloneDxJson)).unwrap();
        let inv = read::to_inventory(Format::CycloneDxJson, &doc).unwrap();
        let origin = |i: &wharf_scanner::inventory::Inventory| -> BTreeSet<(String, String, Option<String>)> {
            i.packages.iter().map(|p| (p.purl.clone(), p.path.clone(), p.layer.clone())).collect()
        };
        assert_eq!(origin(&inv), origin(&r.inventory));
        // The root component is the image, by manifest digest.
        let digest = r.manifest_digest.clone().unwrap();
        assert_eq!(doc["metadata"]["component"]["version"], digest.as_str());
        assert_eq!(
            doc["metadata"]["component"]["hashes"][0]["content"],
            digest.strip_prefix("sha256:").unwrap()
        );
        // SPDX: DESCRIBES the image, which CONTAINS every package.
        let (_, spdx) = read::parse_bytes(&render(&r, Format::SpdxJson)).unwrap();
        let rels = spdx["relationships"].as_array().unwrap();
        assert!(
            rels.iter().any(|x| x["relationshipType"] == "DESCRIBES"
                && x["relatedSpdxElement"] == "SPDXRef-Image")
        );
        let contains = rels
            .iter()
            .filter(|x| x["relationshipType"] == "CONTAINS")
            .count();
        let pkgs = spdx["packages"].as_array().unwrap().len();
        assert_eq!(
            contains,
            pkgs - 1,
            "every package but the image is contained"
        );
        // Every declared license becomes a strict SPDX expression.
        for p in spdx["packages"].as_array().unwrap() {
            let l = p["licenseDeclared"].as_str().unwrap();
            if l != "NOASSERTION" {
                spdx::Expression::parse(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
            }
        }
        let with_licenses = r
            .inventory
            .packages
            .iter()
            .filter(|p| !p.licenses.is_empty())
            .count();
        let declared = spdx["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["licenseDeclared"] != "NOASSERTION")
            .count();
        assert_eq!(
            declared, with_licenses,
            "{name}: one declared expression per licensed package"
        );
    }
}

#[test]
fn output_is_byte_identical_and_timestamp_follows_source_date_epoch() {
    let r = report("pyapp", "v1");
    for f in [Format::SpdxJson, Format::CycloneDxJson] {
        let a = render(&r, f);
        let r2 = report("pyapp", "v1");
        assert_eq!(a, render(&r2, f), "{f:?} differs between runs");
        let later = wharf_sbom::generate(
            &r,
            f,
            &Options {
                created: Some(1_700_000_060),
            },
        )
        .unwrap();
        let (a, later) = (
            String::from_utf8(a).unwrap(),
            String::from_utf8(later).unwrap(),
        );
        assert!(a.contains("2023-11-14T22:13:20Z") && later.contains("2023-11-14T22:14:20Z"));
        let diff = a.lines().zip(later.lines()).filter(|(x, y)| x != y).count();
        assert_eq!(diff, 1, "only the timestamp changes");
    }
}

#[test]
fn malformed_and_huge_documents_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.json");
    std::fs::write(&big, vec![b' '; 2048]).unwrap();
    let e = read::read_file(&big, 1024).unwrap_err().to_string();
    assert!(e.contains("limit"), "{e}");
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, b"{\"bomFormat\": \"CycloneDX\", \"components\": [").unwrap();
    let e = read::read_file(&bad, 1024).unwrap_err().to_string();
    assert!(e.contains("not JSON"), "{e}");
    std::fs::write(&bad, b"{\"hello\": 1}").unwrap();
    let e = read::read_file(&bad, 1024).unwrap_err().to_string();
    assert!(e.contains("neither SPDX"), "{e}");
}

/// A rootfs with package metadata that records checksums and authors: Cargo.lock,
/// npm's package-lock.json and installed package.json, Python core metadata.
#[test]
fn checksums_and_suppliers_come_from_package_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let crate_sum = "d8b3a5f7f2b8a7e9c6bde9f5c2e1f9c3a6e2d4b1c5f7a9e3d2c1b0a9f8e7d6c5";
    write(
        "app/Cargo.lock",
        &format!(
            "version = 3\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.13.2\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{crate_sum}\"\n"
        ),
    );
    let integrity = "sha512-PlhdFcillOINfeV7Ni6oF1TAEayyZBoZ8bcshTHqOYJYlrqzRK5hagpagky5o4HfCzzd1TRkXPMFq6cKk9rGmA==";
    write(
        "web/package-lock.json",
        &format!(
            r#"{{"name":"web","lockfileVersion":3,"packages":{{"":{{"name":"web"}},"node_modules/lodash":{{"version":"4.17.20","integrity":"{integrity}"}}}}}}"#
        ),
    );
    write(
        "web/node_modules/lodash/package.json",
        r#"{"name":"lodash","version":"4.17.20","license":"MIT","author":"John-David Dalton <john.david.dalton@gmail.com>"}"#,
    );
    write(
        "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nAuthor: Kenneth Reitz\nAuthor-email: me@kennethreitz.org\nLicense: Apache 2.0\n\nbody\n",
    );
    let r = wharf_scanner::inventory(&format!("dir:{}", root.display()), &LoadOptions::default())
        .unwrap();
    let by_name = |n: &str| {
        r.inventory
            .packages
            .iter()
            .find(|p| p.name == n)
            .unwrap_or_else(|| panic!("{n} not found"))
    };
    assert_eq!(by_name("smallvec").checksums[0].value, crate_sum);
    let lodash = by_name("lodash");
    assert_eq!(
        lodash.checksums.len(),
        1,
        "lockfile and installed package are one package"
    );
    assert_eq!(lodash.checksums[0].algorithm.spdx_name(), "SHA512");
    assert_eq!(
        lodash.supplier.as_deref(),
        Some("John-David Dalton <john.david.dalton@gmail.com>")
    );
    assert_eq!(
        by_name("requests").supplier.as_deref(),
        Some("Kenneth Reitz <me@kennethreitz.org>")
    );

    let spdx_bytes = render(&r, Format::SpdxJson);
    let spdx: Value = serde_json::from_slice(&spdx_bytes).unwrap();
    let errors = schema_errors(&spdx_validator(), &spdx);
    assert!(errors.is_empty(), "SPDX 2.3 schema errors: {errors:#?}");
    let pkg = |n: &str| {
        spdx["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(
        pkg("smallvec")["checksums"],
        serde_json::json!([{"algorithm": "SHA256", "checksumValue": crate_sum}])
    );
    assert_eq!(
        pkg("lodash")["supplier"],
        "Person: John-David Dalton (john.david.dalton@gmail.com)"
    );
    assert_eq!(
        pkg("requests")["originator"],
        "Person: Kenneth Reitz (me@kennethreitz.org)"
    );

    let cdx_bytes = render(&r, Format::CycloneDxJson);
    let cdx: Value = serde_json::from_slice(&cdx_bytes).unwrap();
    let errors = schema_errors(&cyclonedx_validator(), &cdx);
    assert!(errors.is_empty(), "CycloneDX schema errors: {errors:#?}");
    let comp = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "lodash")
        .unwrap();
    assert_eq!(comp["hashes"][0]["alg"], "SHA-512");
    assert_eq!(
        comp["supplier"]["contact"][0]["email"],
        "john.david.dalton@gmail.com"
    );

    // Both documents read back to the same suppliers and checksums.
    for bytes in [&spdx_bytes, &cdx_bytes] {
        let (fmt, doc) = read::parse_bytes(bytes).unwrap();
        let inv = read::to_inventory(fmt, &doc).unwrap();
        assert_eq!(metadata(&inv), metadata(&r.inventory), "{fmt:?}");
    }

    // The reference validators accept the new fields too.
    common::require("pyspdxtools");
    let spdx_file = tmp.path().join("meta.spdx.json");
    std::fs::write(&spdx_file, &spdx_bytes).unwrap();
    run_validator(
        Command::new("pyspdxtools").arg("-i").arg(&spdx_file),
        "pyspdxtools",
        &spdx_file,
    );
    let cdx_file = tmp.path().join("meta.cdx.json");
    std::fs::write(&cdx_file, &cdx_bytes).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/validate_cyclonedx.py");
    run_validator(
        Command::new("python3").arg(&script).arg(&cdx_file),
        "cyclonedx-python-lib validator",
        &cdx_file,
    );
}
