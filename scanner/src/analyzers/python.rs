//! Installed Python distributions: `*.dist-info/METADATA` (wheel installs) and
//! `*.egg-info/PKG-INFO` or a bare `*.egg-info` file (setuptools installs). Both use the
//! core-metadata header format (RFC 822 headers, body after the first blank line).

use super::{field, rfc822_fields};
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package, purl};

pub fn wants(path: &str) -> bool {
    path.ends_with(".dist-info/METADATA")
        || path.ends_with(".egg-info/PKG-INFO")
        || path.ends_with(".egg-info")
}

pub fn analyze(fs: &ImageFs, warnings: &mut Warnings) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, data, layer) in fs.files() {
        if !wants(path) {
            continue;
        }
        match parse_metadata(&String::from_utf8_lossy(data)) {
            Some((name, version, licenses)) => out.push(Package {
                purl: purl(Ecosystem::PyPI, None, &name, &version, &[]),
                name,
                version,
                ecosystem: Ecosystem::PyPI,
                source_name: None,
                source_version: None,
                licenses,
                layer: fs.layer_digest(layer),
                path: path.to_string(),
            }),
            None => warnings.push(format!("{path}: no Name/Version in Python metadata")),
        }
    }
    out
}

/// Name, version and licenses from core metadata headers.
pub fn parse_metadata(text: &str) -> Option<(String, String, Vec<String>)> {
    let headers = text.split("\n\n").next().unwrap_or("");
    let f = rfc822_fields(headers);
    let name = field(&f, "Name")?.to_string();
    let version = field(&f, "Version")?.to_string();
    if name.is_empty() || version.is_empty() {
        return None;
    }
    let mut licenses = Vec::new();
    if let Some(e) = field(&f, "License-Expression") {
        licenses.push(e.to_string());
    } else if let Some(l) = field(&f, "License")
        .filter(|l| !l.is_empty() && *l != "UNKNOWN" && l.len() < 100 && !l.contains('\n'))
    {
        licenses.push(l.to_string());
    }
    if licenses.is_empty() {
        for (k, v) in &f {
            if k.eq_ignore_ascii_case("Classifier") {
                if let Some(l) = v.strip_prefix("License :: ") {
                    licenses.push(l.rsplit(" :: ").next().unwrap_or(l).to_string());
                }
            }
        }
    }
    Some((name, version, licenses))
}

#[cfg(test)]
mod tests {
    #[test]
    fn core_metadata() {
        let t = "Metadata-Version: 2.1\nName: Django\nVersion: 2.2\nLicense: BSD\nClassifier: License :: OSI Approved :: BSD License\n\nName: body text\n";
        let (n, v, l) = super::parse_metadata(t).unwrap();
        assert_eq!((n.as_str(), v.as_str()), ("Django", "2.2"));
        assert_eq!(l, vec!["BSD"]);
        assert!(super::parse_metadata("Metadata-Version: 2.1\n").is_none());
    }
}
