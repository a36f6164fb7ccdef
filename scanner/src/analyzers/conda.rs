//! conda: the records a conda installer writes for every package it links into an
//! environment (`<prefix>/conda-meta/<name>-<version>-<build>.json`, conda's `PrefixRecord`),
//! and `environment.yml` / `environment.yaml` (what `conda env export` writes).
//!
//! Trivy reads `conda-meta` only under `…/envs/<env>/`; the base environment of a miniconda
//! or miniforge image (`/opt/conda/conda-meta`) holds most of such an image's packages, so
//! every `conda-meta` directory is read here. In `environment.yml`, entries under `pip:` are
//! PyPI packages (`pkg:pypi/`, matched against PyPI advisories; Trivy names them
//! `pkg:conda/`), and entries without a pinned version are left out (Trivy lists them
//! without a version).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use serde_norway::Value as Yaml;

use super::lang_package;
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Checksum, Ecosystem, HashAlgorithm, Package};

pub fn wants(path: &str) -> bool {
    is_meta_record(path) || is_environment(path)
}

/// `…/conda-meta/<file>.json`: conda keeps only package records there as JSON (its
/// `history`, `state` and `frozen` files have no `.json` suffix).
fn is_meta_record(path: &str) -> bool {
    let Some((dir, file)) = path.rsplit_once('/') else {
        return false;
    };
    (dir == "conda-meta" || dir.ends_with("/conda-meta")) && file.ends_with(".json")
}

fn is_environment(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    file == "environment.yml" || file == "environment.yaml"
}

pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files().filter(|(p, _, _)| wants(p)) {
        if is_meta_record(path) {
            match parse_meta(data) {
                Ok(Some(meta)) => {
                    let mut p = lang_package(
                        fs,
                        Ecosystem::Conda,
                        None,
                        &meta.name,
                        &meta.version,
                        path,
                        layer,
                    );
                    p.licenses.extend(meta.license);
                    p.checksums.extend(meta.sha256);
                    out.push(p);
                }
                Ok(None) => {}
                Err(e) => warnings.push(format!("{path}: {e}")),
            }
            continue;
        }
        match parse_environment(&String::from_utf8_lossy(data)) {
            Ok(deps) => {
                for d in deps {
                    out.push(lang_package(
                        fs,
                        d.ecosystem,
                        None,
                        &d.name,
                        &d.version,
                        path,
                        layer,
                    ));
                }
            }
            Err(e) => warnings.push(format!("{path}: {e}")),
        }
    }
    out
}

/// What a `conda-meta` record says about its package.
#[derive(Debug, PartialEq, Eq)]
pub struct MetaRecord {
    pub name: String,
    pub version: String,
    /// The `license` field as the package's recipe declares it (often an SPDX expression).
    pub license: Option<String>,
    /// The SHA-256 of the package archive as the channel served it.
    pub sha256: Option<Checksum>,
}

/// One record; `Ok(None)` when it names no package (no `name` or `version`).
pub fn parse_meta(data: &[u8]) -> Result<Option<MetaRecord>, String> {
    let v: Value = serde_json::from_slice(data).map_err(|e| format!("invalid JSON: {e}"))?;
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let (Some(name), Some(version)) = (text("name"), text("version")) else {
        return Ok(None);
    };
    Ok(Some(MetaRecord {
        name,
        version,
        license: text("license"),
        sha256: text("sha256").and_then(|h| Checksum::from_hex(HashAlgorithm::Sha256, &h)),
    }))
}

/// A pinned dependency of an `environment.yml`.
#[derive(Debug, PartialEq, Eq)]
pub struct EnvDependency {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
}

/// `dependencies:` of an environment file: conda match specs (`numpy=1.26.4=py311h…`,
/// `numpy==1.26.4`, `numpy 1.26.4 py311h…`, `conda-forge::numpy=1.26.4`) and a `pip:` list
/// of requirement lines (`requests==2.31.0`). Only entries pinned to one version are kept.
pub fn parse_environment(text: &str) -> Result<Vec<EnvDependency>, String> {
    let doc: Yaml = serde_norway::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let mut out = Vec::new();
    let Some(deps) = doc.get("dependencies") else {
        return Ok(out);
    };
    let Some(deps) = deps.as_sequence() else {
        return Err("`dependencies` is not a list".into());
    };
    for dep in deps {
        match dep {
            Yaml::String(spec) => {
                if let Some((name, version)) = pinned(spec) {
                    out.push(EnvDependency {
                        ecosystem: Ecosystem::Conda,
                        name,
                        version,
                    });
                }
            }
            // `- pip: [requirement, …]` (conda hands these to pip).
            Yaml::Mapping(m) => {
                for (installer, list) in m {
                    let ecosystem = match installer.as_str() {
                        Some("pip") => Ecosystem::PyPI,
                        _ => continue,
                    };
                    for spec in list.as_sequence().into_iter().flatten() {
                        if let Some((name, version)) = spec.as_str().and_then(pinned) {
                            out.push(EnvDependency {
                                ecosystem,
                                name,
                                version,
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A version conda (and Trivy, which takes the same shape) accepts as one exact version:
/// digits and dots, then an optional pre-release/letter suffix and build metadata
/// (`1.0.8`, `2024a`, `1.1.1w`, `3.0.0-rc1`).
static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^v?[0-9]+(\.[0-9]+)*(-?[0-9A-Za-z~-]+(\.[0-9A-Za-z~-]+)*)?(\+[0-9A-Za-z~-]+(\.[0-9A-Za-z~-]+)*)?$",
    )
    .expect("valid regex")
});

/// `name=1.2`, `name==1.2`, `name 1.2 build`, `name=1.2=build`, `channel::name=1.2` →
/// (name, version); `None` for a range (`>=1.2`, `1.2.*`) or no version.
fn pinned(spec: &str) -> Option<(String, String)> {
    let spec = spec.split('#').next().unwrap_or(spec);
    let spec = spec.split(';').next().unwrap_or(spec);
    let spaced = spec
        .replace('>', " >")
        .replace('<', " <")
        .replace('!', " !")
        .replace('~', " ~")
        .replace('=', " ");
    let mut parts = spaced.split_whitespace();
    let name = parts.next()?;
    // A channel (`conda-forge::numpy`) is where the package comes from, not its name.
    let name = name.rsplit_once("::").map_or(name, |(_, n)| n);
    // pip's extras (`requests[socks]`) select optional features of the same package.
    let name = name.split('[').next().unwrap_or(name);
    let version = parts.next()?;
    if name.is_empty() || !VERSION.is_match(version) {
        return None;
    }
    Some((name.to_string(), version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(wants("opt/conda/conda-meta/zlib-1.3.1-hb9d3cd8_2.json"));
        assert!(wants(
            "opt/conda/envs/app/conda-meta/zlib-1.3.1-hb9d3cd8_2.json"
        ));
        assert!(!wants("opt/conda/conda-meta/history"));
        assert!(!wants(
            "opt/conda/pkgs/zlib-1.3.1-hb9d3cd8_2/info/index.json"
        ));
        assert!(wants("srv/app/environment.yml"));
        assert!(wants("environment.yaml"));
        assert!(!wants("srv/app/my-environment.yml"));
    }

    #[test]
    fn specs() {
        let p = |s| pinned(s);
        let pair = |n: &str, v: &str| Some((n.to_string(), v.to_string()));
        assert_eq!(p("bzip2=1.0.8=h998d150_5"), pair("bzip2", "1.0.8"));
        assert_eq!(p("numpy==1.26.4"), pair("numpy", "1.26.4"));
        assert_eq!(
            p("libgcc-ng 13.2.0 h77fa898_7"),
            pair("libgcc-ng", "13.2.0")
        );
        assert_eq!(p("conda-forge::zlib=1.3.1"), pair("zlib", "1.3.1"));
        assert_eq!(p("tzdata=2024a"), pair("tzdata", "2024a"));
        assert_eq!(p("python=3.11"), pair("python", "3.11"));
        assert_eq!(p("scipy>=1.2"), None);
        assert_eq!(p("numpy=1.26.*"), None);
        assert_eq!(p("requests~=2.31"), None);
        assert_eq!(p("numpy"), None);
        assert_eq!(p("requests[socks]==2.31.0"), pair("requests", "2.31.0"));
    }

    #[test]
    fn environment_with_pip() {
        let deps = parse_environment(
            "name: t\ndependencies:\n  - python=3.11.9=hab00c5b_0\n  - pip\n  - pip:\n    - requests==2.31.0\n    - flask\nprefix: /opt/conda/envs/t\n",
        )
        .unwrap();
        assert_eq!(
            deps,
            [
                EnvDependency {
                    ecosystem: Ecosystem::Conda,
                    name: "python".into(),
                    version: "3.11.9".into()
                },
                EnvDependency {
                    ecosystem: Ecosystem::PyPI,
                    name: "requests".into(),
                    version: "2.31.0".into()
                },
            ]
        );
        assert!(parse_environment("dependencies: 3\n").is_err());
        assert!(parse_environment("dependencies: [\n").is_err());
        assert_eq!(parse_environment("name: empty\n").unwrap(), []);
    }

    #[test]
    fn meta_record() {
        let m = parse_meta(br#"{"name":"zlib","version":"1.3.1","build":"hb9d3cd8_2","license":"Zlib","sha256":"AF9DA40B0227974B78BA34CE61B32107C52574159822D5EA7C9D8CFA761CE3CF","md5":"x"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(m.name, "zlib");
        assert_eq!(m.version, "1.3.1");
        assert_eq!(m.license.as_deref(), Some("Zlib"));
        assert_eq!(
            m.sha256.unwrap().value,
            "af9da40b0227974b78ba34ce61b32107c52574159822d5ea7c9d8cfa761ce3cf"
        );
        assert_eq!(parse_meta(br#"{"name":"zlib"}"#).unwrap(), None);
        assert!(parse_meta(b"{").is_err());
    }
}
