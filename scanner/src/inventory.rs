//! The package inventory: what an image contains, independent of any vulnerability data.

use serde::{Deserialize, Serialize};

/// A package ecosystem. Decides the version ordering and how names are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ecosystem {
    Debian,
    Ubuntu,
    Alpine,
    Rpm,
    PyPI,
    Npm,
    Go,
    CratesIo,
    Maven,
    RubyGems,
    Packagist,
    NuGet,
    Conan,
    Pub,
    Hex,
    /// Swift Package Manager packages, named by repository URL (OSV's `SwiftURL`).
    Swift,
    CocoaPods,
    /// conda packages (`conda-meta` records, `environment.yml`). No OSV ecosystem and no
    /// advisory source: inventoried only.
    Conda,
}

impl Ecosystem {
    /// The OSV ecosystem name (without a distro release suffix such as `:12`).
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::Debian => "Debian",
            Ecosystem::Ubuntu => "Ubuntu",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::Rpm => "Red Hat",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "Go",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Maven => "Maven",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::Conan => "ConanCenter",
            Ecosystem::Pub => "Pub",
            Ecosystem::Hex => "Hex",
            Ecosystem::Swift => "SwiftURL",
            Ecosystem::CocoaPods => "CocoaPods",
            Ecosystem::Conda => "conda",
        }
    }

    /// Parses an OSV ecosystem string (`PyPI`, `Debian:12`, `Alpine:v3.18`, `Rocky Linux:9`).
    /// Returns the ecosystem and the release suffix, if any.
    pub fn from_osv(s: &str) -> Option<(Ecosystem, Option<&str>)> {
        let (base, release) = match s.split_once(':') {
            Some((b, r)) => (b, Some(r)),
            None => (s, None),
        };
        let eco = match base {
            "Debian" => Ecosystem::Debian,
            "Ubuntu" => Ecosystem::Ubuntu,
            "Alpine" | "Wolfi" | "Chainguard" => Ecosystem::Alpine,
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "openSUSE" | "SUSE" | "Mageia" => {
                Ecosystem::Rpm
            }
            "PyPI" => Ecosystem::PyPI,
            "npm" => Ecosystem::Npm,
            "Go" => Ecosystem::Go,
            "crates.io" => Ecosystem::CratesIo,
            "Maven" => Ecosystem::Maven,
            "RubyGems" => Ecosystem::RubyGems,
            "Packagist" => Ecosystem::Packagist,
            "NuGet" => Ecosystem::NuGet,
            "ConanCenter" => Ecosystem::Conan,
            "Pub" => Ecosystem::Pub,
            "Hex" => Ecosystem::Hex,
            "SwiftURL" => Ecosystem::Swift,
            _ => return None,
        };
        Some((eco, release))
    }

    /// OS packages are matched per distro release through their source package.
    pub fn is_os(self) -> bool {
        matches!(
            self,
            Ecosystem::Debian | Ecosystem::Ubuntu | Ecosystem::Alpine | Ecosystem::Rpm
        )
    }

    /// The key used to look a package up: each ecosystem's own name-equivalence rule.
    pub fn normalize_name(self, name: &str) -> String {
        match self {
            // PEP 503: case-insensitive, runs of `-`, `_`, `.` are equal.
            Ecosystem::PyPI => {
                let mut out = String::with_capacity(name.len());
                let mut sep = false;
                for c in name.chars() {
                    if matches!(c, '-' | '_' | '.') {
                        sep = true;
                    } else {
                        if sep && !out.is_empty() {
                            out.push('-');
                        }
                        sep = false;
                        out.push(c.to_ascii_lowercase());
                    }
                }
                out
            }
            Ecosystem::Debian
            | Ecosystem::Ubuntu
            | Ecosystem::Alpine
            | Ecosystem::Packagist
            | Ecosystem::NuGet => name.to_ascii_lowercase(),
            // crates.io treats `-` and `_` as the same name.
            Ecosystem::CratesIo => name.replace('_', "-"),
            _ => name.to_string(),
        }
    }

    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::Debian | Ecosystem::Ubuntu => "deb",
            Ecosystem::Alpine => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "golang",
            Ecosystem::CratesIo => "cargo",
            Ecosystem::Maven => "maven",
            Ecosystem::RubyGems => "gem",
            Ecosystem::Packagist => "composer",
            Ecosystem::NuGet => "nuget",
            Ecosystem::Conan => "conan",
            Ecosystem::Pub => "pub",
            Ecosystem::Hex => "hex",
            Ecosystem::Swift => "swift",
            Ecosystem::CocoaPods => "cocoapods",
            Ecosystem::Conda => "conda",
        }
    }
}

/// The operating system found in `/etc/os-release` (or a distro-specific release file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// `ID=` (debian, ubuntu, alpine, rhel, …).
    pub id: String,
    /// `VERSION_ID=` (12, 22.04, 3.18.4, …).
    pub version_id: String,
    pub version_codename: Option<String>,
    pub pretty_name: Option<String>,
}

impl Distro {
    /// The OSV ecosystem release for this distro, e.g. `Debian:12`, `Alpine:v3.18`.
    pub fn osv_ecosystem(&self) -> Option<String> {
        let major_minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
        match self.id.as_str() {
            "debian" => Some(format!(
                "Debian:{}",
                self.version_id.split('.').next().unwrap_or("")
            )),
            "ubuntu" => Some(format!("Ubuntu:{}", self.version_id)),
            "alpine" => Some(format!("Alpine:v{}", major_minor(&self.version_id))),
            "rocky" => Some(format!(
                "Rocky Linux:{}",
                self.version_id.split('.').next().unwrap_or("")
            )),
            "almalinux" => Some(format!(
                "AlmaLinux:{}",
                self.version_id.split('.').next().unwrap_or("")
            )),
            _ => None,
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub ecosystem: Ecosystem,
    pub purl: String,
    /// Source package (dpkg `Source:`, RPM source RPM, apk origin) where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub licenses: Vec<String>,
    /// Who the package's own metadata names as maintainer or author (`Name <email>`):
    /// dpkg `Maintainer`, apk `m:`, RPM `Packager`/`Vendor`, Python `Author`, npm `author`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub supplier: Option<String>,
    /// Digests of the package as distributed, where its metadata records one
    /// (Cargo.lock `checksum`, Go module `h1:`, npm `_integrity`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub checksums: Vec<Checksum>,
    /// Digest of the layer that last wrote the file the package was found in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// The file (inside the image) the package was found in.
    pub path: String,
}

/// A hash algorithm SBOM formats know by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HashAlgorithm {
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
    #[serde(rename = "SHA384")]
    Sha384,
    #[serde(rename = "SHA512")]
    Sha512,
}

impl HashAlgorithm {
    /// SPDX 2.3 `checksums[].algorithm`.
    pub fn spdx_name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "SHA1",
            HashAlgorithm::Sha256 => "SHA256",
            HashAlgorithm::Sha384 => "SHA384",
            HashAlgorithm::Sha512 => "SHA512",
        }
    }

    /// CycloneDX `hashes[].alg`.
    pub fn cyclonedx_name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "SHA-1",
            HashAlgorithm::Sha256 => "SHA-256",
            HashAlgorithm::Sha384 => "SHA-384",
            HashAlgorithm::Sha512 => "SHA-512",
        }
    }

    pub fn from_name(s: &str) -> Option<HashAlgorithm> {
        match s.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Some(HashAlgorithm::Sha1),
            "SHA256" => Some(HashAlgorithm::Sha256),
            "SHA384" => Some(HashAlgorithm::Sha384),
            "SHA512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    fn len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

/// A digest of a package, lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: HashAlgorithm,
    pub value: String,
}

impl Checksum {
    /// From hex; `None` unless the length fits the algorithm.
    pub fn from_hex(algorithm: HashAlgorithm, hex: &str) -> Option<Checksum> {
        let ok = hex.len() == algorithm.len() * 2 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| Checksum {
            algorithm,
            value: hex.to_ascii_lowercase(),
        })
    }

    fn from_base64(algorithm: HashAlgorithm, b64: &str) -> Option<Checksum> {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()?;
        (raw.len() == algorithm.len()).then(|| Checksum {
            algorithm,
            value: hex::encode(raw),
        })
    }

    /// A Subresource Integrity string as npm writes it (`sha512-<base64>`); the strongest
    /// of several space-separated hashes.
    pub fn from_sri(s: &str) -> Option<Checksum> {
        s.split_whitespace()
            .filter_map(|h| {
                let (alg, b64) = h.split_once('-')?;
                Checksum::from_base64(HashAlgorithm::from_name(alg)?, b64)
            })
            .max_by_key(|c| c.algorithm)
    }

    /// A Go module hash (`h1:<base64 SHA-256>`), reported as SHA-256 as Syft does.
    pub fn from_go_h1(s: &str) -> Option<Checksum> {
        Checksum::from_base64(HashAlgorithm::Sha256, s.strip_prefix("h1:")?)
    }
}

/// `Name <email>` from a name and an optional email, the form maintainer fields use.
pub fn contact(name: &str, email: Option<&str>) -> Option<String> {
    let name = name.trim();
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    match (name.is_empty(), email) {
        (false, Some(e)) => Some(format!("{name} <{e}>")),
        (false, None) => Some(name.to_string()),
        (true, Some(e)) => Some(format!("<{e}>")),
        (true, None) => None,
    }
}

/// Everything found in an image.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Inventory {
    pub distro: Option<Distro>,
    pub packages: Vec<Package>,
}

/// Builds a Package URL (<https://github.com/package-url/purl-spec>).
pub fn purl(
    eco: Ecosystem,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut s = format!("pkg:{}/", eco.purl_type());
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        for seg in ns.split('/').filter(|s| !s.is_empty()) {
            s.push_str(&pct(seg));
            s.push('/');
        }
    }
    let name = match eco {
        // purl-spec: pypi names are lowercased with `_` replaced by `-`.
        Ecosystem::PyPI => name.to_ascii_lowercase().replace('_', "-"),
        _ => name.to_string(),
    };
    s.push_str(&pct(&name));
    if !version.is_empty() {
        s.push('@');
        s.push_str(&pct(version));
    }
    let mut quals: Vec<_> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    quals.sort();
    for (i, (k, v)) in quals.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&pct(v));
    }
    s
}

/// Package URL percent-encoding, the one encoder every purl Wharf writes goes through.
/// Two sets, because two kinds of purl are written and each already has readers:
///
/// - [`PurlEncoding::Component`] for packages: everything but the spec's unreserved
///   characters (`A-Z a-z 0-9 . - _ ~`) and `:`, which the spec leaves unencoded, so that
///   Debian/RPM epochs read `1:2.36` as other SBOM tools write them.
/// - [`PurlEncoding::Strict`] for the image itself (`pkg:oci/…`, in wharf-sbom): `:` is
///   encoded too, as in the spec's `oci` examples (`@sha256%3A…`), and so is the `/` and
///   port `:` of `repository_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurlEncoding {
    Component,
    Strict,
}

/// The spec's unreserved characters stay; everything else is encoded.
const PURL_STRICT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');
const PURL_COMPONENT: &percent_encoding::AsciiSet = &PURL_STRICT.remove(b':');

/// Percent-encodes one purl component (upper-case hex, per the spec).
pub fn purl_encode(s: &str, how: PurlEncoding) -> String {
    let set = match how {
        PurlEncoding::Component => PURL_COMPONENT,
        PurlEncoding::Strict => PURL_STRICT,
    };
    percent_encoding::utf8_percent_encode(s, set).to_string()
}

fn pct(s: &str) -> String {
    purl_encode(s, PurlEncoding::Component)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_normalization() {
        let n = |s| Ecosystem::PyPI.normalize_name(s);
        assert_eq!(n("Django"), "django");
        assert_eq!(n("zope.interface"), "zope-interface");
        assert_eq!(n("Foo__Bar-.baz"), "foo-bar-baz");
        assert_eq!(n("PyYAML"), "pyyaml");
    }

    #[test]
    fn purl_examples_from_the_spec() {
        assert_eq!(
            purl(
                Ecosystem::Debian,
                Some("debian"),
                "curl",
                "7.50.3-1",
                &[("arch", "i386"), ("distro", "jessie")]
            ),
            "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie"
        );
        assert_eq!(
            purl(Ecosystem::Npm, Some("@angular"), "animation", "12.3.1", &[]),
            "pkg:npm/%40angular/animation@12.3.1"
        );
        assert_eq!(
            purl(Ecosystem::PyPI, None, "Django_Foo", "1.11.1", &[]),
            "pkg:pypi/django-foo@1.11.1"
        );
        assert_eq!(
            purl(
                Ecosystem::Go,
                Some("github.com/gorilla"),
                "context",
                "v1.1.1",
                &[]
            ),
            "pkg:golang/github.com/gorilla/context@v1.1.1"
        );
        assert_eq!(
            purl(Ecosystem::CratesIo, None, "rand", "1.0.0+build", &[]),
            "pkg:cargo/rand@1.0.0%2Bbuild"
        );
    }

    /// purl-spec: `:` need not be encoded in components; the `oci` type's examples encode
    /// the digest's (`sha256%3A…`). Non-ASCII is encoded as UTF-8 bytes.
    #[test]
    fn the_two_purl_encodings() {
        let both = |s| {
            (
                purl_encode(s, PurlEncoding::Component),
                purl_encode(s, PurlEncoding::Strict),
            )
        };
        assert_eq!(both("1:2.36-9"), ("1:2.36-9".into(), "1%3A2.36-9".into()));
        assert_eq!(
            both("sha256:ab"),
            ("sha256:ab".into(), "sha256%3Aab".into())
        );
        assert_eq!(
            both("a b/c@d~e_f"),
            ("a%20b%2Fc%40d~e_f".into(), "a%20b%2Fc%40d~e_f".into())
        );
        assert_eq!(both("é").0, "%C3%A9");
    }
}
