//! The image an SBOM describes: its name, manifest digest and Package URL.

use wharf_scanner::inventory::{PurlEncoding, purl_encode};
use wharf_scanner::report::ScanReport;

#[derive(Debug, Clone)]
pub struct Subject {
    /// What the user named (`host/repo:tag`, `oci:DIR:TAG`, …).
    pub reference: String,
    /// Short image name: the repository (registry) or layout directory name.
    pub name: String,
    /// `sha256:<hex>` of the image manifest, where there is one (not for `dir:`).
    pub digest: Option<String>,
    /// `pkg:oci/NAME@DIGEST?repository_url=…` (purl-spec `oci` type).
    pub purl: Option<String>,
}

impl Subject {
    pub fn from_report(r: &ScanReport) -> Subject {
        let reference = r.artifact.clone();
        let (name, repo_url) = split_name(&reference);
        let digest = r.manifest_digest.clone();
        let purl = digest.as_ref().map(|d| {
            let mut p = format!("pkg:oci/{}@{}", pct(&name.to_ascii_lowercase()), pct(d));
            if let Some(u) = &repo_url {
                p.push_str("?repository_url=");
                p.push_str(&pct(u));
            }
            p
        });
        Subject {
            reference,
            name,
            digest,
            purl,
        }
    }

    /// The hex part of the digest, for checksums.
    pub fn sha256_hex(&self) -> Option<&str> {
        self.digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
    }
}

/// (name, repository_url) of a reference.
fn split_name(reference: &str) -> (String, Option<String>) {
    let layout = ["oci:", "oci-dir:", "docker-archive:", "dir:"]
        .iter()
        .find_map(|p| reference.strip_prefix(p));
    if let Some(rest) = layout {
        let path = rest
            .rsplit_once(':')
            .map_or(rest, |(p, t)| if t.contains('/') { rest } else { p });
        let base = std::path::Path::new(path)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.to_string());
        let base = base.strip_suffix(".tar").unwrap_or(&base).to_string();
        let ok = !base.is_empty() && base != "/";
        return (if ok { base } else { "image".into() }, None);
    }
    let reference = reference
        .strip_prefix("docker://")
        .or_else(|| reference.strip_prefix("registry:"))
        .unwrap_or(reference);
    let no_digest = reference.split('@').next().unwrap_or(reference);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    let repo_path = match last.rsplit_once(':') {
        Some((_, _)) => &no_digest[..no_digest.len() - last.len() + last.rfind(':').unwrap()],
        None => no_digest,
    };
    let name = repo_path
        .rsplit('/')
        .next()
        .unwrap_or(repo_path)
        .to_string();
    (name, Some(repo_path.to_string()))
}

/// The image's purl components: the strict encoding (see `PurlEncoding`), `:` included.
fn pct(s: &str) -> String {
    purl_encode(s, PurlEncoding::Strict)
}

#[cfg(test)]
mod tests {
    use super::split_name;

    #[test]
    fn names_of_references() {
        assert_eq!(
            split_name("127.0.0.1:5000/test/pyapp:v1"),
            ("pyapp".into(), Some("127.0.0.1:5000/test/pyapp".into()))
        );
        assert_eq!(
            split_name("127.0.0.1:5000/pyapp@sha256:ab"),
            ("pyapp".into(), Some("127.0.0.1:5000/pyapp".into()))
        );
        assert_eq!(split_name("oci:/x/y/debian:bookworm").0, "debian");
        assert_eq!(split_name("dir:/").0, "image");
    }
}
