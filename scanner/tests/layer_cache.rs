//! The layer cache on the shared test images: a warm scan gives the report a cold one
//! gives (and one without a cache), byte for byte; a damaged entry is read around, never
//! believed; and a layer another image brought into the cache is not read again — shown
//! by scanning an image whose shared base blob has been removed from its layout.

mod common;

use std::path::Path;
use std::sync::Arc;

use wharf_scanner::image::LoadOptions;
use wharf_scanner::image::cache::{DEFAULT_MAX_BYTES, LayerCache, Stats};
use wharf_scanner::report;

const DEBIAN: (&str, &str) = ("debian", "bookworm-minbase");
const PYAPP: (&str, &str) = ("pyapp", "v1");

fn opts(cache: Option<&Arc<LayerCache>>) -> LoadOptions {
    LoadOptions {
        secrets: true,
        cache: cache.cloned(),
        ..Default::default()
    }
}

/// The full JSON report (inventory, layers, secrets, warnings) of `reference`.
fn report_json(reference: &str, cache: Option<&Arc<LayerCache>>) -> String {
    let r = wharf_scanner::inventory(reference, &opts(cache)).unwrap();
    assert!(
        r.inventory.packages.len() > 50,
        "{reference}: too few packages"
    );
    report::to_json(&r)
}

fn layers_of(layout: &Path) -> usize {
    let manifest_digest = {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
        index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let hex = manifest_digest.strip_prefix("sha256:").unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap())
            .unwrap();
    manifest["layers"].as_array().unwrap().len()
}

#[test]
fn warm_reports_equal_cold_ones_and_read_no_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = Arc::new(LayerCache::open(tmp.path(), DEFAULT_MAX_BYTES).unwrap());
    for (name, tag) in [DEBIAN, PYAPP] {
        let reference = common::image(name, tag);
        let layers = layers_of(&common::images().join("oci").join(name)) as u64;
        let uncached = report_json(&reference, None);
        let before = cache.stats();
        let cold = report_json(&reference, Some(&cache));
        let after_cold = cache.stats();
        let warm = report_json(&reference, Some(&cache));
        let after_warm = cache.stats();
        assert_eq!(cold, uncached, "{name}: a cold cached scan differs");
        assert_eq!(warm, uncached, "{name}: a warm scan differs");
        // pyapp's base layer is the Debian image's: already a hit on its cold scan
        let shared = u64::from(name == "pyapp");
        assert_eq!(
            after_cold.hits - before.hits,
            shared,
            "{name}: cold scan hits"
        );
        assert_eq!(after_cold.stored - before.stored, layers - shared);
        assert_eq!(
            after_warm.hits - after_cold.hits,
            layers,
            "{name}: every layer from the cache"
        );
        assert_eq!(after_warm.misses, after_cold.misses, "{name}: no miss warm");
    }
}

/// Copies an OCI layout (hard links would share the blobs we are about to remove).
fn copy_layout(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("blobs/sha256")).unwrap();
    for f in ["index.json", "oci-layout"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    for e in std::fs::read_dir(from.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join("blobs/sha256").join(e.file_name())).unwrap();
    }
}

#[test]
fn a_shared_base_layer_is_not_read_again() {
    let images = common::images().join("oci");
    let debian_blobs: Vec<_> = std::fs::read_dir(images.join("debian/blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("pyapp");
    copy_layout(&images.join("pyapp"), &layout);
    // the blobs pyapp shares with Debian: its base layer (51 MB) among them
    let mut removed = 0;
    for b in &debian_blobs {
        let p = layout.join("blobs/sha256").join(b);
        if p.exists() && std::fs::metadata(&p).unwrap().len() > 1 << 20 {
            std::fs::remove_file(p).unwrap();
            removed += 1;
        }
    }
    assert_eq!(
        removed, 1,
        "pyapp shares exactly its base layer with debian"
    );
    let reference = format!("oci:{}:{}", layout.display(), PYAPP.1);

    // Without the cache the base layer is missing, and so are its packages.
    let missing = wharf_scanner::inventory(&reference, &opts(None)).unwrap();
    assert!(
        missing
            .warnings
            .messages
            .iter()
            .any(|w| w.contains("missing blob")),
        "{:?}",
        missing.warnings
    );

    let cache = Arc::new(LayerCache::open(tmp.path().join("cache"), DEFAULT_MAX_BYTES).unwrap());
    report_json(&common::image(DEBIAN.0, DEBIAN.1), Some(&cache));
    let before = cache.stats();
    let mut got = wharf_scanner::inventory(&reference, &opts(Some(&cache))).unwrap();
    let after = cache.stats();
    let mut want = wharf_scanner::inventory(&common::image(PYAPP.0, PYAPP.1), &opts(None)).unwrap();
    got.artifact = String::new();
    want.artifact = String::new();
    assert_eq!(report::to_json(&got), report::to_json(&want));
    assert_eq!(
        after,
        Stats {
            hits: before.hits + 1,
            misses: before.misses + 1,
            stored: before.stored + 1
        },
        "the base layer from the cache, pyapp's own layer read"
    );
}

#[test]
fn damaged_entries_are_read_around() {
    let reference = common::image(DEBIAN.0, DEBIAN.1);
    let want = report_json(&reference, None);
    let tmp = tempfile::tempdir().unwrap();
    let cache = Arc::new(LayerCache::open(tmp.path(), DEFAULT_MAX_BYTES).unwrap());
    report_json(&reference, Some(&cache));
    let entry = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .expect("an entry");
    let intact = std::fs::read(&entry).unwrap();
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", intact[..intact.len() / 2].to_vec()),
        ("header only", intact[..48].to_vec()),
        ("empty", Vec::new()),
        ("one bit flipped in the payload", {
            let mut d = intact.clone();
            let mid = d.len() / 2;
            d[mid] ^= 0x10;
            d
        }),
        ("longer than it says", {
            let mut d = intact.clone();
            d.extend_from_slice(b"trailing");
            d
        }),
    ];
    for (what, bytes) in damaged {
        std::fs::write(&entry, &bytes).unwrap();
        let before = cache.stats();
        let got = report_json(&reference, Some(&cache));
        let after = cache.stats();
        assert_eq!(got, want, "{what}: a different report");
        assert_eq!(after.hits, before.hits, "{what}: taken as a hit");
        assert_eq!(after.stored, before.stored + 1, "{what}: not rewritten");
        assert_eq!(
            std::fs::read(&entry).unwrap(),
            intact,
            "{what}: rewritten differently"
        );
    }
}

/// Eviction order is the unit tests' (`image::cache`); here: an entry too large for its
/// share of the bound is not kept, and the scan is right all the same.
#[test]
fn a_layer_too_large_for_the_bound_is_not_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = common::image(DEBIAN.0, DEBIAN.1);
    let probe = Arc::new(LayerCache::open(tmp.path().join("probe"), DEFAULT_MAX_BYTES).unwrap());
    report_json(&reference, Some(&probe));
    let size = |dir: &Path| -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    };
    let entry = size(probe.dir());
    assert!(entry > 0);
    // one entry may take an eighth of the bound
    let tight = Arc::new(LayerCache::open(tmp.path().join("tight"), 8 * entry - 8).unwrap());
    let want = report_json(&reference, None);
    assert_eq!(report_json(&reference, Some(&tight)), want);
    assert_eq!(size(tight.dir()), 0);
    assert_eq!(tight.stats().stored, 0);
    let roomy = Arc::new(LayerCache::open(tmp.path().join("roomy"), 8 * entry).unwrap());
    assert_eq!(report_json(&reference, Some(&roomy)), want);
    assert_eq!(size(roomy.dir()), entry);
}

/// `docker save` archives are keyed by diff ID, stored only when the layer read hashed to
/// it (skopeo writes the uncompressed tars, as `docker save` does).
#[test]
fn docker_archive_layers_are_cached_by_diff_id() {
    common::require("skopeo");
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("debian.tar");
    let out = std::process::Command::new("skopeo")
        .args(["copy", "-q"])
        .arg(common::image(DEBIAN.0, DEBIAN.1))
        .arg(format!("docker-archive:{}:debian:x", archive.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = format!("docker-archive:{}", archive.display());
    let want = report_json(&reference, None);
    let cache = Arc::new(LayerCache::open(tmp.path().join("cache"), DEFAULT_MAX_BYTES).unwrap());
    assert_eq!(report_json(&reference, Some(&cache)), want);
    assert_eq!(cache.stats().stored, 1, "the verified layer stored");
    assert_eq!(report_json(&reference, Some(&cache)), want);
    assert_eq!(cache.stats().hits, 1);
}

/// A blob whose bytes do not match its digest is analysed (with a warning) but never
/// stored under that digest: a tampered layout cannot plant an analysis that a later scan
/// of the genuine layer would trust.
#[test]
fn a_tampered_blob_is_not_cached() {
    let images = common::images().join("oci");
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("debian");
    copy_layout(&images.join("debian"), &layout);
    let blobs = layout.join("blobs/sha256");
    let base = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    // pyapp's own (much smaller) layer under the Debian base layer's name
    let pyapp_layer = std::fs::read_dir(images.join("pyapp/blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != base.file_name().unwrap())
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path();
    std::fs::copy(&pyapp_layer, &base).unwrap();
    let cache = Arc::new(LayerCache::open(tmp.path().join("cache"), DEFAULT_MAX_BYTES).unwrap());
    let tampered =
        wharf_scanner::inventory(&format!("oci:{}", layout.display()), &opts(Some(&cache)))
            .unwrap();
    assert!(
        tampered
            .warnings
            .messages
            .iter()
            .any(|w| w.contains("blob corrupt or tampered")),
        "{:?}",
        tampered.warnings
    );
    assert_eq!(
        cache.stats().stored,
        0,
        "a tampered blob's analysis was stored"
    );
    let reference = common::image(DEBIAN.0, DEBIAN.1);
    assert_eq!(
        report_json(&reference, Some(&cache)),
        report_json(&reference, None)
    );
    assert_eq!(cache.stats().hits, 0);
}
