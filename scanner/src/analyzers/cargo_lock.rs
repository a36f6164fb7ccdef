//! Rust crates pinned by a `Cargo.lock` (`[[package]]` tables; registry crates only —
//! path and git dependencies are not on crates.io and have no advisories there).

use serde::Deserialize;

use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package, purl};

pub fn wants(path: &str) -> bool {
    path == "Cargo.lock" || path.ends_with("/Cargo.lock")
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPkg>,
}

#[derive(Deserialize)]
struct LockPkg {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
}

pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files() {
        if !wants(path) {
            continue;
        }
        match parse(&String::from_utf8_lossy(data)) {
            Ok(pkgs) => out.extend(
                pkgs.into_iter()
                    .map(|(n, v)| crate_package(&n, &v, fs.layer_digest(layer), path)),
            ),
            Err(e) => warnings.push(format!("{path}: {e}")),
        }
    }
    out
}

pub(crate) fn crate_package(
    name: &str,
    version: &str,
    layer: Option<String>,
    path: &str,
) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        ecosystem: Ecosystem::CratesIo,
        purl: purl(Ecosystem::CratesIo, None, name, version, &[]),
        source_name: None,
        source_version: None,
        licenses: vec![],
        layer,
        path: path.into(),
    }
}

/// `(name, version)` of each crates.io package.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let lock: Lock = toml::from_str(text).map_err(|e| format!("invalid Cargo.lock: {e}"))?;
    Ok(lock
        .package
        .into_iter()
        .filter(|p| {
            p.source
                .as_deref()
                .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
        })
        .map(|p| (p.name, p.version))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_packages_only() {
        let t = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"smallvec\"\nversion = \"0.6.9\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"x\"\n";
        assert_eq!(
            super::parse(t).unwrap(),
            vec![("smallvec".to_string(), "0.6.9".to_string())]
        );
        assert!(super::parse("[[package]\n").is_err());
    }
}
