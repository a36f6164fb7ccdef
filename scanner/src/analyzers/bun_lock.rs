//! Bun's text lock file, `bun.lock` (Bun 1.2+; JSONC: JSON with trailing commas).
//!
//! ```text
//! "workspaces": { "": { "name", "dependencies", "devDependencies",
//!                       "optionalDependencies", "peerDependencies" }, "packages/a": {…} },
//! "packages": {
//!   "debug":    ["debug@4.3.4", "", { "dependencies": { "ms": "2.1.2" } }, "sha512-…"],
//!   "debug/ms": ["ms@2.1.2", "", {}, "sha512-…"],     // installed under debug/node_modules
//!   "app":      ["app@workspace:packages/app"],
//! }
//! ```
//!
//! A key is the package's install path as a list of names (`debug/ms` = `ms` under `debug`),
//! its first element the resolved `name@version`. A dependency `N` of the package at key
//! `K` is the entry `K/N` if there is one, else that of `K`'s parent, up to the top-level
//! `N`: how Node resolves `node_modules`, and how Bun lays the tree out from this file.
//! Every package reached from the workspaces' dependencies, optional and peer dependencies
//! is listed (what `bun install --production` installs); what only development
//! dependencies reach is left out. Workspace, linked, local and git packages (a `:` in the
//! resolved version) are the project's own or unversioned, not registry packages.
//!
//! Trivy looks dependencies up by the top-level key only, so a nested entry (`debug/ms`)
//! is never reached and Trivy leaves it out, although Bun installs it.

use std::collections::{BTreeSet, HashMap};

use jsonc_parser::{JsonValue, ParseOptions, parse_to_value};
use serde_json::{Map, Value};

use super::node::LockEntry;
use crate::inventory::Checksum;

pub fn is_bun_lock(path: &str) -> bool {
    path == "bun.lock" || path.ends_with("/bun.lock")
}

/// The JSONC document as a `serde_json` value (the parser refuses nesting deeper than 512).
fn to_json(v: JsonValue) -> Value {
    match v {
        JsonValue::String(s) => Value::String(s.into_owned()),
        JsonValue::Number(n) => serde_json::from_str(n).unwrap_or(Value::Null),
        JsonValue::Boolean(b) => Value::Bool(b),
        JsonValue::Null => Value::Null,
        JsonValue::Array(a) => Value::Array(a.into_iter().map(to_json).collect()),
        JsonValue::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k.into_owned(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// The names in an install path: `@types/node/undici-types` → `@types/node`, `undici-types`.
fn path_names(key: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut start = 0;
    let mut scope_open = false;
    for (i, c) in key.char_indices() {
        if c != '/' {
            continue;
        }
        if key[start..].starts_with('@') && !scope_open {
            scope_open = true;
            continue;
        }
        names.push(&key[start..i]);
        start = i + 1;
        scope_open = false;
    }
    names.push(&key[start..]);
    names
}

/// `@babel/runtime@7.20.0` → (`@babel/runtime`, `7.20.0`).
fn split_identifier(id: &str) -> Option<(&str, &str)> {
    let at = id.char_indices().skip(1).find(|&(_, c)| c == '@')?.0;
    let (name, version) = (&id[..at], &id[at + 1..]);
    (!name.is_empty() && !version.is_empty()).then_some((name, version))
}

/// The names a package depends on at run time: its `dependencies`, `optionalDependencies`
/// and `peerDependencies` (Bun installs peers), except the peers it lists in
/// `optionalPeers` (installed only when something else needs them).
fn runtime_dependencies(meta: &Value) -> impl Iterator<Item = &str> {
    let optional_peers: Vec<&str> = meta
        .get("optionalPeers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    ["dependencies", "optionalDependencies", "peerDependencies"]
        .into_iter()
        .flat_map(move |k| {
            let names = meta.get(k).and_then(Value::as_object).into_iter().flatten();
            names.map(move |(name, _)| (k, name.as_str()))
        })
        .filter(move |&(k, name)| k != "peerDependencies" || !optional_peers.contains(&name))
        .map(|(_, name)| name)
}

/// Every registry package the production dependencies of the workspaces reach.
pub fn parse_bun(text: &str) -> Result<Vec<LockEntry>, String> {
    let doc = parse_to_value(text, &ParseOptions::default())
        .map_err(|e| format!("invalid bun.lock: {e}"))?
        .map(to_json)
        .unwrap_or(Value::Null);
    let Some(packages) = doc.get("packages").and_then(Value::as_object) else {
        return Err("invalid bun.lock: no `packages` object".into());
    };
    // key → the entry's array
    let entries: HashMap<&str, &Vec<Value>> = packages
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_array()?)))
        .collect();
    let resolve = |from: &str, name: &str| -> Option<String> {
        let mut names = if from.is_empty() {
            Vec::new()
        } else {
            path_names(from)
        };
        loop {
            let key = if names.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", names.join("/"))
            };
            if entries.contains_key(key.as_str()) {
                return Some(key);
            }
            names.pop()?;
        }
    };

    // The walk starts at each workspace's production dependencies; a member workspace's
    // own conflicting versions are keyed under its package name (`app/lodash`), the root's
    // (path "") are the top-level ones.
    let mut stack: Vec<String> = Vec::new();
    for (ws_path, ws) in doc
        .get("workspaces")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let ws_name = match ws_path.as_str() {
            "" => "",
            _ => ws.get("name").and_then(Value::as_str).unwrap_or(""),
        };
        for dep in runtime_dependencies(ws) {
            stack.extend(resolve(ws_name, dep));
        }
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out: BTreeSet<(String, String)> = BTreeSet::new();
    let mut integrity: HashMap<(String, String), Checksum> = HashMap::new();
    while let Some(key) = stack.pop() {
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(entry) = entries.get(key.as_str()) else {
            continue;
        };
        let Some((name, version)) = entry
            .first()
            .and_then(Value::as_str)
            .and_then(split_identifier)
        else {
            continue;
        };
        if let Some(meta) = entry.iter().find(|v| v.is_object()) {
            for dep in runtime_dependencies(meta) {
                stack.extend(resolve(&key, dep));
            }
        }
        if version.contains(':') {
            continue;
        }
        let id = (name.to_string(), version.to_string());
        if let Some(sri) = entry
            .iter()
            .filter_map(Value::as_str)
            .find_map(Checksum::from_sri)
        {
            integrity.insert(id.clone(), sri);
        }
        out.insert(id);
    }
    Ok(out
        .into_iter()
        .map(|(name, version)| {
            let integrity = integrity.remove(&(name.clone(), version.clone()));
            LockEntry {
                name,
                version,
                integrity,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_paths() {
        assert_eq!(path_names("debug/ms"), ["debug", "ms"]);
        assert_eq!(
            path_names("@types/node/undici-types"),
            ["@types/node", "undici-types"]
        );
        assert_eq!(
            path_names("a/@scope/b/@scope/c"),
            ["a", "@scope/b", "@scope/c"]
        );
        assert_eq!(path_names("lodash"), ["lodash"]);
        assert_eq!(
            split_identifier("@babel/runtime@7.20.0"),
            Some(("@babel/runtime", "7.20.0"))
        );
        assert_eq!(split_identifier("@babel/runtime"), None);
    }

    #[test]
    fn nested_dev_and_workspace_packages() {
        let lock = r#"{
  "lockfileVersion": 1,
  "workspaces": {
    "": { "name": "root", "dependencies": { "debug": "4.3.4", "app": "workspace:*" },
          "devDependencies": { "left-pad": "1.3.0" }, },
    "packages/app": { "name": "app", "dependencies": { "lodash": "4.17.20" }, },
  },
  "packages": {
    "app": ["app@workspace:packages/app"],
    "debug": ["debug@4.3.4", "", { "dependencies": { "ms": "2.1.2" }, "peerDependencies": { "supports-color": "*" }, "optionalPeers": ["supports-color"] }, "sha512-PRWFHuSU3eDtQJPvnNY7Jcket1j0t5OuOsFzPPzsekD52Zl8qUfFIPEiswXqIvHWGVHOgX+7G/vCNNhehwxfkQ=="],
    "supports-color": ["supports-color@7.2.0", "", {}, "sha512-u"],
    "debug/ms": ["ms@2.1.2", "", {}, "sha512-x"],
    "ms": ["ms@2.1.3", "", {}, "sha512-y"],
    "left-pad": ["left-pad@1.3.0", "", { "dependencies": { "ms": "2.1.3" } }, "sha512-z"],
    "app/lodash": ["lodash@4.17.20", "", {}, "sha512-w"],
    "lodash": ["lodash@4.17.21", "", {}, "sha512-v"],
  },
}"#;
        let got: Vec<(String, String)> = parse_bun(lock)
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.version))
            .collect();
        let want: Vec<(String, String)> =
            [("debug", "4.3.4"), ("lodash", "4.17.20"), ("ms", "2.1.2")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        // ms@2.1.3 and lodash@4.17.21 are reached by nothing but left-pad (a dev
        // dependency) or nothing at all; supports-color only as debug's optional peer.
        assert_eq!(got, want);
        assert!(parse_bun("{").is_err());
        assert!(parse_bun(r#"{"packages": 3}"#).is_err());
        let deep = "[".repeat(100_000);
        assert!(parse_bun(&deep).is_err());
    }
}
