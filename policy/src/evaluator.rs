//! The façade the three gates share: resolve → cache → collect → evaluate.
//!
//! `Evaluator` is `Send + Sync`; share one in an `Arc` (an axum handler's state). Callers
//! that already hold the facts (the registry's pull gate) use [`Evaluator::decide`], which
//! skips the registry entirely.

use std::path::PathBuf;
use std::time::Duration;

use wharf_oci::Client;

use crate::Error;
use crate::cache::{DecisionCache, Key};
use crate::collect::{CollectOptions, collect};
use crate::evaluate::{Decision, evaluate};
use crate::facts::{Facts, Needs};
use crate::load::PolicySet;

/// How to reach registries holding the images to check: the registry client's
/// options (plain HTTP, credentials — without them the docker config's, else
/// anonymous — extra CA certificates), plus hosts that alone speak plain HTTP.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    pub client: wharf_oci::RegistryOptions,
    /// Plain HTTP to these registry hosts only (the admission webhook's `--insecure-registry`).
    pub insecure_registries: Vec<String>,
}

impl RegistryOptions {
    /// The client options for the registry of `reference`.
    fn for_reference(&self, reference: &wharf_oci::Reference) -> wharf_oci::RegistryOptions {
        let listed = self
            .insecure_registries
            .iter()
            .any(|h| h == reference.registry() || h == reference.resolve_registry());
        wharf_oci::RegistryOptions {
            insecure: self.client.insecure || listed,
            ..self.client.clone()
        }
    }
}

#[derive(Debug, Clone)]
pub struct EvaluatorOptions {
    pub registry: RegistryOptions,
    /// Vulnerability DB; `None`: `$WHARF_DB`, else the default path (as `wharf scan`).
    pub db: Option<PathBuf>,
    /// Platform to pick from multi-platform images (default linux/amd64).
    pub platform: Option<String>,
    /// Decisions kept (0 disables the cache).
    pub cache_capacity: usize,
    /// How long a decision is reused.
    pub cache_ttl: Duration,
}

impl Default for EvaluatorOptions {
    fn default() -> Self {
        Self {
            registry: RegistryOptions::default(),
            db: None,
            platform: None,
            cache_capacity: 1024,
            cache_ttl: Duration::from_secs(300),
        }
    }
}

pub struct Evaluator {
    policies: PolicySet,
    options: EvaluatorOptions,
    cache: DecisionCache,
}

impl Evaluator {
    pub fn new(policies: PolicySet, options: EvaluatorOptions) -> Self {
        let cache = DecisionCache::new(options.cache_capacity, options.cache_ttl);
        Self {
            policies,
            options,
            cache,
        }
    }

    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// The fact sections the policies covering `name` (`registry/repository`) need: what a
    /// caller supplying its own facts must fill in.
    pub fn needs(&self, name: &str) -> Needs {
        Needs::of(&self.policies.matching(name))
    }

    /// Resolves `image` to its digest, then answers from the cache or collects the facts
    /// the covering policies need and evaluates them now.
    pub async fn check(&self, image: &str) -> Result<Decision, Error> {
        let reference = wharf_oci::parse_reference(image)
            .map_err(|e| Error::Reference(image.to_string(), e.to_string()))?;
        let registry = self.options.registry.for_reference(&reference);
        let signer_opts = registry.clone();
        // Reads the docker config for credentials: file I/O, so off the async threads.
        let host = reference.resolve_registry().to_string();
        let reg = tokio::task::spawn_blocking(move || {
            Client::new(signer_opts).with_docker_config_for(&host)
        })
        .await
        .map_err(|e| Error::Registry(format!("registry client task failed: {e}")))??;
        let target = wharf_signer::image::resolve(&reg, image)
            .await
            .map_err(|e| Error::Registry(e.to_string()))?;
        let name = format!(
            "{}/{}",
            target.reference.registry(),
            target.reference.repository()
        );
        let key = self.key(&name, target.digest());
        if let Some(mut d) = self.cache.get(&key) {
            d.image = image.to_string();
            return Ok(d);
        }
        let policies = self.policies.matching(&name);
        let opts = CollectOptions {
            scanner_registry: registry,
            db: self.options.db.clone(),
            platform: self.options.platform.clone(),
        };
        let facts = collect(&reg, &target, image, &policies, &opts).await?;
        let decision = evaluate(&self.policies, &facts, crate::time::now());
        self.cache.insert(key, decision.clone());
        Ok(decision)
    }

    /// Evaluates facts the caller already has (cached like [`Evaluator::check`]).
    pub fn decide(&self, facts: &Facts) -> Decision {
        let key = self.key(&facts.name(), &facts.digest);
        if let Some(mut d) = self.cache.get(&key) {
            d.image = facts.reference.clone();
            return d;
        }
        let decision = evaluate(&self.policies, facts, crate::time::now());
        self.cache.insert(key, decision.clone());
        decision
    }

    fn key(&self, name: &str, digest: &str) -> Key {
        Key {
            policy_version: self.policies.version.clone(),
            name: name.to_string(),
            digest: digest.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn shareable_across_tasks() {
        assert_send_sync::<Evaluator>();
        let ev = Evaluator::new(PolicySet::default(), EvaluatorOptions::default());
        let fut = ev.check("127.0.0.1:1/x:y");
        assert_send(&fut);
    }
}
