//! Reading SBOM documents (Wharf's, Syft's, Trivy's; SPDX 2.x JSON or CycloneDX JSON) back
//! into a package inventory: for `wharf scan --sbom` and for comparing tools.
//! Everything from outside is bounded and checked: a clear error, never a panic.

use std::io::Read;

use serde_json::Value;
use sha2::{Digest, Sha256};
use wharf_scanner::inventory::{Distro, Ecosystem, Inventory, Package};

use crate::supplier::{Supplier, read_checksums};
use crate::{Error, Format, Result};

/// Largest SBOM document we read (Syft's SBOM of a large image is a few tens of MiB).
pub const MAX_SBOM: u64 = 64 << 20;

/// First 16 hex digits of sha256 over the parts (NUL-separated): short stable identifiers.
pub(crate) fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

/// A name-based (v5) UUID of the content, so serial numbers and namespaces are stable.
pub(crate) fn content_uuid(parts: &[&str]) -> String {
    // Namespace: the v5 UUID of "wharf.dev" in the DNS namespace.
    let ns = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"wharf.dev");
    uuid::Uuid::new_v5(&ns, parts.join("\0").as_bytes()).to_string()
}

/// Reads and parses a document from a file, refusing anything over `max` bytes.
pub fn read_file(path: &std::path::Path, max: u64) -> Result<(Format, Value)> {
    let io = |e| Error::Io {
        path: path.display().to_string(),
        source: e,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    if size > max {
        return Err(Error::TooLarge { size, max });
    }
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > max {
        return Err(Error::TooLarge {
            size: buf.len() as u64,
            max,
        });
    }
    parse_bytes(&buf)
}

/// Parses a document and recognises its format.
pub fn parse_bytes(buf: &[u8]) -> Result<(Format, Value)> {
    let doc: Value =
        serde_json::from_slice(buf).map_err(|e| Error::BadDocument(format!("not JSON: {e}")))?;
    let fmt = Format::detect(&doc).ok_or_else(|| {
        Error::BadDocument(
            "neither SPDX JSON (no spdxVersion) nor CycloneDX JSON (no bomFormat: CycloneDX)"
                .into(),
        )
    })?;
    Ok((fmt, doc))
}

/// A parsed Package URL: type, namespace, name, version, qualifiers (decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    pub ty: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub qualifiers: Vec<(String, String)>,
}

/// Decodes `%XX`; a `%` not followed by two hex digits stays as it is.
fn pct_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl Purl {
    /// Parses `pkg:type/namespace/name@version?qualifiers#subpath` (purl-spec).
    pub fn parse(s: &str) -> Option<Purl> {
        let rest = s.strip_prefix("pkg:")?;
        let rest = rest.split('#').next()?;
        let (rest, quals) = match rest.split_once('?') {
            Some((r, q)) => (r, q),
            None => (rest, ""),
        };
        let (ty, path) = rest.split_once('/')?;
        let path = path.trim_matches('/');
        let (path, version) = match path.rsplit_once('@') {
            Some((p, v)) => (p, Some(pct_decode(v))),
            None => (path, None),
        };
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, n)) => (Some(pct_decode(ns)), pct_decode(n)),
            None => (None, pct_decode(path)),
        };
        if name.is_empty() || ty.is_empty() {
            return None;
        }
        let qualifiers = quals
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), pct_decode(v)))
            .collect();
        Some(Purl {
            ty: ty.to_ascii_lowercase(),
            namespace,
            name,
            version,
            qualifiers,
        })
    }

    pub fn qualifier(&self, k: &str) -> Option<&str> {
        self.qualifiers
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    pub fn ecosystem(&self) -> Option<Ecosystem> {
        Some(match self.ty.as_str() {
            "deb" if self.namespace.as_deref() == Some("ubuntu") => Ecosystem::Ubuntu,
            "deb" => Ecosystem::Debian,
            "apk" => Ecosystem::Alpine,
            "rpm" => Ecosystem::Rpm,
            "pypi" => Ecosystem::PyPI,
            "npm" => Ecosystem::Npm,
            "golang" => Ecosystem::Go,
            "cargo" => Ecosystem::CratesIo,
            "maven" => Ecosystem::Maven,
            "gem" => Ecosystem::RubyGems,
            "composer" => Ecosystem::Packagist,
            "nuget" => Ecosystem::NuGet,
            "conan" => Ecosystem::Conan,
            "pub" => Ecosystem::Pub,
            "hex" => Ecosystem::Hex,
            "swift" => Ecosystem::Swift,
            "cocoapods" => Ecosystem::CocoaPods,
            "conda" => Ecosystem::Conda,
            _ => return None,
        })
    }

    /// The ecosystem's package name (namespaces that are part of the name kept).
    pub fn package_name(&self) -> String {
        match (self.ty.as_str(), &self.namespace) {
            ("npm", Some(ns)) => format!("{ns}/{}", self.name),
            ("golang", Some(ns)) => format!("{ns}/{}", self.name),
            ("maven", Some(ns)) => format!("{ns}:{}", self.name),
            ("composer", Some(ns)) => format!("{ns}/{}", self.name),
            _ => self.name.clone(),
        }
    }
}

fn str_at<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn package_from_purl(
    purl_s: &str,
    fallback_name: Option<&str>,
    version: Option<&str>,
) -> Option<Package> {
    let purl = Purl::parse(purl_s)?;
    let eco = purl.ecosystem()?;
    let version = version
        .map(String::from)
        .or_else(|| purl.version.clone())
        .unwrap_or_default();
    // Source package: Syft's `upstream=NAME[@VERSION]` qualifier on deb/rpm/apk PURLs.
    let (source_name, source_version) = match purl.qualifier("upstream") {
        Some(u) => match u.split_once('@') {
            Some((n, v)) => (Some(n.to_string()), Some(v.to_string())),
            None => (Some(u.to_string()), Some(version.clone())),
        },
        None => (None, None),
    };
    Some(Package {
        name: fallback_name
            .filter(|n| !n.is_empty())
            .map(String::from)
            .unwrap_or_else(|| purl.package_name()),
        version,
        ecosystem: eco,
        purl: purl_s.to_string(),
        source_name,
        source_version,
        licenses: Vec::new(),
        supplier: None,
        checksums: Vec::new(),
        layer: None,
        path: String::new(),
    })
}

/// Distro from a PURL's `distro=debian-12` qualifier.
fn distro_from_purl(purl_s: &str) -> Option<Distro> {
    let p = Purl::parse(purl_s)?;
    let d = p.qualifier("distro")?;
    let (id, ver) = d.rsplit_once('-')?;
    Some(Distro {
        id: id.to_string(),
        version_id: ver.to_string(),
        ..Default::default()
    })
}

/// The inventory a document describes: every package with a PURL of a known ecosystem;
/// the distro from the operating-system element or the PURLs' `distro` qualifier.
pub fn to_inventory(fmt: Format, doc: &Value) -> Result<Inventory> {
    let mut inv = Inventory::default();
    match fmt {
        Format::SpdxJson => {
            let pkgs = doc
                .get("packages")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::BadDocument("SPDX document without packages[]".into()))?;
            for p in pkgs {
                let purpose = str_at(p, "primaryPackagePurpose").unwrap_or("");
                if purpose.replace('_', "-") == "OPERATING-SYSTEM" {
                    inv.distro = Some(Distro {
                        id: str_at(p, "name").unwrap_or("").to_ascii_lowercase(),
                        version_id: str_at(p, "versionInfo").unwrap_or("").to_string(),
                        ..Default::default()
                    });
                    continue;
                }
                let purl = p
                    .get("externalRefs")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .find(|r| str_at(r, "referenceType") == Some("purl"))
                    .and_then(|r| str_at(r, "referenceLocator"));
                let Some(purl) = purl else { continue };
                let Some(mut pkg) =
                    package_from_purl(purl, str_at(p, "name"), str_at(p, "versionInfo"))
                else {
                    continue;
                };
                if let Some(l) =
                    str_at(p, "licenseDeclared").filter(|l| !matches!(*l, "NOASSERTION" | "NONE"))
                {
                    pkg.licenses.push(l.to_string());
                }
                pkg.supplier = str_at(p, "supplier").and_then(Supplier::from_spdx);
                pkg.checksums = read_checksums(p.get("checksums"));
                if inv.distro.is_none() && pkg.ecosystem.is_os() {
                    inv.distro = distro_from_purl(purl);
                }
                inv.packages.push(pkg);
            }
        }
        Format::CycloneDxJson => {
            let mut stack: Vec<&Value> = doc
                .get("components")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let mut seen = 0usize;
            while let Some(c) = stack.pop() {
                seen += 1;
                if seen > 10_000_000 {
                    return Err(Error::BadDocument("too many components".into()));
                }
                if let Some(sub) = c.get("components").and_then(Value::as_array) {
                    stack.extend(sub.iter());
                }
                if str_at(c, "type") == Some("operating-system") {
                    inv.distro = Some(Distro {
                        id: str_at(c, "name").unwrap_or("").to_ascii_lowercase(),
                        version_id: str_at(c, "version").unwrap_or("").to_string(),
                        ..Default::default()
                    });
                    continue;
                }
                let Some(purl) = str_at(c, "purl") else {
                    continue;
                };
                let Some(mut pkg) =
                    package_from_purl(purl, str_at(c, "name"), str_at(c, "version"))
                else {
                    continue;
                };
                let prop = |name: &str| {
                    c.get("properties")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .find(|p| str_at(p, "name") == Some(name))
                        .and_then(|p| str_at(p, "value"))
                };
                if let Some(s) = prop(crate::cyclonedx::PROP_SOURCE) {
                    let mut it = s.splitn(2, ' ');
                    pkg.source_name = it.next().map(String::from);
                    pkg.source_version = it.next().map(String::from);
                }
                if let Some(s) = prop("aquasecurity:trivy:SrcName") {
                    pkg.source_name = Some(s.to_string());
                    pkg.source_version = prop("aquasecurity:trivy:SrcVersion").map(String::from);
                }
                pkg.layer = prop(crate::cyclonedx::PROP_LAYER).map(String::from);
                if let Some(loc) = c
                    .pointer("/evidence/occurrences/0/location")
                    .and_then(Value::as_str)
                {
                    pkg.path = loc.to_string();
                }
                if let Some(name) = c.pointer("/supplier/name").and_then(Value::as_str) {
                    let email = c
                        .pointer("/supplier/contact/0/email")
                        .and_then(Value::as_str);
                    pkg.supplier = wharf_scanner::inventory::contact(name, email);
                }
                pkg.checksums = read_checksums(c.get("hashes"));
                for l in c
                    .get("licenses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(e) = str_at(l, "expression") {
                        pkg.licenses.push(e.to_string());
                    } else if let Some(lic) = l.get("license")
                        && let Some(x) = str_at(lic, "id").or_else(|| str_at(lic, "name"))
                    {
                        pkg.licenses.push(x.to_string());
                    }
                }
                if inv.distro.is_none() && pkg.ecosystem.is_os() {
                    inv.distro = distro_from_purl(purl);
                }
                inv.packages.push(pkg);
            }
        }
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_parse_per_spec() {
        let p = Purl::parse("pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie").unwrap();
        assert_eq!(p.ty, "deb");
        assert_eq!(p.namespace.as_deref(), Some("debian"));
        assert_eq!(p.name, "curl");
        assert_eq!(p.version.as_deref(), Some("7.50.3-1"));
        assert_eq!(p.qualifier("distro"), Some("jessie"));
        let n = Purl::parse("pkg:npm/%40angular/animation@12.3.1").unwrap();
        assert_eq!(n.package_name(), "@angular/animation");
        assert!(Purl::parse("not a purl").is_none());
        assert!(Purl::parse("pkg:").is_none());
        assert!(Purl::parse("pkg:x/%").is_some());
        assert_eq!(pct_decode("a%2"), "a%2");
    }

    #[test]
    fn garbage_documents_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"{}",
            b"{\"spdxVersion\":\"SPDX-2.3\"}",
            b"\xff\xfe",
        ] {
            match parse_bytes(bad) {
                Err(_) => {}
                Ok((f, d)) => assert!(to_inventory(f, &d).is_err(), "{bad:?}"),
            }
        }
        let (f, d) = parse_bytes(br#"{"bomFormat":"CycloneDX","components":[{"purl":7},{"purl":"pkg:pypi/x@1","licenses":[1,{"license":{}}]}]}"#).unwrap();
        let inv = to_inventory(f, &d).unwrap();
        assert_eq!(inv.packages.len(), 1);
    }
}
