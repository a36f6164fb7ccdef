//! Harbor's pull gate, per project: "prevent vulnerable images from running"
//! (`prevent_vul` + `severity`, with the CVE allow-list) and content trust
//! (`enable_content_trust_cosign`: a cosign signature, verified against the
//! project's trusted keys when it has some). Project admins may still pull, to
//! inspect what was refused. The settings become an `ImagePolicy` and the
//! decision is `wharf_policy::evaluate`'s, over facts read from the stores.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wharf_policy::PolicySet;
use wharf_policy::model::{
    AllowedVulnerability, ImagePolicy, Keyless, Rule, Signer, Signers, VulnerabilityRule,
};
use wharf_scanner::Severity;

use super::Security;
use super::keyless_trust::KeylessRoot;
use super::settings::ProjectSettings;
use crate::auth::Principal;
use crate::auth::rbac::Action;
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::metadata::StoredManifest;
use crate::metadata::security::ScanStatus;
use crate::names::RepoName;

/// Who is pulling, as far as the request showed it. A bearer token only names
/// its subject; the user behind it is looked up only when a gate is on.
pub enum PullCaller<'a> {
    Anonymous,
    Principal(&'a Principal),
    TokenSubject(&'a str),
}

const TRUST_RULE: &str = "content-trust";
const VULN_RULE: &str = "prevent-vulnerable-images";

/// Harbor's threshold ("prevent `high` or higher") as the policy's `maxSeverity`
/// (the highest severity still allowed).
fn highest_allowed(threshold: &str) -> Severity {
    match threshold {
        "critical" => Severity::High,
        "high" => Severity::Medium,
        "medium" => Severity::Low,
        "low" => Severity::Unknown,
        _ => Severity::None,
    }
}

/// What a rule of the project's settings means, for the refusal message.
fn describe(rule: &str, settings: &ProjectSettings) -> String {
    if rule == VULN_RULE {
        let t = settings.severity.as_str();
        let title = format!("{}{}", t[..1].to_ascii_uppercase(), &t[1..]);
        format!(
            "the project prevents pulling images with vulnerabilities of severity {title} or higher (a project administrator can allow-list CVEs)"
        )
    } else {
        "the project only serves images signed by a key or identity it trusts (content trust)"
            .to_string()
    }
}

/// Compiled project policies by their source document: loading one parses keys and
/// compiles Rego, which is worth doing once per settings change, not once per pull.
#[derive(Default)]
pub(crate) struct PolicyCache(Mutex<HashMap<String, Arc<PolicySet>>>);

impl PolicyCache {
    /// Bound on cached documents; projects with gates on are few, so clearing is rare.
    const MAX: usize = 256;

    /// The compiled set for `policy`, keyed by the policy's own JSON (equal settings give
    /// equal policies).
    fn get_or_build(&self, project: &str, policy: ImagePolicy) -> Result<Arc<PolicySet>> {
        let key = serde_json::to_string(&policy)
            .map_err(|e| RegistryError::Internal(format!("project policy: {e}")))?;
        if let Some(p) = self.0.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(p);
        }
        let built = PolicySet::from_policies(&format!("project {project} settings"), vec![policy])
            .map_err(|e| RegistryError::Internal(format!("project settings as a policy: {e}")))?;
        let built = Arc::new(built);
        if let Ok(mut c) = self.0.lock() {
            if c.len() >= Self::MAX {
                c.clear();
            }
            c.insert(key, built.clone());
        }
        Ok(built)
    }
}

/// Content trust as a policy rule: a signature by one of the project's keys or keyless
/// identities; with neither, Harbor's rule (any cosign signature attached).
pub fn trust_rule(settings: &ProjectSettings, keyless_root: Option<&KeylessRoot>) -> Rule {
    let mut any_of: Vec<Signer> = settings
        .trusted_keys
        .iter()
        .cloned()
        .map(Signer::key)
        .collect();
    // Keyless identities count only with a root to check their certificates against.
    if let Some(root) = keyless_root {
        for id in settings.trusted_identities.iter().cloned() {
            any_of.push(Signer::keyless(Keyless {
                identity: id.identity,
                identity_regexp: id.identity_regexp,
                issuer: id.issuer,
                issuer_regexp: id.issuer_regexp,
                trusted_root: root.path.display().to_string(),
                ..Default::default()
            }));
        }
    }
    if any_of.is_empty() {
        Rule::rego(
            TRUST_RULE,
            "package wharf\ndeny contains \"the image is not signed with cosign\" if { count(input.signatures) == 0 }\n",
        )
    } else {
        Rule::signatures(TRUST_RULE, Signers::any_of(any_of))
    }
}

/// The project's settings as one ImagePolicy over every image of the project.
pub fn project_policy(project: &str, rules: Vec<Rule>) -> ImagePolicy {
    ImagePolicy::new(format!("project-{project}"), ["**"], rules)
}

/// Why a pull of one artifact would pass or be refused: each rule of the project's
/// gate with its result, as the pull gate decides it (the portal's artifact page).
#[derive(Debug, Clone)]
pub struct PullExplanation {
    /// Whether a pull by someone without the project administrator's bypass passes.
    pub allowed: bool,
    /// `prevent_vul` or content trust is on.
    pub gated: bool,
    /// The artifact is not a container image (signatures, SBOMs, indexes): not gated.
    pub exempt: bool,
    /// Each rule's result; the rule's `message` says what the project requires
    /// and what was found.
    pub results: Vec<wharf_policy::RuleResult>,
}

fn refuse(msg: String) -> RegistryError {
    RegistryError::PullDenied(msg)
}

impl Security {
    /// Refuses the pull of `m` when the project's settings forbid it.
    pub async fn pull_gate(
        &self,
        repo: &RepoName,
        m: &StoredManifest,
        caller: PullCaller<'_>,
    ) -> Result<()> {
        let project = repo.as_str().split('/').next().unwrap_or_default();
        let settings = self.project_settings(project).await?;
        let (prevent_vul, trust) = (settings.prevent_vul, settings.content_trust);
        if !prevent_vul && !trust {
            return Ok(());
        }
        let Some(content) = &m.content else {
            return Ok(());
        };
        let Ok(parsed) = crate::manifest::parse(content, Some(&m.media_type)) else {
            return Ok(());
        };
        if parsed.subject.is_some()
            || !crate::manifest::is_container_image(
                &parsed.media_type,
                parsed.artifact_type.as_deref(),
            )
        {
            return Ok(()); // signatures, SBOMs, indexes (their children are gated) and other artifacts
        }
        let who = match caller {
            PullCaller::Anonymous => None,
            PullCaller::Principal(p) => Some(p.clone()),
            PullCaller::TokenSubject(name) => self.access.principal_named(name).await,
        };
        if let Some(who) = &who
            && self
                .access
                .may(who, project, Action::UpdateProject)
                .await?
                .allowed()
        {
            tracing::info!(repo = %repo, digest = %m.digest, who = who.name(), "pull gate bypassed by a project administrator");
            return Ok(());
        }
        // Harbor's states before a verdict: no successful scan means no pull.
        if prevent_vul {
            self.require_scanned(&m.digest, &settings).await?;
        }
        let (policies, facts) = self
            .harbor_policy_and_facts(repo, &m.digest, &settings, prevent_vul, trust)
            .await?;
        let decision = wharf_policy::evaluate(&policies, &facts, crate::metadata::now());
        if decision.allowed {
            return Ok(());
        }
        let reasons: Vec<String> = decision
            .failures()
            .map(|r| format!("{}: {}", describe(&r.rule, &settings), r.message))
            .collect();
        Err(refuse(format!(
            "{} cannot be pulled: {}",
            m.digest,
            reasons.join("; ")
        )))
    }

    /// The pull gate's decision for one artifact with every rule's result, without
    /// the administrators' bypass: what a developer or a CI pull would get. Readable
    /// by anyone who may read the project's artifacts.
    pub async fn explain_pull(
        &self,
        who: &Principal,
        project: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<PullExplanation> {
        let p = self
            .access
            .project_for(who, project, Action::ReadArtifacts)
            .await?;
        let repo = crate::service::Distribution::repo_in(&p.name, repository)?;
        let settings = self.project_settings(&p.name).await?;
        let (prevent_vul, trust) = (settings.prevent_vul, settings.content_trust);
        let mut out = PullExplanation {
            allowed: true,
            gated: prevent_vul || trust,
            exempt: false,
            results: Vec::new(),
        };
        if !out.gated {
            return Ok(out);
        }
        let m = self
            .meta
            .manifest_by_digest(&repo, digest, true)
            .await?
            .ok_or_else(|| {
                RegistryError::not_found(format!("artifact {repo}@{digest} not found"))
            })?;
        let image = m
            .content
            .as_deref()
            .and_then(|c| crate::manifest::parse(c, Some(&m.media_type)).ok())
            .is_some_and(|parsed| {
                parsed.subject.is_none()
                    && crate::manifest::is_container_image(
                        &parsed.media_type,
                        parsed.artifact_type.as_deref(),
                    )
            });
        if !image {
            out.exempt = true;
            return Ok(out);
        }
        let (policies, facts) = self
            .harbor_policy_and_facts(&repo, digest, &settings, prevent_vul, trust)
            .await?;
        let decision = wharf_policy::evaluate(&policies, &facts, crate::metadata::now());
        out.results = decision.results;
        // As the gate: without a successful scan the vulnerability rule refuses,
        // whatever the (absent) findings would say.
        if prevent_vul && let Err(e) = self.require_scanned(digest, &settings).await {
            let message = match e {
                RegistryError::PullDenied(m) => m,
                other => return Err(other),
            };
            for r in out.results.iter_mut().filter(|r| r.rule == VULN_RULE) {
                r.passed = false;
                r.message = message.clone();
                r.evidence = serde_json::Value::Null;
            }
        }
        for r in &mut out.results {
            if !r.passed {
                r.message = format!("{}: {}", describe(&r.rule, &settings), r.message);
            }
        }
        out.allowed = out.results.iter().all(|r| r.passed);
        Ok(out)
    }

    async fn require_scanned(&self, digest: &Digest, settings: &ProjectSettings) -> Result<()> {
        let policy = describe(VULN_RULE, settings);
        match self.store.scan(digest).await?.map(|r| r.status) {
            Some(ScanStatus::Success) => Ok(()),
            Some(ScanStatus::Pending | ScanStatus::Running) => Err(refuse(format!(
                "{digest} is being scanned; {policy}, so it can be pulled once the scan is done"
            ))),
            _ => Err(refuse(format!(
                "{digest} has not been scanned successfully; {policy}"
            ))),
        }
    }

    /// Harbor's project settings as an `ImagePolicy`, and the facts the registry already
    /// holds (stored scan report, signatures in its store): the pull gate is decided by
    /// the same evaluator as `wharf policy check` and the admission webhook.
    async fn harbor_policy_and_facts(
        &self,
        repo: &RepoName,
        digest: &Digest,
        settings: &ProjectSettings,
        prevent_vul: bool,
        trust: bool,
    ) -> Result<(Arc<PolicySet>, wharf_policy::Facts)> {
        let project = repo.as_str().split('/').next().unwrap_or_default();
        let mut rules = Vec::new();
        if trust {
            rules.push(trust_rule(settings, self.keyless_root.as_ref()));
        }
        if prevent_vul {
            let threshold = settings.severity.as_str();
            let allow = self
                .effective_allowlist(project, settings)
                .await?
                .into_iter()
                .map(|id| AllowedVulnerability::new(id, "2999-12-31", "project CVE allow-list"))
                .collect();
            rules.push(Rule::vulnerabilities(
                VULN_RULE,
                VulnerabilityRule::new(highest_allowed(threshold), allow),
            ));
        }
        let policies = self
            .policy_cache
            .get_or_build(project, project_policy(project, rules))?;

        let mut facts = wharf_policy::Facts {
            reference: format!("{repo}@{digest}"),
            registry: "wharf".into(),
            repository: repo.to_string(),
            digest: digest.to_string(),
            ..Default::default()
        };
        if trust {
            let found: Vec<std::result::Result<wharf_signer::image::Found, String>> = self
                .stored_signatures(repo, digest)
                .await?
                .into_iter()
                .filter(|f| !f.kind.is_attestation())
                .map(Ok)
                .collect();
            let matching = policies.matching(&facts.name());
            facts.signatures = Some(wharf_policy::collect::signature_facts(
                &found,
                &facts.digest,
                &matching,
            ));
        }
        if prevent_vul {
            let source = format!("registry scan report of {digest}");
            let findings = self
                .store
                .scan_report(digest)
                .await?
                .map(|r| r.findings)
                .unwrap_or_default();
            facts.vulnerabilities = Some(
                findings
                    .iter()
                    .map(|f| wharf_policy::facts::VulnerabilityFact::from_finding(f, &source))
                    .collect(),
            );
        }
        Ok((policies, facts))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::auth::Principal;
    use crate::digest::Digest;
    use crate::metadata::{IdentityStore, MetadataStore};
    use crate::names::{Reference, RepoName};
    use crate::service::events::testing::body;
    use crate::service::{Options, Services, Stores};

    /// An image with one layer and a config whose history has an empty step: the
    /// pull gate explained rule by rule, and the history matched to the layer.
    #[tokio::test]
    async fn explain_pull_gives_each_rule_and_history_matches_layers() {
        let (_dir, meta, blobs) = crate::service::test_stores().await;
        let s = Services::new(
            Stores::from_backend(meta.clone(), blobs),
            Options {
                max_uploads: 10,
                ..Default::default()
            },
        );
        meta.create_project("gated", false, None)
            .await
            .unwrap()
            .unwrap();
        let admin = Principal::User {
            id: 1,
            name: "admin".into(),
            sysadmin: true,
        };
        let repo = RepoName::parse("gated/app").unwrap();
        const LAYER: &[u8] = b"not really a tar";
        const CONFIG: &[u8] = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
            "history":[{"created":"2024-01-01T00:00:00Z","created_by":"ADD rootfs"},
                       {"created":"2024-01-02T00:00:00Z","created_by":"ENV A=1","empty_layer":true}]}"#;
        for data in [LAYER, CONFIG] {
            s.distribution
                .upload_monolithic(
                    &repo,
                    &Digest::sha256_of(data),
                    body(data),
                    Some(data.len() as u64),
                    None,
                )
                .await
                .unwrap();
        }
        let layer = Digest::sha256_of(LAYER);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": Digest::sha256_of(CONFIG).to_string(), "size": CONFIG.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": layer.to_string(), "size": LAYER.len()}],
        })
        .to_string();
        let digest = Digest::sha256_of(manifest.as_bytes());
        s.distribution
            .put_manifest(
                &repo,
                &Reference::Tag("v1".into()),
                Some("application/vnd.oci.image.manifest.v1+json"),
                bytes::Bytes::from(manifest),
            )
            .await
            .unwrap();

        // No gate on: nothing to explain.
        let e = s
            .security
            .explain_pull(&admin, "gated", "app", &digest)
            .await
            .unwrap();
        assert!(e.allowed && !e.gated && e.results.is_empty(), "{e:?}");

        // Both gates on, the image unsigned and never scanned: both rules fail, each
        // with the reason the pull gate itself would give.
        let on = BTreeMap::from([
            ("prevent_vul".to_string(), "true".to_string()),
            (
                "enable_content_trust_cosign".to_string(),
                "true".to_string(),
            ),
        ]);
        s.security
            .update_project_settings(&admin, None, "gated", on)
            .await
            .unwrap();
        let e = s
            .security
            .explain_pull(&admin, "gated", "app", &digest)
            .await
            .unwrap();
        assert!(e.gated && !e.allowed && !e.exempt, "{e:?}");
        let by_rule: BTreeMap<&str, (bool, &str)> = e
            .results
            .iter()
            .map(|r| (r.rule.as_str(), (r.passed, r.message.as_str())))
            .collect();
        assert_eq!(by_rule.len(), 2, "{e:?}");
        let (passed, why) = by_rule["content-trust"];
        assert!(!passed && why.contains("not signed"), "{why}");
        let (passed, why) = by_rule["prevent-vulnerable-images"];
        assert!(
            !passed && why.contains("has not been scanned successfully"),
            "{why}"
        );
        // The same refusal as a real pull by someone without the bypass.
        let stored = meta
            .manifest_by_digest(&repo, &digest, true)
            .await
            .unwrap()
            .unwrap();
        assert!(
            s.security
                .pull_gate(&repo, &stored, super::PullCaller::Anonymous)
                .await
                .is_err()
        );

        // The history: the layer-making step gets the layer, the empty one none.
        let h = s
            .distribution
            .layer_history(&admin, "gated", "app", &digest)
            .await
            .unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].created_by.as_deref(), Some("ADD rootfs"));
        assert_eq!(h[0].layer, Some((layer.to_string(), LAYER.len() as u64)));
        assert!(h[1].empty_layer && h[1].layer.is_none());
    }
}
