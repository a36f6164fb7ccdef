//! CocoaPods' `Podfile.lock` (YAML): `PODS` lists `Name (1.2.3)` entries, with their own
//! dependencies when a pod has any. A subspec (`Firebase/Core`) is reported under its own
//! name, its purl the pod's with the subspec as subpath (`pkg:cocoapods/Firebase@1.0#Core`).

use super::lang_package;
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package};

pub fn wants(path: &str) -> bool {
    path == "Podfile.lock" || path.ends_with("/Podfile.lock")
}

/// `Firebase/Core (10.1.0)` → (Firebase/Core, 10.1.0).
fn pod(entry: &str) -> Option<(&str, &str)> {
    let (name, rest) = entry.trim().split_once(" (")?;
    Some((name, rest.strip_suffix(')')?))
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
        let Some(pods) = v.get("PODS").and_then(|p| p.as_sequence()) else {
            continue;
        };
        for item in pods {
            let entry = match item {
                serde_norway::Value::String(s) => Some(s.as_str()),
                serde_norway::Value::Mapping(m) => m.keys().next().and_then(|k| k.as_str()),
                _ => None,
            };
            let Some((name, version)) = entry.and_then(pod) else {
                continue;
            };
            let (base, subspec) = name
                .split_once('/')
                .map_or((name, None), |(b, s)| (b, Some(s)));
            let mut p = lang_package(fs, Ecosystem::CocoaPods, None, base, version, path, layer);
            if let Some(sub) = subspec {
                p.purl = format!("{}#{}", p.purl, sub);
                p.name = name.to_string();
            }
            out.push(p);
        }
    }
    out
}
