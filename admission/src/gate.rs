//! The boundary between the webhook and whatever decides about an image.
//!
//! The webhook finds the images, resolves tags to digests and shapes the
//! answer; a gate only says yes or no about one image. The policy evaluator is
//! one gate; [`AllowedRegistries`](super::registries::AllowedRegistries) is
//! another that needs no policy file.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

/// An image reference, split by docker's normalisation rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Registry host as docker normalises it (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path (`library/nginx` for `nginx`).
    pub repository: String,
    /// The tag; `latest` when the workload named neither tag nor digest.
    pub tag: Option<String>,
    /// `sha256:…`: written in the workload, or what the tag resolved to.
    pub digest: Option<String>,
}

/// The reference is not a valid image name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BadImageRef(pub String);

impl ImageRef {
    /// Parses `image` as the container runtime would (default registry
    /// `docker.io`, `library/` for single names, tag `latest`).
    pub fn parse(image: &str) -> Result<Self, BadImageRef> {
        let r = wharf_oci::parse_reference(image).map_err(|e| BadImageRef(e.to_string()))?;
        Ok(ImageRef {
            registry: r.registry().to_string(),
            repository: r.repository().to_string(),
            tag: r.tag().map(str::to_string),
            digest: r.digest().map(str::to_string),
        })
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same image pinned to `digest` (the tag is kept for people to read).
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

/// `registry/repository[:tag][@digest]`, the full normalised reference.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// What a gate decided about one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateVerdict {
    pub allowed: bool,
    /// One line per failed rule; shown to the user when the workload is denied.
    pub reasons: Vec<String>,
    /// Shown to the user even when allowed (kubectl prints them as `Warning:`).
    pub warnings: Vec<String>,
}

impl GateVerdict {
    pub fn allow() -> Self {
        GateVerdict {
            allowed: true,
            ..Default::default()
        }
    }

    pub fn deny(reason: impl Into<String>) -> Self {
        GateVerdict {
            allowed: false,
            reasons: vec![reason.into()],
            warnings: Vec::new(),
        }
    }
}

/// The gate could not decide (signature store unreachable, evaluator error):
/// the webhook's failure policy decides instead of the gate.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct GateError(pub String);

/// What the webhook asks about each image; the policy evaluator implements it.
#[async_trait]
pub trait ImageGate: Send + Sync {
    /// `image` is a full reference pinned to its digest when resolution
    /// succeeded (`digest` is `Some` then).
    async fn check(&self, image: &ImageRef) -> Result<GateVerdict, GateError>;

    /// A verdict from the name alone, asked before any registry is contacted.
    /// `Some` with `allowed: false` denies without resolving the tag, so the
    /// webhook never connects to a registry the policy forbids anyway.
    /// `None` (the default) means "resolve it and ask [`check`](Self::check)".
    fn check_name(&self, _image: &ImageRef) -> Option<GateVerdict> {
        None
    }
}

/// Several gates, all of which must allow. Reasons and warnings are collected
/// from every gate, so one answer lists everything wrong with an image.
pub struct AllGates(pub Vec<Arc<dyn ImageGate>>);

#[async_trait]
impl ImageGate for AllGates {
    async fn check(&self, image: &ImageRef) -> Result<GateVerdict, GateError> {
        let mut all = GateVerdict::allow();
        for gate in &self.0 {
            let v = gate.check(image).await?;
            all.allowed &= v.allowed;
            all.reasons.extend(v.reasons);
            all.warnings.extend(v.warnings);
        }
        Ok(all)
    }

    fn check_name(&self, image: &ImageRef) -> Option<GateVerdict> {
        let denials: Vec<GateVerdict> = self
            .0
            .iter()
            .filter_map(|g| g.check_name(image))
            .filter(|v| !v.allowed)
            .collect();
        if denials.is_empty() {
            return None;
        }
        let mut all = GateVerdict {
            allowed: false,
            ..Default::default()
        };
        for v in denials {
            all.reasons.extend(v.reasons);
            all.warnings.extend(v.warnings);
        }
        Some(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_like_the_runtime() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
        let d = format!("sha256:{}", "1".repeat(64));
        let r = ImageRef::parse(&format!("127.0.0.1:5000/team/app@{d}")).unwrap();
        assert_eq!(
            (r.registry.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", None)
        );
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/team/app@{d}"));
        assert_eq!(
            ImageRef::parse("ghcr.io/o/r:1")
                .unwrap()
                .with_digest(&d)
                .to_string(),
            format!("ghcr.io/o/r:1@{d}")
        );
        assert!(ImageRef::parse("Not A Reference").is_err());
    }
}
