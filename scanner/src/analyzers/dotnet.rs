//! .NET: `*.deps.json` (the runtime's dependency manifest written next to every published
//! application) and NuGet's `packages.lock.json`. Only NuGet packages are reported: projects
//! of the solution itself are not packages anyone publishes advisories for (Trivy the same).

use std::collections::BTreeSet;

use serde_json::Value;

use super::lang_package;
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package};

pub fn wants(path: &str) -> bool {
    is_deps_json(path) || path == "packages.lock.json" || path.ends_with("/packages.lock.json")
}

fn is_deps_json(path: &str) -> bool {
    path.ends_with(".deps.json")
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
        let mut found: BTreeSet<(String, String)> = BTreeSet::new();
        if is_deps_json(path) {
            // "libraries": {"Newtonsoft.Json/13.0.1": {"type": "package", …}, …}
            for (key, lib) in v["libraries"].as_object().into_iter().flatten() {
                if lib["type"] != "package" {
                    continue;
                }
                if let Some((name, version)) = key.rsplit_once('/') {
                    found.insert((name.into(), version.into()));
                }
            }
        } else {
            // "dependencies": {"net6.0": {"Name": {"type": "Direct", "resolved": "1.2.3"}}}
            for tfm in v["dependencies"].as_object().into_iter().flatten() {
                for (name, dep) in tfm.1.as_object().into_iter().flatten() {
                    if dep["type"] == "Project" {
                        continue;
                    }
                    if let Some(version) = dep["resolved"].as_str() {
                        found.insert((name.clone(), version.into()));
                    }
                }
            }
        }
        for (name, version) in found {
            out.push(lang_package(
                fs,
                Ecosystem::NuGet,
                None,
                &name,
                &version,
                path,
                layer,
            ));
        }
    }
    out
}
