//! Conan's `conan.lock`: version 1 (`graph_lock.nodes[].ref`) and version 2 (`requires`),
//! each reference `name/version[@user/channel][#rev]`. Version 2's `build_requires` are
//! tools used while building (cmake, ninja), not shipped: left out, as Trivy does.

use std::collections::BTreeSet;

use serde_json::Value;

use super::lang_package;
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package};

pub fn wants(path: &str) -> bool {
    path == "conan.lock" || path.ends_with("/conan.lock")
}

/// `zlib/1.2.13@user/channel#rrev%timestamp` → (zlib, 1.2.13).
fn reference(r: &str) -> Option<(String, String)> {
    let r = r.split(['#', '@']).next()?;
    let (name, version) = r.split_once('/')?;
    (!name.is_empty() && !version.is_empty()).then(|| (name.into(), version.into()))
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
        let mut refs: Vec<&str> = Vec::new();
        for node in v["graph_lock"]["nodes"].as_object().into_iter().flatten() {
            if let Some(r) = node.1["ref"].as_str() {
                refs.push(r);
            }
        }
        refs.extend(
            v["requires"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        );
        let found: BTreeSet<(String, String)> = refs.into_iter().filter_map(reference).collect();
        for (name, version) in found {
            out.push(lang_package(
                fs,
                Ecosystem::Conan,
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
