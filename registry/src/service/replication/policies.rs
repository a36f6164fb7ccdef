//! Replication policies (Harbor's `/replication/policies`): what to copy (name,
//! tag, label and resource filters), between the local registry and one remote
//! endpoint (push-based: the source is local; pull-based: the destination is),
//! when (manual, a 6-field cron, or on every push and delete), and how (deletion,
//! override, flattening of namespaces, speed). Stored as the validated document.
//!
//! Executions are not there yet: a policy can be stored, listed and changed.

use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::registries::Registries;
use crate::auth::Principal;
use crate::auth::rbac::SystemAction;
use crate::error::{ApiErrorKind, RegistryError, Result};
use crate::metadata::ReplicationStore;
use crate::metadata::replication::StoredPolicy;
use crate::service::access::Access;
use crate::service::lifecycle::selectors::{Selector, compile};
use crate::service::time_rfc3339;

/// Longest policy name (Harbor's column).
const MAX_NAME: usize = 255;
/// Most filters a policy may carry.
const MAX_FILTERS: usize = 16;

/// One side of a policy: `{"id": N}`, a remote endpoint; absent, `null` or id 0:
/// this registry. Harbor sends the whole registry object; only the id counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegistryRef {
    #[serde(default)]
    pub id: i64,
}

/// Harbor's `ReplicationFilter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: Value,
    /// `matches` (default) or `excludes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoration: Option<String>,
}

/// Harbor's `ReplicationTrigger`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// `manual`, `scheduled` or `event_based`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_settings: Option<TriggerSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerSettings {
    #[serde(default)]
    pub cron: String,
}

/// Harbor's `ReplicationPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationPolicy {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub src_registry: Option<RegistryRef>,
    #[serde(default)]
    pub dest_registry: Option<RegistryRef>,
    #[serde(default)]
    pub dest_namespace: String,
    /// Leading path components of the source repository dropped at the
    /// destination: 0 none, -1 all but the last (Harbor's "flatten all levels").
    #[serde(default = "minus_one")]
    pub dest_namespace_replace_count: i64,
    #[serde(default = "manual")]
    pub trigger: Trigger,
    #[serde(default)]
    pub filters: Vec<Filter>,
    #[serde(default, alias = "replicate_deletion")]
    pub deletion: bool,
    #[serde(default, rename = "override")]
    pub override_: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// KiB/s per task; -1 (or 0) unlimited.
    #[serde(default = "minus_one")]
    pub speed: i64,
    #[serde(default, skip_deserializing, skip_serializing_if = "String::is_empty")]
    pub creation_time: String,
    #[serde(default, skip_deserializing, skip_serializing_if = "String::is_empty")]
    pub update_time: String,
}

fn minus_one() -> i64 {
    -1
}
fn yes() -> bool {
    true
}
fn manual() -> Trigger {
    Trigger {
        kind: "manual".into(),
        trigger_settings: None,
    }
}

/// A side's remote endpoint id, `None` for this registry.
fn remote(side: &Option<RegistryRef>) -> Option<i64> {
    side.as_ref().map(|r| r.id).filter(|id| *id != 0)
}

impl ReplicationPolicy {
    /// The remote endpoint and whether the policy pushes to it (else it pulls).
    pub fn remote(&self) -> Result<(i64, bool)> {
        match (remote(&self.src_registry), remote(&self.dest_registry)) {
            (Some(src), Some(dest)) => Err(RegistryError::bad_request(format!(
                "src_registry ({src}) and dest_registry ({dest}) are both remote: one side must be this registry (omit it, null or {{\"id\":0}}): the source to push, the destination to pull"
            ))),
            (None, None) => Err(RegistryError::bad_request(
                "src_registry and dest_registry are both this registry: give the remote side's id (dest_registry to push, src_registry to pull)",
            )),
            (Some(src), None) => Ok((src, false)),
            (None, Some(dest)) => Ok((dest, true)),
        }
    }

    /// What the service checks before storing (the remote's existence aside).
    fn check(&self) -> Result<()> {
        if self.name.trim().is_empty() || self.name.len() > MAX_NAME {
            return Err(RegistryError::bad_request(format!(
                "a policy name has 1 to {MAX_NAME} characters"
            )));
        }
        let (_, push) = self.remote()?;
        if self.dest_namespace_replace_count < -1 {
            return Err(RegistryError::bad_request(
                "dest_namespace_replace_count is -1 (flatten all levels) or a count >= 0",
            ));
        }
        if self.speed < -1 {
            return Err(RegistryError::bad_request(
                "speed is KiB/s, -1 or 0 for unlimited",
            ));
        }
        if !self.dest_namespace.is_empty() {
            crate::names::RepoName::parse(&self.dest_namespace).map_err(|e| {
                RegistryError::bad_request(format!("dest_namespace {:?}: {e}", self.dest_namespace))
            })?;
        }
        match self.trigger.kind.as_str() {
            "manual" => {}
            "event_based" if push => {}
            "event_based" => {
                return Err(RegistryError::bad_request(
                    "event_based replication is push-based only: a pull-based policy (src_registry remote) runs manual or scheduled",
                ));
            }
            "scheduled" => {
                let cron = self
                    .trigger
                    .trigger_settings
                    .as_ref()
                    .map(|s| s.cron.as_str())
                    .unwrap_or_default();
                cron::Schedule::from_str(cron).map_err(|e| {
                    RegistryError::bad_request(format!(
                        "trigger_settings.cron {cron:?}: {e} (six fields: sec min hour day month weekday)"
                    ))
                })?;
            }
            other => {
                return Err(RegistryError::bad_request(format!(
                    "trigger type {other:?}: manual, scheduled or event_based"
                )));
            }
        }
        if self.filters.len() > MAX_FILTERS {
            return Err(RegistryError::bad_request(format!(
                "a policy has at most {MAX_FILTERS} filters"
            )));
        }
        for f in &self.filters {
            check_filter(f)?;
        }
        Ok(())
    }
}

fn check_filter(f: &Filter) -> Result<()> {
    match f.kind.as_str() {
        "name" | "tag" => {
            let Some(pattern) = f.value.as_str() else {
                return Err(RegistryError::bad_request(format!(
                    "{} filter value is a doublestar pattern (a string)",
                    f.kind
                )));
            };
            let selector = Selector {
                kind: "doublestar".into(),
                decoration: f.decoration.clone().unwrap_or_else(|| "matches".into()),
                pattern: pattern.to_string(),
                extras: String::new(),
            };
            compile(
                &selector,
                "matches",
                "excludes",
                &format!("{} filter", f.kind),
            )
            .map(drop)
        }
        "label" => {
            let ok = f.value.is_string()
                || f.value
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string));
            if ok {
                Ok(())
            } else {
                Err(RegistryError::bad_request(
                    "label filter value is a label name or a list of them",
                ))
            }
        }
        "resource" => match f.value.as_str() {
            Some("image" | "artifact") => Ok(()),
            _ => Err(RegistryError::bad_request(
                "resource filter value is \"image\" or \"artifact\"",
            )),
        },
        other => Err(RegistryError::bad_request(format!(
            "filter type {other:?}: name, tag, label or resource"
        ))),
    }
}

/// Whether a stored policy document names endpoint `id` on either side.
pub(super) fn uses_registry(p: &StoredPolicy, id: i64) -> bool {
    serde_json::from_str::<ReplicationPolicy>(&p.body)
        .map(|p| remote(&p.src_registry) == Some(id) || remote(&p.dest_registry) == Some(id))
        .unwrap_or(false)
}

/// The service of replication policies.
pub struct Policies {
    store: Arc<dyn ReplicationStore>,
    access: Arc<Access>,
    registries: Arc<Registries>,
}

impl Policies {
    pub fn new(
        store: Arc<dyn ReplicationStore>,
        access: Arc<Access>,
        registries: Arc<Registries>,
    ) -> Self {
        Policies {
            store,
            access,
            registries,
        }
    }

    pub async fn list(
        &self,
        who: &Principal,
        name: Option<&str>,
    ) -> Result<Vec<ReplicationPolicy>> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        self.store
            .policies()
            .await?
            .iter()
            .filter(|p| name.is_none_or(|n| p.name.contains(n)))
            .map(shown)
            .collect()
    }

    pub async fn get(&self, who: &Principal, id: i64) -> Result<ReplicationPolicy> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        shown(&self.stored(id).await?)
    }

    pub async fn create(
        &self,
        who: &Principal,
        ip: Option<&str>,
        p: ReplicationPolicy,
    ) -> Result<i64> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        let body = self.validated(&p, 0).await?;
        let id = self.store.create_policy(&p.name, &body).await?;
        self.access
            .audit(who, "create", "replication_policy", &p.name, ip);
        Ok(id)
    }

    /// Harbor's PUT: the whole policy again.
    pub async fn update(
        &self,
        who: &Principal,
        ip: Option<&str>,
        id: i64,
        p: ReplicationPolicy,
    ) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        self.stored(id).await?;
        let body = self.validated(&p, id).await?;
        if !self.store.update_policy(id, &p.name, &body).await? {
            return Err(not_found(id));
        }
        self.access
            .audit(who, "update", "replication_policy", &p.name, ip);
        Ok(())
    }

    pub async fn delete(&self, who: &Principal, ip: Option<&str>, id: i64) -> Result<()> {
        self.access
            .require_system(who, SystemAction::ManageReplication)?;
        let stored = self.stored(id).await?;
        if !self.store.delete_policy(id).await? {
            return Err(not_found(id));
        }
        self.access
            .audit(who, "delete", "replication_policy", &stored.name, ip);
        Ok(())
    }

    /// A policy as stored, for the executions to come. No permission check.
    pub async fn policy(&self, id: i64) -> Result<ReplicationPolicy> {
        shown(&self.stored(id).await?)
    }

    async fn stored(&self, id: i64) -> Result<StoredPolicy> {
        self.store.policy(id).await?.ok_or_else(|| not_found(id))
    }

    /// The document to store: checked, its remote endpoint existing, its name free.
    async fn validated(&self, p: &ReplicationPolicy, id: i64) -> Result<String> {
        p.check()?;
        let (remote, _) = p.remote()?;
        self.registries
            .endpoint(remote)
            .await
            .map_err(|e| match e {
                RegistryError::Api {
                    kind: ApiErrorKind::NotFound,
                    ..
                } => RegistryError::bad_request(format!(
                    "the policy's remote registry {remote} does not exist (wharf registry list)"
                )),
                other => other,
            })?;
        if let Some(other) = self.store.policy_by_name(&p.name).await?
            && other.id != id
        {
            return Err(RegistryError::conflict(format!(
                "a replication policy named {:?} exists already (id {})",
                p.name, other.id
            )));
        }
        let mut doc = p.clone();
        doc.id = 0;
        serde_json::to_string(&doc).map_err(|e| RegistryError::Internal(e.to_string()))
    }
}

fn not_found(id: i64) -> RegistryError {
    RegistryError::not_found(format!("replication policy {id} not found"))
}

fn shown(s: &StoredPolicy) -> Result<ReplicationPolicy> {
    let mut p: ReplicationPolicy = serde_json::from_str(&s.body)
        .map_err(|e| RegistryError::Internal(format!("stored replication policy {}: {e}", s.id)))?;
    p.id = s.id;
    p.creation_time = time_rfc3339(s.created_at);
    p.update_time = time_rfc3339(s.updated_at);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::replication::test_support::{admin, kind};

    async fn services(dir: &std::path::Path) -> (Arc<Registries>, Policies, i64) {
        let (meta, access, registries) =
            crate::service::replication::test_support::registries(dir).await;
        let remote: crate::service::replication::Registry = serde_json::from_value(
            serde_json::json!({"name": "airgap", "url": "http://127.0.0.1:5999", "type": "harbor"}),
        )
        .unwrap();
        let id = registries.create(&admin(), None, remote).await.unwrap();
        let policies = Policies::new(meta, access, registries.clone());
        (registries, policies, id)
    }

    fn policy(v: Value) -> ReplicationPolicy {
        serde_json::from_value(v).unwrap()
    }

    /// The air-gapped scenario's policy, as Harbor's API takes it, stored and shown back.
    #[tokio::test]
    async fn a_scheduled_push_policy_round_trips_and_holds_its_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let (registries, policies, remote) = services(dir.path()).await;
        let body = serde_json::json!({
            "name": "to-airgap", "src_registry": null, "dest_registry": {"id": remote},
            "filters": [{"type": "name", "value": "production/**"}, {"type": "tag", "value": "v*", "decoration": "matches"}],
            "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 */5 * * * *"}},
            "deletion": true, "override": true, "enabled": true, "speed": 1024
        });
        let id = policies.create(&admin(), None, policy(body)).await.unwrap();
        let shown = policies.get(&admin(), id).await.unwrap();
        assert_eq!(shown.id, id);
        assert_eq!(shown.remote().unwrap(), (remote, true));
        assert_eq!(shown.filters.len(), 2);
        assert_eq!(
            shown.trigger.trigger_settings.unwrap().cron,
            "0 */5 * * * *"
        );
        assert!(shown.deletion && shown.override_ && shown.enabled);
        assert_eq!(shown.speed, 1024);
        assert_eq!(shown.dest_namespace_replace_count, -1);
        let json = serde_json::to_value(policies.get(&admin(), id).await.unwrap()).unwrap();
        assert_eq!(json["override"], true);
        assert_eq!(json["dest_registry"]["id"], remote);

        // The endpoint cannot go while the policy uses it.
        let err = registries.delete(&admin(), None, remote).await.unwrap_err();
        assert_eq!(kind(&err), Some(ApiErrorKind::Precondition), "{err}");
        assert!(err.to_string().contains("to-airgap"), "{err}");
        policies.delete(&admin(), None, id).await.unwrap();
        registries.delete(&admin(), None, remote).await.unwrap();
    }

    #[tokio::test]
    async fn bad_policies_are_refused_saying_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let (_registries, policies, remote) = services(dir.path()).await;
        let cases = [
            (
                serde_json::json!({"name": "p", "src_registry": {"id": remote}, "dest_registry": {"id": remote}}),
                "one side must be this registry",
            ),
            (
                serde_json::json!({"name": "p", "src_registry": {"id": 0}}),
                "both this registry",
            ),
            (
                serde_json::json!({"name": "p", "dest_registry": {"id": remote + 7}}),
                "does not exist",
            ),
            (
                serde_json::json!({"name": "p", "src_registry": {"id": remote}, "trigger": {"type": "event_based"}}),
                "push-based only",
            ),
            (
                serde_json::json!({"name": "p", "dest_registry": {"id": remote}, "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 0 * *"}}}),
                "six fields",
            ),
            (
                serde_json::json!({"name": "p", "dest_registry": {"id": remote}, "trigger": {"type": "hourly"}}),
                "manual, scheduled or event_based",
            ),
            (
                serde_json::json!({"name": "p", "dest_registry": {"id": remote}, "filters": [{"type": "tag", "value": "v[", "decoration": "matches"}]}),
                "tag filter",
            ),
            (
                serde_json::json!({"name": "p", "dest_registry": {"id": remote}, "filters": [{"type": "tag", "value": "v*", "decoration": "keeps"}]}),
                "decoration",
            ),
            (
                serde_json::json!({"name": "p", "dest_registry": {"id": remote}, "filters": [{"type": "resource", "value": "chart"}]}),
                "\"image\" or \"artifact\"",
            ),
            (
                serde_json::json!({"name": "p", "dest_registry": {"id": remote}, "filters": [{"type": "size", "value": "1"}]}),
                "name, tag, label or resource",
            ),
            (
                serde_json::json!({"name": "p", "dest_registry": {"id": remote}, "dest_namespace": "Bad Name"}),
                "dest_namespace",
            ),
            (
                serde_json::json!({"name": "p", "dest_registry": {"id": remote}, "speed": -5}),
                "KiB/s",
            ),
        ];
        for (body, expected) in cases {
            let err = policies
                .create(&admin(), None, policy(body.clone()))
                .await
                .unwrap_err();
            assert_eq!(kind(&err), Some(ApiErrorKind::BadRequest), "{body}: {err}");
            assert!(err.to_string().contains(expected), "{body}: {err}");
        }
        let ok = serde_json::json!({"name": "p", "dest_registry": {"id": remote}, "trigger": {"type": "event_based"}});
        policies
            .create(&admin(), None, policy(ok.clone()))
            .await
            .unwrap();
        let err = policies
            .create(&admin(), None, policy(ok))
            .await
            .unwrap_err();
        assert_eq!(kind(&err), Some(ApiErrorKind::Conflict), "{err}");
    }
}
