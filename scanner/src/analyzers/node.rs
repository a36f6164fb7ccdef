//! Node packages: `node_modules/**/package.json` (what is installed) and `package-lock.json`
//! (lockfile v1 `dependencies`, v2/v3 `packages`). Lockfile entries already installed under
//! node_modules are not repeated.

use std::collections::HashSet;

use serde_json::Value;

use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package, purl};

pub fn wants(path: &str) -> bool {
    (path.ends_with("/package.json") && path.contains("node_modules/"))
        || path == "package-lock.json"
        || path.ends_with("/package-lock.json")
}

fn make(
    name: &str,
    version: &str,
    licenses: Vec<String>,
    layer: Option<String>,
    path: &str,
) -> Package {
    let (ns, base) = match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
        _ => (None, name),
    };
    Package {
        name: name.into(),
        version: version.into(),
        ecosystem: Ecosystem::Npm,
        purl: purl(Ecosystem::Npm, ns, base, version, &[]),
        source_name: None,
        source_version: None,
        licenses,
        layer,
        path: path.into(),
    }
}

fn licenses(v: &Value) -> Vec<String> {
    match v.get("license") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Object(o)) => o
            .get("type")
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        _ => match v.get("licenses") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|l| l.get("type").and_then(Value::as_str).map(String::from))
                .collect(),
            _ => vec![],
        },
    }
}

pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (path, data, layer) in fs.files() {
        if !path.ends_with("/package.json") {
            continue;
        }
        let v: Value = match serde_json::from_slice(data) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!("{path}: invalid package.json: {e}"));
                continue;
            }
        };
        let (Some(name), Some(version)) = (
            v.get("name").and_then(Value::as_str),
            v.get("version").and_then(Value::as_str),
        ) else {
            continue;
        };
        seen.insert((name.to_string(), version.to_string()));
        out.push(make(
            name,
            version,
            licenses(&v),
            fs.layer_digest(layer),
            path,
        ));
    }
    for (path, data, layer) in fs.files() {
        if !(path == "package-lock.json" || path.ends_with("/package-lock.json")) {
            continue;
        }
        let v: Value = match serde_json::from_slice(data) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!("{path}: invalid package-lock.json: {e}"));
                continue;
            }
        };
        for (name, version) in parse_lock(&v) {
            if seen.insert((name.clone(), version.clone())) {
                out.push(make(&name, &version, vec![], fs.layer_digest(layer), path));
            }
        }
    }
    out
}

/// `(name, version)` of every non-dev package a lockfile pins.
pub fn parse_lock(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(pkgs) = v.get("packages").and_then(Value::as_object) {
        for (key, p) in pkgs {
            let Some(idx) = key.rfind("node_modules/") else {
                continue;
            }; // "" is the root project
            if p.get("dev").and_then(Value::as_bool) == Some(true)
                || p.get("link").and_then(Value::as_bool) == Some(true)
            {
                continue;
            }
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&key[idx + "node_modules/".len()..]);
            if let Some(ver) = p.get("version").and_then(Value::as_str) {
                out.push((name.to_string(), ver.to_string()));
            }
        }
        return out;
    }
    fn walk(deps: &serde_json::Map<String, Value>, out: &mut Vec<(String, String)>, depth: usize) {
        if depth > 64 {
            return;
        }
        for (name, d) in deps {
            if d.get("dev").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(ver) = d.get("version").and_then(Value::as_str) {
                out.push((name.clone(), ver.to_string()));
            }
            if let Some(sub) = d.get("dependencies").and_then(Value::as_object) {
                walk(sub, out, depth + 1);
            }
        }
    }
    if let Some(deps) = v.get("dependencies").and_then(Value::as_object) {
        walk(deps, &mut out, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn lockfile_versions() {
        let v3 = json!({"lockfileVersion": 3, "packages": {"": {"name": "app"}, "node_modules/lodash": {"version": "4.17.20"},
            "node_modules/@babel/core": {"version": "7.0.0"}, "node_modules/a/node_modules/b": {"version": "1.0.0"},
            "node_modules/jest": {"version": "29.0.0", "dev": true}}});
        let mut got = super::parse_lock(&v3);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("@babel/core".into(), "7.0.0".into()),
                ("b".into(), "1.0.0".into()),
                ("lodash".into(), "4.17.20".into())
            ]
        );
        let v1 = json!({"lockfileVersion": 1, "dependencies": {"x": {"version": "1.0.0", "dependencies": {"y": {"version": "2.0.0"}}}}});
        assert_eq!(super::parse_lock(&v1).len(), 2);
    }

    #[test]
    fn scoped_purl() {
        assert_eq!(
            super::make("@types/node", "20.1.0", vec![], None, "p").purl,
            "pkg:npm/%40types/node@20.1.0"
        );
    }
}
