//! Image references: `[host[:port]/]repo[:tag][@digest]`, parsed as Docker parses them.

use oci_client::Reference;

use crate::{Error, Result};

/// Parses a docker image reference without oci-spec's reference regex: compiling that
/// (Unicode) regex costs ~100 ms, most of a `wharf verify` run. Same grammar and
/// normalisation as distribution's `reference` package: `docker.io` and `library/`
/// defaults, tag `latest` when neither tag nor digest is given.
pub fn parse_reference(image: &str) -> Result<Reference> {
    let bad = |why: &str| Error::BadReference(image.to_string(), why.to_string());
    if image.is_empty() || image.len() > 1024 {
        return Err(bad("empty or too long"));
    }
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let (alg, hex) = d
            .split_once(':')
            .ok_or_else(|| bad("digest must be algorithm:hex"))?;
        let len = match alg {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return Err(bad("unsupported digest algorithm")),
        };
        if hex.len() != len
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("digest hex is malformed"));
        }
    }
    let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
            && !t.starts_with(['.', '-']);
        if !ok {
            return Err(bad("invalid tag"));
        }
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let registry = if registry == "index.docker.io" {
        "docker.io".to_string()
    } else {
        registry
    };
    let repository = if registry == "docker.io" && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    let (host, port) = match registry.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (registry.as_str(), None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if !host_ok || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad("invalid registry host"));
    }
    if repository.is_empty() || repository.len() > 255 {
        return Err(bad("repository name empty or longer than 255"));
    }
    for component in repository.split('/') {
        let b = component.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        let seps_ok = component
            .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .all(|sep| sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-'));
        if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) || !seps_ok {
            return Err(bad(
                "repository path components are lowercase letters, digits and single separators",
            ));
        }
    }
    Ok(match (tag, digest) {
        (Some(t), Some(d)) => {
            Reference::with_tag_and_digest(registry, repository, t.into(), d.into())
        }
        (None, Some(d)) => Reference::with_digest(registry, repository, d.into()),
        (Some(t), None) => Reference::with_tag(registry, repository, t.into()),
        (None, None) => Reference::with_tag(registry, repository, "latest".into()),
    })
}

/// Like [`parse_reference`], but refuses references without a registry host, so a typo
/// never silently goes to Docker Hub (the scanner and SBOM verbs take remote images only
/// when they say where).
pub fn parse_remote_reference(s: &str) -> Result<Reference> {
    let host = s.split('/').next().unwrap_or("");
    if !s.contains('/') || !(host.contains('.') || host.contains(':') || host == "localhost") {
        return Err(Error::BadReference(
            s.into(),
            "a registry reference needs a host: HOST[:PORT]/REPO[:TAG|@DIGEST]".into(),
        ));
    }
    parse_reference(s)
}

/// The same repository as `r`, pinned to `digest`.
pub fn with_digest(r: &Reference, digest: &str) -> Reference {
    Reference::with_digest(
        r.registry().to_string(),
        r.repository().to_string(),
        digest.to_string(),
    )
}

/// The same repository as `r`, at `tag`.
pub fn with_tag(r: &Reference, tag: &str) -> Reference {
    Reference::with_tag(
        r.registry().to_string(),
        r.repository().to_string(),
        tag.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_like_docker() {
        let d = format!("sha256:{}", "a".repeat(64));
        let cases = [
            (
                "busybox",
                "docker.io",
                "library/busybox",
                Some("latest"),
                None,
            ),
            (
                "index.docker.io/me/app:1.0",
                "docker.io",
                "me/app",
                Some("1.0"),
                None,
            ),
            (
                "127.0.0.1:5000/team/app:v1",
                "127.0.0.1:5000",
                "team/app",
                Some("v1"),
                None,
            ),
            (
                "localhost/a_b/c-d:x",
                "localhost",
                "a_b/c-d",
                Some("x"),
                None,
            ),
        ];
        for (input, reg, repo, tag, digest) in cases {
            let r = parse_reference(input).unwrap();
            assert_eq!(
                (r.registry(), r.repository(), r.tag(), r.digest()),
                (reg, repo, tag, digest),
                "{input}"
            );
            // Agrees with oci-spec's regex parser.
            let o: Reference = input.parse().unwrap();
            assert_eq!(
                (o.registry(), o.repository(), o.tag()),
                (r.registry(), r.repository(), r.tag()),
                "{input}"
            );
        }
        let r = parse_reference(&format!("ghcr.io/o/r@{d}")).unwrap();
        assert_eq!((r.tag(), r.digest()), (None, Some(d.as_str())));
        let r = parse_reference(&format!("ghcr.io/o/r:t@{d}")).unwrap();
        assert_eq!((r.tag(), r.digest()), (Some("t"), Some(d.as_str())));
        for bad in [
            "",
            "UPPER/case",
            "a//b",
            "r.io/a/",
            "r.io/a:",
            "r.io/a:-x",
            "r.io/a@sha256:abc",
            "r.io/a@md5:0000",
            "r.io:port/a",
            "-bad.io/a/b",
            "r.io/a..b",
            "r.io/a/b:t g",
        ] {
            assert!(parse_reference(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn remote_references_need_a_host() {
        assert!(parse_remote_reference("127.0.0.1:5000/small:v1").is_ok());
        assert!(parse_remote_reference("localhost/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000").is_ok());
        assert!(parse_remote_reference("ubuntu:22.04").is_err());
        assert!(parse_remote_reference("library/ubuntu").is_err());
        let r = parse_remote_reference("ghcr.io/a/b:1").unwrap();
        assert_eq!(r.registry(), "ghcr.io");
        assert_eq!(r.repository(), "a/b");
        assert_eq!(r.tag(), Some("1"));
    }
}
