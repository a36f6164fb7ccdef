//! `SOURCE_HASH`: a hash of this crate's sources, part of the layer cache's key (see
//! `src/image/cache.rs`), so a scanner built from different code never reads an analysis
//! an older one stored — whether or not someone remembered to bump `ANALYSIS_VERSION`.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src/ readable").flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, files);
        } else {
            files.push(p);
        }
    }
}

fn main() {
    println!("cargo::rerun-if-changed=src");
    let mut files = Vec::new();
    walk(Path::new("src"), &mut files);
    files.sort();
    let mut h = DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        std::fs::read(&f).expect("source readable").hash(&mut h);
    }
    println!(
        "cargo::rustc-env=WHARF_SCANNER_SOURCE_HASH={:016x}",
        h.finish()
    );
}
