//! Swift Package Manager's `Package.resolved`: version 1 (`object.pins[]` with
//! `repositoryURL`) and versions 2 and 3 (`pins[]` with `location`). A package is named by
//! its repository URL without scheme and `.git` (`github.com/apple/swift-log`), as Trivy
//! and the `swift` purl type name it; pins on a branch or revision have no version and are
//! left out.

use serde_json::Value;

use super::lang_package;
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package};

pub fn wants(path: &str) -> bool {
    path == "Package.resolved" || path.ends_with("/Package.resolved")
}

fn repository_name(url: &str) -> String {
    let s = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let s = s.rsplit_once('@').map(|(_, r)| r).unwrap_or(s);
    s.trim_end_matches('/')
        .trim_end_matches(".git")
        .replacen(':', "/", 1)
}

pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files().filter(|(p, _, _)| wants(p)) {
        let v: Value = match serde_json::from_slice(data) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!("{path}: invalid JSON: {e}"));
                continue;
            }
        };
        let pins = v["pins"].as_array().or(v["object"]["pins"].as_array());
        for pin in pins.into_iter().flatten() {
            let url = pin["location"].as_str().or(pin["repositoryURL"].as_str());
            let (Some(url), Some(version)) = (url, pin["state"]["version"].as_str()) else {
                continue;
            };
            let name = repository_name(url);
            let (ns, base) = name
                .rsplit_once('/')
                .map_or((None, name.as_str()), |(n, b)| (Some(n), b));
            let mut p = lang_package(fs, Ecosystem::Swift, ns, base, version, path, layer);
            p.name = name.clone();
            out.push(p);
        }
    }
    out
}
