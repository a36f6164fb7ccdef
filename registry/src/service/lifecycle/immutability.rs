//! Tag immutability (Harbor's `immutabletagrules`): a tag a rule covers never
//! moves to another digest and is never deleted, nor is the artifact carrying it.
//! Pushing the digest a tag already names is no move and stays allowed. Enforced
//! as a [`WriteGuard`] that `Services::new` installs in distribution, so every
//! path that moves or deletes tags (the `/v2` API, the management API,
//! retention) is covered without distribution knowing of rules.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::selectors::{Scope, ScopeSelectors, Selector, in_project};
use crate::auth::Principal;
use crate::auth::rbac::Action;
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::metadata::tag_rules::StoredRule;
use crate::metadata::{IdentityStore, TagRulesStore, project_segment};
use crate::names::RepoName;
use crate::service::access::Access;
use crate::service::distribution::{Removal, WriteGuard};

/// Most rules a project may have (Harbor's limit).
const MAX_RULES: usize = 15;

/// Harbor's `ImmutableRule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImmutableRule {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default = "immutable")]
    pub action: String,
    #[serde(default = "immutable_template")]
    pub template: String,
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    pub tag_selectors: Vec<Selector>,
    pub scope_selectors: ScopeSelectors,
}

fn immutable() -> String {
    "immutable".into()
}

fn immutable_template() -> String {
    "immutable_template".into()
}

impl ImmutableRule {
    fn check(&self) -> Result<Scope> {
        if self.action != "immutable" || self.template != "immutable_template" {
            return Err(RegistryError::bad_request(
                "an immutable rule has action \"immutable\" and template \"immutable_template\"",
            ));
        }
        Scope::compile(&self.tag_selectors, &self.scope_selectors)
    }

    fn from_stored(r: &StoredRule) -> Result<Self> {
        let mut rule: ImmutableRule = serde_json::from_str(&r.body)
            .map_err(|e| RegistryError::Internal(format!("stored immutable rule {}: {e}", r.id)))?;
        rule.id = r.id;
        Ok(rule)
    }

    /// The tag pattern, for messages.
    fn describe(&self) -> String {
        let tags: Vec<String> = self
            .tag_selectors
            .iter()
            .map(|s| format!("{} {:?}", s.decoration, s.pattern))
            .collect();
        format!("immutable rule {} (tags {})", self.id, tags.join(", "))
    }
}

pub struct Immutability {
    store: Arc<dyn TagRulesStore>,
    identity: Arc<dyn IdentityStore>,
    access: Arc<Access>,
}

impl Immutability {
    pub fn new(
        store: Arc<dyn TagRulesStore>,
        identity: Arc<dyn IdentityStore>,
        access: Arc<Access>,
    ) -> Self {
        Immutability {
            store,
            identity,
            access,
        }
    }

    pub async fn list(&self, who: &Principal, project: &str) -> Result<Vec<ImmutableRule>> {
        let p = self
            .access
            .project_for(who, project, Action::ReadImmutableRules)
            .await?;
        let mut rules = self
            .store
            .immutable_rules(p.id)
            .await?
            .iter()
            .map(ImmutableRule::from_stored)
            .collect::<Result<Vec<_>>>()?;
        rules.sort_by_key(|r| (r.priority, r.id));
        Ok(rules)
    }

    pub async fn create(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        rule: ImmutableRule,
    ) -> Result<i64> {
        let p = self
            .access
            .project_for(who, project, Action::ManageImmutableRules)
            .await?;
        rule.check()?;
        if self.store.immutable_rules(p.id).await?.len() >= MAX_RULES {
            return Err(RegistryError::bad_request(format!(
                "project {} already has {MAX_RULES} immutable rules",
                p.name
            )));
        }
        let id = self
            .store
            .create_immutable_rule(p.id, &body(&rule)?)
            .await?;
        self.access.audit(
            who,
            "create",
            "immutable_rule",
            &format!("{}/{id}", p.name),
            ip,
        );
        Ok(id)
    }

    /// Replace a rule. Harbor's UI sends only `{"id","disabled"}` to switch a rule
    /// off or on: a body without selectors keeps the stored ones.
    pub async fn update(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        id: i64,
        update: serde_json::Value,
    ) -> Result<()> {
        let p = self
            .access
            .project_for(who, project, Action::ManageImmutableRules)
            .await?;
        let stored = self
            .store
            .immutable_rules(p.id)
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| RegistryError::not_found(format!("immutable rule {id} not found")))?;
        let mut merged = serde_json::to_value(ImmutableRule::from_stored(&stored)?)
            .map_err(|e| RegistryError::Internal(e.to_string()))?;
        let serde_json::Value::Object(fields) = update else {
            return Err(RegistryError::bad_request(
                "an immutable rule is a JSON object",
            ));
        };
        for (k, v) in fields {
            if k != "id" {
                merged[k] = v;
            }
        }
        let rule: ImmutableRule = serde_json::from_value(merged)
            .map_err(|e| RegistryError::bad_request(format!("immutable rule: {e}")))?;
        rule.check()?;
        self.store
            .update_immutable_rule(p.id, id, &body(&rule)?)
            .await?;
        self.access.audit(
            who,
            "update",
            "immutable_rule",
            &format!("{}/{id}", p.name),
            ip,
        );
        Ok(())
    }

    pub async fn delete(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        id: i64,
    ) -> Result<()> {
        let p = self
            .access
            .project_for(who, project, Action::ManageImmutableRules)
            .await?;
        if !self.store.delete_immutable_rule(p.id, id).await? {
            return Err(RegistryError::not_found(format!(
                "immutable rule {id} not found"
            )));
        }
        self.access.audit(
            who,
            "delete",
            "immutable_rule",
            &format!("{}/{id}", p.name),
            ip,
        );
        Ok(())
    }

    /// The first enabled rule of the repository's project that covers `tag`.
    pub async fn rule_for(&self, repo: &RepoName, tag: &str) -> Result<Option<ImmutableRule>> {
        Ok(self
            .rules_for(repo)
            .await?
            .into_iter()
            .find_map(|(rule, scope)| scope.covers_tag(tag).then_some(rule)))
    }

    /// Enabled rules of the repository's project whose scope covers it.
    async fn rules_for(&self, repo: &RepoName) -> Result<Vec<(ImmutableRule, Scope)>> {
        let Some(project) = project_segment(repo) else {
            return Ok(Vec::new());
        };
        let Some(p) = self.identity.project_by_name(project).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for stored in self.store.immutable_rules(p.id).await? {
            let rule = ImmutableRule::from_stored(&stored)?;
            if rule.disabled {
                continue;
            }
            let scope = rule.check()?;
            if scope.covers_repository(in_project(repo.as_str())) {
                out.push((rule, scope));
            }
        }
        out.sort_by_key(|(r, _)| (r.priority, r.id));
        Ok(out)
    }

    async fn refuse_if_immutable(&self, repo: &RepoName, tags: &[&str], doing: &str) -> Result<()> {
        let rules = self.rules_for(repo).await?;
        for tag in tags {
            if let Some((rule, _)) = rules.iter().find(|(_, scope)| scope.covers_tag(tag)) {
                return Err(RegistryError::WriteDenied(format!(
                    "{repo}:{tag} is immutable: {} forbids {doing}",
                    rule.describe()
                )));
            }
        }
        Ok(())
    }
}

fn body(rule: &ImmutableRule) -> Result<String> {
    let mut rule = rule.clone();
    rule.id = 0;
    serde_json::to_string(&rule).map_err(|e| RegistryError::Internal(e.to_string()))
}

#[async_trait::async_trait]
impl WriteGuard for Immutability {
    async fn before_tag_move(
        &self,
        repo: &RepoName,
        tag: &str,
        from: &Digest,
        to: &Digest,
    ) -> Result<()> {
        self.refuse_if_immutable(repo, &[tag], &format!("moving it from {from} to {to}"))
            .await
    }

    async fn before_delete(&self, repo: &RepoName, what: Removal<'_>) -> Result<()> {
        match what {
            Removal::Tag { tag, .. } => self.refuse_if_immutable(repo, &[tag], "deleting it").await,
            Removal::Artifact { digest, tags } => {
                let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
                self.refuse_if_immutable(repo, &tags, &format!("deleting artifact {digest}"))
                    .await
            }
            Removal::Repository { tags } => {
                let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
                self.refuse_if_immutable(repo, &tags, &format!("deleting repository {repo}"))
                    .await
            }
        }
    }
}
