//! Dart/Flutter's `pubspec.lock` (YAML): `packages.<name>.version`, every source (hosted,
//! git, path, and the SDK's own packages such as `flutter 0.0.0`), as Trivy lists them.

use super::lang_package;
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package};

pub fn wants(path: &str) -> bool {
    path == "pubspec.lock" || path.ends_with("/pubspec.lock")
}

pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files().filter(|(p, _, _)| wants(p)) {
        let v: serde_norway::Value = match serde_norway::from_slice(data) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!("{path}: invalid YAML: {e}"));
                continue;
            }
        };
        let Some(packages) = v.get("packages").and_then(|p| p.as_mapping()) else {
            continue;
        };
        for (name, p) in packages {
            let (Some(name), Some(version)) =
                (name.as_str(), p.get("version").and_then(|v| v.as_str()))
            else {
                continue;
            };
            out.push(lang_package(
                fs,
                Ecosystem::Pub,
                None,
                name,
                version,
                path,
                layer,
            ));
        }
    }
    out
}
