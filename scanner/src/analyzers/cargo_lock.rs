//! Rust crates pinned by a `Cargo.lock` (`[[package]]` tables; registry crates only —
//! path and git dependencies are not on crates.io and have no advisories there), with the
//! SHA-256 of each `.crate` file Cargo recorded.

use serde::Deserialize;

use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Checksum, Ecosystem, HashAlgorithm, Package, purl};

pub fn wants(path: &str) -> bool {
    path == "Cargo.lock" || path.ends_with("/Cargo.lock")
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPkg>,
    /// Lock format 1 kept checksums here: `"checksum NAME VERSION (SOURCE)" = "<hex>"`.
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct LockPkg {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    checksum: Option<String>,
}

/// One crates.io package pinned by a lock file.
#[derive(Debug, PartialEq, Eq)]
pub struct Locked {
    pub name: String,
    pub version: String,
    pub checksum: Option<Checksum>,
}

pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files() {
        if !wants(path) {
            continue;
        }
        match parse(&String::from_utf8_lossy(data)) {
            Ok(pkgs) => out.extend(pkgs.into_iter().map(|l| {
                let mut p = crate_package(&l.name, &l.version, fs.layer_digest(layer), path);
                p.checksums.extend(l.checksum);
                p
            })),
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
        supplier: None,
        checksums: vec![],
        layer,
        path: path.into(),
    }
}

/// Each crates.io package of a lock file.
pub fn parse(text: &str) -> Result<Vec<Locked>, String> {
    let lock: Lock = toml::from_str(text).map_err(|e| format!("invalid Cargo.lock: {e}"))?;
    let metadata = &lock.metadata;
    Ok(lock
        .package
        .into_iter()
        .filter_map(|p| {
            let source = p.source.as_deref()?;
            if !(source.starts_with("registry+") || source.starts_with("sparse+")) {
                return None;
            }
            let hex = p.checksum.clone().or_else(|| {
                let key = format!("checksum {} {} ({source})", p.name, p.version);
                metadata
                    .get(&key)
                    .and_then(|v| v.as_str())
                    .map(String::from)
            });
            Some(Locked {
                checksum: hex.and_then(|h| Checksum::from_hex(HashAlgorithm::Sha256, &h)),
                name: p.name,
                version: p.version,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "97fcaeba89edba30f044a10c6a3cc39df9c3f17d7cd829dd1446cab35f890e95";

    #[test]
    fn registry_packages_only_with_their_checksums() {
        let t = format!(
            "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"smallvec\"\nversion = \"0.6.9\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{SUM}\"\n\n[[package]]\nname = \"odd\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"x\"\n"
        );
        let got = parse(&t).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].name.as_str(), got[0].version.as_str()),
            ("smallvec", "0.6.9")
        );
        assert_eq!(
            got[0].checksum,
            Some(Checksum {
                algorithm: HashAlgorithm::Sha256,
                value: SUM.into()
            })
        );
        // A checksum that is not SHA-256 hex is dropped, not passed on.
        assert_eq!(got[1].checksum, None);
        assert!(parse("[[package]\n").is_err());
    }

    #[test]
    fn format_1_checksums_from_metadata() {
        let src = "registry+https://github.com/rust-lang/crates.io-index";
        let t = format!(
            "[[package]]\nname = \"libc\"\nversion = \"0.2.40\"\nsource = \"{src}\"\n\n[metadata]\n\"checksum libc 0.2.40 ({src})\" = \"{SUM}\"\n"
        );
        let got = parse(&t).unwrap();
        assert_eq!(
            got[0].checksum.as_ref().map(|c| c.value.as_str()),
            Some(SUM)
        );
    }
}
