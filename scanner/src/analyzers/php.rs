//! PHP packages from Composer: `composer.lock` (`packages` and `packages-dev`; dev ones are
//! skipped as they are not deployed) and `vendor/composer/installed.json` (Composer 1: a
//! list; Composer 2: `{"packages": [...]}`).

use serde_json::Value;

use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package, purl};

pub fn wants(path: &str) -> bool {
    path == "composer.lock"
        || path.ends_with("/composer.lock")
        || path.ends_with("vendor/composer/installed.json")
}

pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files() {
        if !wants(path) {
            continue;
        }
        let v: Value = match serde_json::from_slice(data) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!("{path}: invalid JSON: {e}"));
                continue;
            }
        };
        let list = match (&v, v.get("packages")) {
            (Value::Array(a), _) => a.clone(),
            (_, Some(Value::Array(a))) => a.clone(),
            _ => vec![],
        };
        for p in &list {
            let (Some(name), Some(version)) = (
                p.get("name").and_then(Value::as_str),
                p.get("version").and_then(Value::as_str),
            ) else {
                continue;
            };
            let version = version.trim_start_matches('v');
            let (ns, base) = name
                .split_once('/')
                .map(|(a, b)| (Some(a), b))
                .unwrap_or((None, name));
            let licenses = p
                .get("license")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Package {
                name: name.into(),
                version: version.into(),
                ecosystem: Ecosystem::Packagist,
                purl: purl(Ecosystem::Packagist, ns, base, version, &[]),
                source_name: None,
                source_version: None,
                licenses,
                supplier: None,
                checksums: vec![],
                layer: fs.layer_digest(layer),
                path: path.into(),
            });
        }
    }
    out
}
