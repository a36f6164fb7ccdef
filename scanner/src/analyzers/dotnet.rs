//! .NET: `*.deps.json` (the runtime's dependency manifest written next to every published
//! application), NuGet's `packages.lock.json`, and `packages.config` (the package list of
//! projects from before PackageReference: `<package id= version= />`). Only NuGet packages
//! are reported: projects of the solution itself are not packages anyone publishes
//! advisories for (Trivy the same). A `packages.config` entry marked
//! `developmentDependency="true"` is a build-time tool NuGet does not copy into the
//! application's output, left out as Trivy leaves it out.

use std::collections::BTreeSet;

use serde_json::Value;

use super::lang_package;
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package};

pub fn wants(path: &str) -> bool {
    is_deps_json(path)
        || path == "packages.lock.json"
        || path.ends_with("/packages.lock.json")
        || is_packages_config(path)
}

fn is_packages_config(path: &str) -> bool {
    path == "packages.config" || path.ends_with("/packages.config")
}

fn is_deps_json(path: &str) -> bool {
    path.ends_with(".deps.json")
}

pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files().filter(|(p, _, _)| wants(p)) {
        if is_packages_config(path) {
            match parse_packages_config(&String::from_utf8_lossy(data)) {
                Ok(found) => out.extend(found.into_iter().map(|(name, version)| {
                    lang_package(fs, Ecosystem::NuGet, None, &name, &version, path, layer)
                })),
                Err(e) => warnings.push(format!("{path}: {e}")),
            }
            continue;
        }
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

/// `<packages><package id="Newtonsoft.Json" version="13.0.1" targetFramework="net472"/>…`:
/// each (id, version) once, development-only packages left out.
pub fn parse_packages_config(text: &str) -> Result<BTreeSet<(String, String)>, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("invalid XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "packages" {
        return Err(format!(
            "the root element is <{}>, not <packages>",
            root.tag_name().name()
        ));
    }
    let mut found = BTreeSet::new();
    for pkg in root
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "package")
    {
        let dev = pkg
            .attribute("developmentDependency")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1");
        let (Some(id), Some(version)) = (pkg.attribute("id"), pkg.attribute("version")) else {
            continue;
        };
        let (id, version) = (id.trim(), version.trim());
        if dev || id.is_empty() || version.is_empty() {
            continue;
        }
        found.insert((id.to_string(), version.to_string()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_config() {
        let found = parse_packages_config(
            r#"<?xml version="1.0" encoding="utf-8"?>
<packages>
  <package id="Newtonsoft.Json" version="13.0.1" targetFramework="net472" />
  <package id="Microsoft.Net.Compilers" version="2.4.0" developmentDependency="true" />
  <package id="NoVersion" />
  <!-- <package id="Commented" version="1.0.0" /> -->
  <package id="jQuery" version="3.4.1" targetFramework="net472" />
  <package id="jQuery" version="3.4.1" targetFramework="net48" />
</packages>"#,
        )
        .unwrap();
        let want: BTreeSet<(String, String)> = [("Newtonsoft.Json", "13.0.1"), ("jQuery", "3.4.1")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(found, want);
        assert!(parse_packages_config("<packages><package").is_err());
        assert!(parse_packages_config("<configuration/>").is_err());
        // A DTD is refused (roxmltree's default), so no entity is ever expanded: a "billion
        // laughs" document is an error, not a memory blow-up.
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]><packages><package id="&g;" version="1"/></packages>"#;
        assert!(parse_packages_config(laughs).is_err());
    }
}
