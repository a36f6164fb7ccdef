//! Debian/Ubuntu packages from dpkg's database: `var/lib/dpkg/status` and the one-file-per-
//! package `var/lib/dpkg/status.d/` that distroless images use. Licenses come from
//! machine-readable (DEP-5) `usr/share/doc/PKG/copyright` files where present.

use std::collections::BTreeSet;

use super::{field, rfc822_fields};
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Distro, Ecosystem, Package, purl};

pub fn wants(path: &str) -> bool {
    path == "var/lib/dpkg/status"
        || path
            .strip_prefix("var/lib/dpkg/status.d/")
            .is_some_and(|n| !n.contains('/') && !n.ends_with(".md5sums"))
        || path
            .strip_prefix("usr/share/doc/")
            .is_some_and(|r| r.ends_with("/copyright") && r.matches('/').count() == 1)
}

pub fn analyze(fs: &ImageFs, distro: Option<&Distro>, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files() {
        if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/") {
            let text = String::from_utf8_lossy(data);
            let before = out.len();
            parse_status(&text, path, fs.layer_digest(layer), distro, &mut out);
            if out.len() == before && !text.trim().is_empty() && path == "var/lib/dpkg/status" {
                warnings.push(format!("{path}: no installed packages could be parsed"));
            }
        }
    }
    super::attribute_layers(fs, "var/lib/dpkg/status", &mut out, |text| {
        let mut v = Vec::new();
        parse_status(text, "var/lib/dpkg/status", None, distro, &mut v);
        v
    });
    for p in &mut out {
        if let Some((data, _)) = fs.read(&format!("usr/share/doc/{}/copyright", p.name)) {
            p.licenses = copyright_licenses(&String::from_utf8_lossy(data));
        }
    }
    out
}

/// Parses dpkg status paragraphs, keeping installed packages.
pub fn parse_status(
    text: &str,
    path: &str,
    layer: Option<String>,
    distro: Option<&Distro>,
    out: &mut Vec<Package>,
) {
    let (ns, distro_q) = match distro {
        Some(d) => (d.id.clone(), format!("{}-{}", d.id, d.version_id)),
        None => ("debian".to_string(), String::new()),
    };
    let eco = if ns == "ubuntu" {
        Ecosystem::Ubuntu
    } else {
        Ecosystem::Debian
    };
    for par in text.split("\n\n") {
        let f = rfc822_fields(par);
        let (Some(name), Some(version)) = (field(&f, "Package"), field(&f, "Version")) else {
            continue;
        };
        // Status is "want flag state"; distroless status.d entries have no Status at all.
        if let Some(status) = field(&f, "Status")
            && status.split_whitespace().nth(2) != Some("installed")
        {
            continue;
        }
        let arch = field(&f, "Architecture").unwrap_or("");
        // Source: "name" or "name (version)" when it differs from the binary version.
        let (source_name, source_version) = match field(&f, "Source") {
            Some(s) => match s.split_once(' ') {
                Some((n, v)) => (
                    Some(n.to_string()),
                    Some(
                        v.trim()
                            .trim_start_matches('(')
                            .trim_end_matches(')')
                            .to_string(),
                    ),
                ),
                None => (Some(s.to_string()), None),
            },
            None => (None, None),
        };
        let mut quals: Vec<(&str, &str)> = vec![("arch", arch), ("distro", distro_q.as_str())];
        let upstream = source_name.clone().map(|s| match &source_version {
            Some(v) => format!("{s}@{v}"),
            None => s,
        });
        if let Some(u) = upstream.as_deref().filter(|u| *u != name) {
            quals.push(("upstream", u));
        }
        out.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            ecosystem: eco,
            purl: purl(eco, Some(&ns), name, version, &quals),
            source_name,
            source_version,
            licenses: Vec::new(),
            supplier: field(&f, "Maintainer")
                .filter(|m| !m.is_empty())
                .map(String::from),
            checksums: vec![],
            layer: layer.clone(),
            path: path.to_string(),
        });
    }
}

/// `License:` short names from a DEP-5 copyright file, deduplicated.
pub fn copyright_licenses(text: &str) -> Vec<String> {
    let mut set = BTreeSet::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("License:") {
            let v = v.trim();
            if !v.is_empty() && v.len() < 100 {
                set.insert(v.to_string());
            }
        }
    }
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_paragraphs() {
        let text = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nDescription: x\n continued\n\n\
                    Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                    Package: bsdutils\nStatus: install ok installed\nArchitecture: amd64\nSource: util-linux (2.38.1-5)\nVersion: 1:2.38.1-5+b1\n";
        let d = Distro {
            id: "debian".into(),
            version_id: "12".into(),
            ..Default::default()
        };
        let mut out = vec![];
        parse_status(text, "var/lib/dpkg/status", None, Some(&d), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].source_name.as_deref(), Some("glibc"));
        assert_eq!(
            out[0].purl,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(
            out[0].supplier.as_deref(),
            Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>")
        );
        assert_eq!(out[1].supplier, None);
        assert_eq!(out[1].version, "1:2.38.1-5+b1");
        assert_eq!(out[1].source_version.as_deref(), Some("2.38.1-5"));
    }

    #[test]
    fn dep5_licenses() {
        let t = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: x\nLicense: BSD-3-clause\n text\n\nLicense: GPL-2+\n";
        assert_eq!(copyright_licenses(t), vec!["BSD-3-clause", "GPL-2+"]);
    }
}
