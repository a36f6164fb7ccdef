//! Installed Python distributions: `*.dist-info/METADATA` (wheel installs) and
//! `*.egg-info/PKG-INFO` or a bare `*.egg-info` file (setuptools installs). Both use the
//! core-metadata header format (RFC 822 headers, body after the first blank line).

use super::{field, rfc822_fields};
use crate::Warnings;
use crate::image::ImageFs;
use crate::inventory::{Ecosystem, Package, contact, purl};

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
            Some(m) => out.push(Package {
                purl: purl(Ecosystem::PyPI, None, &m.name, &m.version, &[]),
                name: m.name,
                version: m.version,
                ecosystem: Ecosystem::PyPI,
                source_name: None,
                source_version: None,
                licenses: m.licenses,
                supplier: m.author,
                checksums: vec![],
                layer: fs.layer_digest(layer),
                path: path.to_string(),
            }),
            None => warnings.push(format!("{path}: no Name/Version in Python metadata")),
        }
    }
    out
}

/// What core metadata says about a distribution.
#[derive(Debug, PartialEq, Eq)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub licenses: Vec<String>,
    /// `Name <email>` from `Author`/`Author-email`, else `Maintainer`/`Maintainer-email`.
    pub author: Option<String>,
}

/// The first person of a `*-email` header (`"A B" <a@b>, C <c@d>` or `a@b`) combined
/// with the plain name header.
fn person(name: Option<&str>, email: Option<&str>) -> Option<String> {
    let name = name.filter(|n| !n.is_empty() && *n != "UNKNOWN" && !n.contains('\n'));
    let email = email
        .map(|e| e.split(',').next().unwrap_or("").trim())
        .filter(|e| !e.is_empty());
    match email {
        // `"Name" <email>` carries its own name.
        Some(e) if e.contains('<') => {
            let (n, rest) = e.split_once('<')?;
            contact(
                n.trim().trim_matches('"'),
                rest.strip_suffix('>').or(Some(rest)),
            )
            .or_else(|| name.map(String::from))
        }
        Some(e) => contact(name.unwrap_or(""), Some(e)),
        None => name.map(String::from),
    }
}

/// Name, version, licenses and author from core metadata headers.
pub fn parse_metadata(text: &str) -> Option<Metadata> {
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
            if k.eq_ignore_ascii_case("Classifier")
                && let Some(l) = v.strip_prefix("License :: ")
            {
                licenses.push(l.rsplit(" :: ").next().unwrap_or(l).to_string());
            }
        }
    }
    let author = person(field(&f, "Author"), field(&f, "Author-email"))
        .or_else(|| person(field(&f, "Maintainer"), field(&f, "Maintainer-email")));
    Some(Metadata {
        name,
        version,
        licenses,
        author,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn core_metadata() {
        let t = "Metadata-Version: 2.1\nName: Django\nVersion: 2.2\nLicense: BSD\nClassifier: License :: OSI Approved :: BSD License\n\nName: body text\n";
        let m = super::parse_metadata(t).unwrap();
        assert_eq!((m.name.as_str(), m.version.as_str()), ("Django", "2.2"));
        assert_eq!(m.licenses, vec!["BSD"]);
        assert_eq!(m.author, None);
        assert!(super::parse_metadata("Metadata-Version: 2.1\n").is_none());
    }

    #[test]
    fn author_headers() {
        let author = |h: &str| {
            super::parse_metadata(&format!("Name: x\nVersion: 1\n{h}\n"))
                .unwrap()
                .author
        };
        assert_eq!(
            author("Author: Kenneth Reitz\nAuthor-email: me@kennethreitz.org").as_deref(),
            Some("Kenneth Reitz <me@kennethreitz.org>")
        );
        assert_eq!(
            author("Author-email: \"Django Software Foundation\" <foundation@djangoproject.com>, X <x@y>")
                .as_deref(),
            Some("Django Software Foundation <foundation@djangoproject.com>")
        );
        assert_eq!(
            author("Author: UNKNOWN\nMaintainer: Jane").as_deref(),
            Some("Jane")
        );
        assert_eq!(
            author("Author-email: solo@example.com").as_deref(),
            Some("<solo@example.com>")
        );
    }
}
