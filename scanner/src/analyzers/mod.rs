//! Analyzers turn the captured files of an image into packages. [`classify`] decides, for
//! each path as the layer streams past, whether an analyzer needs it at all.

pub mod apk;
pub mod binary;
mod bun_lock;
pub mod cargo_lock;
pub mod cocoapods;
pub mod conan;
pub mod conda;
pub mod dart;
pub mod dotnet;
pub mod dpkg;
pub mod elixir;
pub mod java;
pub mod node;
mod node_locks;
pub mod os_release;
pub mod php;
pub mod python;
pub mod rpm;
pub mod ruby;
pub mod swift;

use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Inventory, Package, purl};

/// What the layer reader should keep of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    Skip,
    /// Keep the bytes (bounded by `Limits::max_file_size`).
    Content,
    /// Inspect as a possible binary with embedded package data; keep only what is found.
    Binary,
}

/// Decides from the path (and mode, size) which analyzer needs a file.
pub fn classify(path: &str, mode: u32, size: u64) -> Capture {
    if os_release::wants(path)
        || dpkg::wants(path)
        || apk::wants(path)
        || rpm::wants(path)
        || python::wants(path)
        || node::wants(path)
        || cargo_lock::wants(path)
        || php::wants(path)
        || ruby::wants(path)
        || dotnet::wants(path)
        || conan::wants(path)
        || dart::wants(path)
        || elixir::wants(path)
        || swift::wants(path)
        || cocoapods::wants(path)
        || conda::wants(path)
    {
        return Capture::Content;
    }
    if (mode & 0o111 != 0 && size >= binary::MIN_SIZE) || java::is_archive(path) {
        return Capture::Binary;
    }
    Capture::Skip
}

/// Runs every analyzer over the filtered image filesystem.
pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Inventory {
    let distro = os_release::detect(fs);
    let mut packages: Vec<Package> = Vec::new();
    packages.extend(dpkg::analyze(fs, distro.as_ref(), warnings));
    packages.extend(apk::analyze(fs, distro.as_ref(), warnings));
    packages.extend(rpm::analyze(fs, distro.as_ref(), warnings));
    packages.extend(python::analyze(fs, warnings));
    packages.extend(node::analyze(fs, warnings));
    packages.extend(cargo_lock::analyze(fs, warnings));
    packages.extend(php::analyze(fs, warnings));
    packages.extend(ruby::analyze(fs, warnings));
    packages.extend(dotnet::analyze(fs, warnings));
    packages.extend(conan::analyze(fs, warnings));
    packages.extend(dart::analyze(fs, warnings));
    packages.extend(elixir::analyze(fs));
    packages.extend(swift::analyze(fs, warnings));
    packages.extend(cocoapods::analyze(fs, warnings));
    packages.extend(conda::analyze(fs, warnings));
    packages.extend(binary::analyze(fs));
    packages.sort_by(|a, b| {
        (a.ecosystem, &a.name, &a.version, &a.path).cmp(&(
            b.ecosystem,
            &b.name,
            &b.version,
            &b.path,
        ))
    });
    Inventory { distro, packages }
}

/// A language package read from a lock file or manifest at `path`, purl as Trivy/Syft write it.
pub(crate) fn lang_package(
    fs: &ImageFs,
    ecosystem: Ecosystem,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    path: &str,
    layer: usize,
) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        ecosystem,
        purl: purl(ecosystem, namespace, name, version, &[]),
        source_name: None,
        source_version: None,
        licenses: Vec::new(),
        supplier: None,
        checksums: Vec::new(),
        layer: fs.layer_digest(layer),
        path: path.into(),
    }
}

/// Splits an RFC 822-style paragraph (dpkg status, PKG-INFO headers) into fields,
/// folding continuation lines. Field names keep their case; lookups use `field()`.
pub(crate) fn rfc822_fields(par: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for line in par.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = out.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim(), v.trim().to_string()));
        }
    }
    out
}

pub(crate) fn field<'a>(fields: &'a [(&str, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Gives each package read from the package database at `path` the layer that installed it:
/// walking the database's earlier versions from the newest down, a package keeps the
/// older layer for as long as that version lists it at the same version (Trivy does the
/// same). `parse` reads one version of the file into its packages.
pub(crate) fn attribute_layers(
    fs: &ImageFs,
    path: &str,
    packages: &mut [Package],
    parse: impl Fn(&str) -> Vec<Package>,
) {
    let mut open: Vec<bool> = packages.iter().map(|p| p.path == path).collect();
    for (layer, data) in fs.earlier_versions(path).iter().rev() {
        if !open.contains(&true) {
            break;
        }
        let listed: std::collections::HashSet<(String, String)> =
            parse(&String::from_utf8_lossy(data))
                .into_iter()
                .map(|p| (p.name, p.version))
                .collect();
        let digest = fs.layer_digest(*layer);
        for (p, open) in packages.iter_mut().zip(open.iter_mut()) {
            if !*open {
                continue;
            }
            if listed.contains(&(p.name.clone(), p.version.clone())) {
                p.layer = digest.clone();
            } else {
                *open = false;
            }
        }
    }
}
