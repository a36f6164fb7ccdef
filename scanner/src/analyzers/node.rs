//! Node packages: `node_modules/**/package.json` (what is installed) and the lock files:
//! `package-lock.json` (lockfile v1 `dependencies`, v2/v3 `packages`), `yarn.lock` and
//! `pnpm-lock.yaml` (`node_locks`), `bun.lock` (`bun_lock`). Each lock file lists its own
//! packages, as Trivy reports each lock file as an application of its own; entries already
//! installed under node_modules are not repeated. Lockfile `integrity` hashes become
//! package checksums.

use std::collections::HashMap;

use serde_json::Value;

use super::{bun_lock, node_locks};
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Checksum, Ecosystem, Package, contact, purl};

pub fn wants(path: &str) -> bool {
    (path.ends_with("/package.json") && path.contains("node_modules/"))
        || path == "package-lock.json"
        || path.ends_with("/package-lock.json")
        || node_locks::is_yarn_lock(path)
        || node_locks::is_pnpm_lock(path)
        || bun_lock::is_bun_lock(path)
}

/// Trivy's application type of a Node lock file (`npm`, `yarn`, `pnpm`, `bun`); `None` for
/// an installed package's `package.json` (Trivy's `node-pkg`).
pub fn lock_type(path: &str) -> Option<&'static str> {
    if path == "package-lock.json" || path.ends_with("/package-lock.json") {
        Some("npm")
    } else if node_locks::is_yarn_lock(path) {
        Some("yarn")
    } else if node_locks::is_pnpm_lock(path) {
        Some("pnpm")
    } else if bun_lock::is_bun_lock(path) {
        Some("bun")
    } else {
        None
    }
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
        supplier: None,
        checksums: vec![],
        layer,
        path: path.into(),
    }
}

/// `author` as a string (`Name <email> (url)`) or an object (`{name, email}`).
fn author(v: &Value) -> Option<String> {
    match v.get("author")? {
        Value::String(s) => {
            let s = match s.find(" (") {
                Some(i) if s.trim_end().ends_with(')') => &s[..i],
                _ => s,
            };
            Some(s.trim().to_string()).filter(|s| !s.is_empty())
        }
        Value::Object(o) => contact(
            o.get("name").and_then(Value::as_str).unwrap_or(""),
            o.get("email").and_then(Value::as_str),
        ),
        _ => None,
    }
}

fn integrity(v: &Value) -> Option<Checksum> {
    v.get("integrity")
        .or_else(|| v.get("_integrity"))
        .and_then(Value::as_str)
        .and_then(Checksum::from_sri)
}

/// One package a lockfile pins.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockEntry {
    pub name: String,
    pub version: String,
    pub integrity: Option<Checksum>,
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
    let mut out: Vec<Package> = Vec::new();
    // (name, version) → index in `out`, so lockfiles only add what is not installed.
    let mut seen = HashMap::new();
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
        seen.insert((name.to_string(), version.to_string()), out.len());
        let mut p = make(name, version, licenses(&v), fs.layer_digest(layer), path);
        p.supplier = author(&v);
        p.checksums.extend(integrity(&v));
        out.push(p);
    }
    for (path, data, layer) in fs.files() {
        let entries = match lock_type(path) {
            Some("npm") => serde_json::from_slice(data)
                .map(|v| parse_lock(&v))
                .map_err(|e| format!("invalid package-lock.json: {e}")),
            Some("yarn") => node_locks::parse_yarn(&String::from_utf8_lossy(data)),
            Some("pnpm") => node_locks::parse_pnpm(&String::from_utf8_lossy(data)),
            Some(_) => bun_lock::parse_bun(&String::from_utf8_lossy(data)),
            None => continue,
        };
        let entries = match entries {
            Ok(entries) => entries,
            Err(e) => {
                warnings.push(format!("{path}: {e}"));
                continue;
            }
        };
        // this file's own packages: another lock file pinning the same ones does not
        // take them away from it
        let mut listed: HashMap<(String, String), usize> = HashMap::new();
        for e in entries {
            let key = (e.name.clone(), e.version.clone());
            match seen.get(&key).or_else(|| listed.get(&key)) {
                Some(&i) => {
                    if out[i].checksums.is_empty() {
                        out[i].checksums.extend(e.integrity);
                    }
                }
                None => {
                    listed.insert(key, out.len());
                    let mut p = make(&e.name, &e.version, vec![], fs.layer_digest(layer), path);
                    p.checksums.extend(e.integrity);
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Every non-dev package a lockfile pins.
pub fn parse_lock(v: &Value) -> Vec<LockEntry> {
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
                out.push(LockEntry {
                    name: name.to_string(),
                    version: ver.to_string(),
                    integrity: integrity(p),
                });
            }
        }
        return out;
    }
    fn walk(deps: &serde_json::Map<String, Value>, out: &mut Vec<LockEntry>, depth: usize) {
        if depth > 64 {
            return;
        }
        for (name, d) in deps {
            if d.get("dev").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(ver) = d.get("version").and_then(Value::as_str) {
                out.push(LockEntry {
                    name: name.clone(),
                    version: ver.to_string(),
                    integrity: integrity(d),
                });
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

    use super::*;
    use crate::inventory::HashAlgorithm;

    // An npm integrity string (SHA-512, base64).
    const LODASH: &str = "sha512-PlhdFcillOINfeV7Ni6oF1TAEayyZBoZ8bcshTHqOYJYlrqzRK5hagpagky5o4HfCzzd1TRkXPMFq6cKk9rGmA==";

    #[test]
    fn lockfile_versions_and_integrity() {
        let v3 = json!({"lockfileVersion": 3, "packages": {"": {"name": "app"}, "node_modules/lodash": {"version": "4.17.20", "integrity": LODASH},
            "node_modules/@babel/core": {"version": "7.0.0"}, "node_modules/a/node_modules/b": {"version": "1.0.0"},
            "node_modules/jest": {"version": "29.0.0", "dev": true}}});
        let mut got = super::parse_lock(&v3);
        got.sort();
        let names: Vec<(&str, &str)> = got
            .iter()
            .map(|e| (e.name.as_str(), e.version.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("@babel/core", "7.0.0"),
                ("b", "1.0.0"),
                ("lodash", "4.17.20")
            ]
        );
        let sum = got[2].integrity.as_ref().unwrap();
        assert_eq!(sum.algorithm, HashAlgorithm::Sha512);
        assert_eq!(sum.value.len(), 128);
        assert!(sum.value.starts_with("3e585d15c8a594e20d7de57b362ea8"));
        assert_eq!(got[0].integrity, None);
        let v1 = json!({"lockfileVersion": 1, "dependencies": {"x": {"version": "1.0.0", "integrity": "sha1-2K6V8SwyXDuOfoqEmcX/sRaqJos= sha512-x", "dependencies": {"y": {"version": "2.0.0"}}}}});
        let got = super::parse_lock(&v1);
        assert_eq!(got.len(), 2);
        // Of several hashes the one that parses and is strongest is kept.
        assert_eq!(
            got[0].integrity.as_ref().unwrap().algorithm,
            HashAlgorithm::Sha1
        );
    }

    #[test]
    fn author_forms() {
        assert_eq!(
            author(
                &json!({"author": "Barney Rubble <b@rubble.com> (http://barnyrubble.tumblr.com/)"})
            )
            .as_deref(),
            Some("Barney Rubble <b@rubble.com>")
        );
        assert_eq!(
            author(&json!({"author": {"name": "Barney Rubble", "email": "b@rubble.com"}}))
                .as_deref(),
            Some("Barney Rubble <b@rubble.com>")
        );
        assert_eq!(author(&json!({"author": ""})), None);
    }

    #[test]
    fn scoped_purl() {
        assert_eq!(
            super::make("@types/node", "20.1.0", vec![], None, "p").purl,
            "pkg:npm/%40types/node@20.1.0"
        );
    }
}
