//! The lock files of yarn (classic v1 and Berry v2+) and pnpm (lockfile v5, v6 and v9):
//! each resolved `name@version` once, as Trivy's yarn and pnpm parsers list them. The
//! node analyzer adds what they pin beside `package-lock.json`, skipping what is already
//! installed under `node_modules`.

use std::collections::BTreeSet;

use serde_norway::Value;

use super::node::LockEntry;
use crate::inventory::Checksum;

pub fn is_yarn_lock(path: &str) -> bool {
    path == "yarn.lock" || path.ends_with("/yarn.lock")
}

pub fn is_pnpm_lock(path: &str) -> bool {
    path == "pnpm-lock.yaml" || path.ends_with("/pnpm-lock.yaml")
}

/// The package name of a descriptor: `@scope/name@range` → `@scope/name`.
fn descriptor_name(descriptor: &str) -> Option<&str> {
    let d = descriptor.trim().trim_matches('"');
    // The separator is an `@` after the first character: a scope's leading `@` is
    // part of the name. Found by characters, not bytes: the file may be anything.
    let at = d.char_indices().skip(1).find(|&(_, c)| c == '@')?.0;
    Some(&d[..at]).filter(|n| !n.is_empty())
}

/// A yarn.lock: Berry's is YAML with a `__metadata` key; classic v1 is yarn's own
/// indented format. `Err` when a Berry file is not valid YAML.
pub fn parse_yarn(text: &str) -> Result<Vec<LockEntry>, String> {
    if text.lines().any(|l| l.starts_with("__metadata:")) {
        return parse_yarn_berry(text);
    }
    Ok(parse_yarn_classic(text))
}

/// Classic: a block per resolved version, headed by its descriptors
/// (`"@babel/runtime@^7.20.0", "@babel/runtime@7.20.0":`), with `version "…"` and
/// `integrity …` lines indented under it.
fn parse_yarn_classic(text: &str) -> Vec<LockEntry> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut name: Option<String> = None;
    let mut version: Option<String> = None;
    let mut integrity: Option<Checksum> = None;
    let mut flush = |name: &mut Option<String>,
                     version: &mut Option<String>,
                     integrity: &mut Option<Checksum>| {
        if let (Some(n), Some(v)) = (name.take(), version.take())
            && seen.insert((n.clone(), v.clone()))
        {
            out.push(LockEntry {
                name: n,
                version: v,
                integrity: integrity.take(),
            });
        }
        *integrity = None;
    };
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            flush(&mut name, &mut version, &mut integrity);
            let header = line.trim_end().trim_end_matches(':');
            let first = header.split(", ").next().unwrap_or(header);
            // Local and linked packages are the project's own, not from a registry.
            name = descriptor_name(first)
                .filter(|_| !first.contains("@file:") && !first.contains("@link:"))
                .map(String::from);
            continue;
        }
        let field = line.trim();
        if let Some(v) = field.strip_prefix("version ") {
            version = Some(v.trim().trim_matches('"').to_string());
        } else if let Some(v) = field.strip_prefix("integrity ") {
            integrity = Checksum::from_sri(v.trim().trim_matches('"'));
        }
    }
    flush(&mut name, &mut version, &mut integrity);
    out
}

/// Berry: `"name@npm:range, name@npm:other": {version, resolution, linkType}`; the
/// workspace itself (`linkType: soft`, `@workspace:`) is not a dependency.
fn parse_yarn_berry(text: &str) -> Result<Vec<LockEntry>, String> {
    let doc: Value = serde_norway::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let mut out = BTreeSet::new();
    for (key, entry) in doc.as_mapping().into_iter().flatten() {
        let Some(key) = key.as_str() else { continue };
        if key == "__metadata" || entry.get("linkType").and_then(Value::as_str) == Some("soft") {
            continue;
        }
        let resolution = entry
            .get("resolution")
            .and_then(Value::as_str)
            .unwrap_or(key);
        if resolution.contains("@workspace:")
            || resolution.contains("@file:")
            || resolution.contains("@link:")
            || resolution.contains("@portal:")
        {
            continue;
        }
        let (Some(name), Some(version)) = (
            descriptor_name(resolution),
            entry.get("version").map(scalar).filter(|v| !v.is_empty()),
        ) else {
            continue;
        };
        out.insert((name.to_string(), version));
    }
    Ok(out
        .into_iter()
        .map(|(name, version)| LockEntry {
            name,
            version,
            integrity: None,
        })
        .collect())
}

/// A YAML scalar as text (a version may be read as a number: `version: 1.0`).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// `pnpm-lock.yaml`: the `packages` map, keyed `/name/1.2.3` (v5), `/name@1.2.3(peer@x)`
/// (v6) or `name@1.2.3` (v9); peer suffixes name the same package again. Dev-only
/// packages (`dev: true`, v5/v6) are left out, as Trivy leaves them out by default.
pub fn parse_pnpm(text: &str) -> Result<Vec<LockEntry>, String> {
    let doc: Value = serde_norway::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let v5 = match doc.get("lockfileVersion").map(scalar) {
        Some(v) => v.split('.').next().and_then(|m| m.parse::<u32>().ok()) < Some(6),
        None => false,
    };
    let production = production_snapshots(&doc);
    let mut out = BTreeSet::new();
    let packages = doc.get("packages").and_then(Value::as_mapping);
    for (key, info) in packages.into_iter().flatten() {
        let Some(key) = key.as_str() else { continue };
        if info.get("dev").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(prod) = &production
            && !prod.contains(key)
        {
            continue;
        }
        let Some((name, version)) = pnpm_key(key, v5) else {
            continue;
        };
        // Tarball and git dependencies carry their own name and version fields.
        let name = info.get("name").map(scalar).unwrap_or(name);
        let version = info.get("version").map(scalar).unwrap_or(version);
        if name.is_empty() || version.is_empty() {
            continue;
        }
        let integrity = info
            .get("resolution")
            .and_then(|r| r.get("integrity"))
            .and_then(Value::as_str)
            .and_then(Checksum::from_sri);
        out.insert((name, version, integrity));
    }
    let mut seen = BTreeSet::new();
    Ok(out
        .into_iter()
        .filter(|(n, v, _)| seen.insert((n.clone(), v.clone())))
        .map(|(name, version, integrity)| LockEntry {
            name,
            version,
            integrity,
        })
        .collect())
}

/// Lockfile v9 keeps no `dev` flag: the packages a production install needs are those
/// reachable from the importers' `dependencies` and `optionalDependencies` through
/// `snapshots` (keys returned without their peer suffixes, as `packages` keys them).
/// `None` for older lockfiles, or when the file has no importers or snapshots to walk.
fn production_snapshots(doc: &Value) -> Option<BTreeSet<String>> {
    let importers = doc.get("importers")?.as_mapping()?;
    let snapshots = doc.get("snapshots")?.as_mapping()?;
    let deps_of = |node: &Value| -> Vec<String> {
        ["dependencies", "optionalDependencies"]
            .iter()
            .filter_map(|k| node.get(*k).and_then(Value::as_mapping))
            .flatten()
            .filter_map(|(name, v)| {
                // Importers write `{specifier, version}`, snapshots the version alone.
                let version = v.get("version").map(scalar).unwrap_or_else(|| scalar(v));
                let name = name.as_str()?;
                (!version.is_empty() && !version.starts_with("link:"))
                    .then(|| format!("{name}@{version}"))
            })
            .collect()
    };
    let mut todo: Vec<String> = importers.values().flat_map(&deps_of).collect();
    let mut reached = BTreeSet::new();
    while let Some(key) = todo.pop() {
        if !reached.insert(key.clone()) {
            continue;
        }
        if let Some(node) = snapshots.get(key.as_str()) {
            todo.extend(deps_of(node));
        }
    }
    Some(
        reached
            .into_iter()
            .map(|k| k.split('(').next().unwrap_or(&k).to_string())
            .collect(),
    )
}

/// A `packages` key's name and version, peer suffixes dropped.
fn pnpm_key(key: &str, v5: bool) -> Option<(String, String)> {
    let key = key.strip_prefix('/').unwrap_or(key);
    let key = key.split('(').next().unwrap_or(key);
    if v5 {
        // `@scope/name/1.2.3_peer@x` or `name/1.2.3`
        let (name, version) = key.rsplit_once('/')?;
        let version = version.split('_').next().unwrap_or(version);
        return Some((name.to_string(), version.to_string())).filter(|(n, v)| {
            !n.is_empty() && !v.is_empty() && v.starts_with(|c: char| c.is_ascii_digit())
        });
    }
    let at = key.get(1..)?.find('@')? + 1;
    let (name, version) = (&key[..at], &key[at + 1..]);
    (!name.is_empty() && !version.is_empty()).then(|| (name.to_string(), version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_keep_their_scope() {
        assert_eq!(
            descriptor_name("\"@babel/runtime@^7.20.0\""),
            Some("@babel/runtime")
        );
        assert_eq!(descriptor_name("express@npm:4.18.2"), Some("express"));
        assert_eq!(descriptor_name("noversion"), None);
        // Found by fuzzing: a multi-byte first character panicked a byte slice.
        assert_eq!(descriptor_name("\u{fffd}abc@1.0"), Some("\u{fffd}abc"));
        assert_eq!(descriptor_name("\u{fffd}"), None);
        assert_eq!(descriptor_name(""), None);
    }

    #[test]
    fn a_yarn_lock_of_garbage_gives_nothing_and_does_not_panic() {
        // The fuzzer's input: an apk database, then bytes that are not UTF-8, read
        // (lossily) as a yarn.lock.
        let mut bytes = b"C:Q1abc=\nP:musl\nV:1.2.4-r2\n".to_vec();
        bytes.extend([0xff; 64]);
        bytes.extend(b"@x:\n  version \"1\"\n");
        let text = String::from_utf8_lossy(&bytes);
        let got = parse_yarn(&text).unwrap();
        assert!(got.iter().all(|e| !e.name.is_empty()), "{got:?}");
    }

    #[test]
    fn pnpm_keys_of_every_lockfile_version() {
        let kv = |n: &str, v: &str| Some((n.to_string(), v.to_string()));
        assert_eq!(
            pnpm_key("/@babel/runtime/7.20.0", true),
            kv("@babel/runtime", "7.20.0")
        );
        assert_eq!(
            pnpm_key("/react-dom/18.2.0_react@18.2.0", true),
            kv("react-dom", "18.2.0")
        );
        assert_eq!(
            pnpm_key("/@babel/runtime@7.20.0", false),
            kv("@babel/runtime", "7.20.0")
        );
        assert_eq!(
            pnpm_key("/react-dom@18.2.0(react@18.2.0)", false),
            kv("react-dom", "18.2.0")
        );
        assert_eq!(pnpm_key("accepts@1.3.8", false), kv("accepts", "1.3.8"));
        assert_eq!(pnpm_key("", false), None);
    }

    #[test]
    fn classic_blocks_with_several_descriptors() {
        let text = "# yarn lockfile v1\n\n\"@babel/runtime@7.20.0\", \"@babel/runtime@^7.0.0\":\n  version \"7.20.0\"\n  resolved \"https://registry.yarnpkg.com/x\"\n  integrity sha512-NDYdls71fTXoU8TZHfbBWg7DiZfNzClcKui/+kyi6ppD2L1qnWW3VV6CjtaBXSUGGhiTWJ6ereOIkUvenif66Q==\n  dependencies:\n    regenerator-runtime \"^0.13.10\"\n\nlocal@file:../local:\n  version \"1.0.0\"\n";
        let got = parse_yarn(text).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            (got[0].name.as_str(), got[0].version.as_str()),
            ("@babel/runtime", "7.20.0")
        );
        assert!(got[0].integrity.is_some());
    }
}
