//! `--allow-registry`: the gate that needs no policy file. Images must come
//! from one of the listed registries (or repository prefixes on them).

use async_trait::async_trait;

use super::gate::{GateError, GateVerdict, ImageGate, ImageRef};

/// Registries (`ghcr.io`, `127.0.0.1:5000`) or repository prefixes on them
/// (`ghcr.io/acme`) that images may come from.
#[derive(Debug, Clone)]
pub struct AllowedRegistries {
    entries: Vec<String>,
}

impl AllowedRegistries {
    /// Entries are normalised the way image names are: `index.docker.io` and
    /// `docker.io` are the same registry, and a trailing `/` is ignored.
    pub fn new(entries: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let entries = entries
            .into_iter()
            .map(|e| {
                let e = e.as_ref().trim().trim_end_matches('/');
                match e.split_once('/') {
                    Some(("index.docker.io", rest)) => format!("docker.io/{rest}"),
                    _ if e == "index.docker.io" => "docker.io".to_string(),
                    _ => e.to_string(),
                }
            })
            .filter(|e| !e.is_empty())
            .collect();
        AllowedRegistries { entries }
    }

    pub fn allows(&self, image: &ImageRef) -> bool {
        let name = image.name();
        self.entries.iter().any(|e| {
            if e.contains('/') {
                // A repository prefix: whole path components only (`ghcr.io/acme` ≠ `ghcr.io/acme-evil`).
                name == *e
                    || name
                        .strip_prefix(e.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            } else {
                image.registry == *e
            }
        })
    }

    fn verdict(&self, image: &ImageRef) -> GateVerdict {
        if self.allows(image) {
            GateVerdict::allow()
        } else {
            GateVerdict::deny(format!(
                "registry {} is not allowed (allowed: {})",
                image.registry,
                self.entries.join(", ")
            ))
        }
    }
}

#[async_trait]
impl ImageGate for AllowedRegistries {
    async fn check(&self, image: &ImageRef) -> Result<GateVerdict, GateError> {
        Ok(self.verdict(image))
    }

    /// Decided from the name alone: a forbidden registry is never contacted.
    fn check_name(&self, image: &ImageRef) -> Option<GateVerdict> {
        Some(self.verdict(image)).filter(|v| !v.allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(list: &[&str], image: &str) -> bool {
        AllowedRegistries::new(list).allows(&ImageRef::parse(image).unwrap())
    }

    #[test]
    fn hosts_and_repository_prefixes() {
        assert!(allowed(&["127.0.0.1:5000"], "127.0.0.1:5000/team/app:1"));
        assert!(!allowed(&["127.0.0.1:5000"], "127.0.0.1:5001/team/app:1"));
        assert!(allowed(&["docker.io"], "nginx"));
        assert!(allowed(&["index.docker.io/library"], "nginx:1.27"));
        assert!(allowed(&["ghcr.io/acme/"], "ghcr.io/acme/app"));
        assert!(!allowed(&["ghcr.io/acme"], "ghcr.io/acme-evil/app"));
        assert!(!allowed(&["ghcr.io/acme"], "ghcr.io/other/app"));
        assert!(!allowed(&[], "ghcr.io/acme/app"));
    }

    #[tokio::test]
    async fn denial_names_the_registry_and_the_list() {
        let gate = AllowedRegistries::new(["ghcr.io"]);
        let img = ImageRef::parse("busybox:1.36").unwrap();
        let v = gate.check(&img).await.unwrap();
        assert!(!v.allowed);
        assert_eq!(
            v.reasons,
            ["registry docker.io is not allowed (allowed: ghcr.io)"]
        );
        assert_eq!(gate.check_name(&img), Some(v));
        assert_eq!(
            gate.check_name(&ImageRef::parse("ghcr.io/x/y").unwrap()),
            None
        );
    }
}
