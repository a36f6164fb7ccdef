//! Webhooks (Harbor's `webhook/policies`): per project, which events to tell
//! which HTTP targets, in Harbor's `Default` JSON or CloudEvents, signed with
//! HMAC-SHA256 when the policy has a secret.
//!
//! The push path never waits for a receiver: the subscriber only puts the event
//! on a bounded channel (a full channel drops the event with a warning rather
//! than slow a push); the intake task turns it into durable delivery rows; the
//! [`delivery`] worker sends them with a deadline and retries with backoff.

mod delivery;
pub mod payload;
pub mod policy;

use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;

pub use delivery::DeliveryOptions;
pub use policy::{EVENT_TYPES, NOTIFY_TYPES, PAYLOAD_FORMATS, Target, WebhookPolicy};

use self::delivery::Deliverer;
use self::payload::Notice;
use crate::auth::Principal;
use crate::auth::rbac::Action;
use crate::error::{RegistryError, Result};
use crate::metadata::WebhookStore;
use crate::metadata::now;
use crate::metadata::webhooks::{Delivery, NewDelivery, StoredWebhook};
use crate::service::access::Access;
use crate::service::events::{Event, Subscriber};
use crate::service::metrics::Metrics;

/// Events waiting for the intake task; beyond this, events are dropped (and counted).
const INTAKE_CAPACITY: usize = 1024;

/// Options of the webhook service.
#[derive(Debug, Clone, Default)]
pub struct WebhookOptions {
    /// The registry's host as clients name it (`resource_url`s in payloads).
    pub registry_host: String,
    pub delivery: DeliveryOptions,
}

pub struct Webhooks {
    store: Arc<dyn WebhookStore>,
    access: Arc<Access>,
    host: String,
    /// Set by [`Webhooks::start`], with the task that drains it: a registry
    /// opened but never started (`wharf dev populate` fills a data directory
    /// offline) has nobody to deliver to, so its events are not queued at all.
    intake: OnceLock<mpsc::Sender<Event>>,
    deliverer: Arc<Deliverer>,
    metrics: Arc<Metrics>,
}

/// A stored policy with its id, project and times filled in.
pub(crate) fn parse_stored(s: &StoredWebhook) -> Result<WebhookPolicy> {
    let mut p: WebhookPolicy = serde_json::from_str(&s.body)
        .map_err(|e| RegistryError::Internal(format!("stored webhook policy {}: {e}", s.id)))?;
    p.id = s.id;
    p.project_id = s.project_id;
    p.name = s.name.clone();
    p.creation_time = crate::service::time_rfc3339(s.created_at);
    p.update_time = crate::service::time_rfc3339(s.updated_at);
    Ok(p)
}

/// A policy as callers see it: the secret is write-only.
fn shown(mut p: WebhookPolicy) -> WebhookPolicy {
    p.secret = None;
    p
}

fn body(p: &WebhookPolicy) -> Result<String> {
    serde_json::to_string(p).map_err(|e| RegistryError::Internal(e.to_string()))
}

fn name_taken(project: &str, name: &str) -> RegistryError {
    RegistryError::conflict(format!(
        "project {project} already has a webhook policy named {name:?}"
    ))
}

fn not_found(id: i64) -> RegistryError {
    RegistryError::not_found(format!("webhook policy {id} not found"))
}

impl Webhooks {
    pub fn new(
        store: Arc<dyn WebhookStore>,
        access: Arc<Access>,
        options: WebhookOptions,
        metrics: Arc<Metrics>,
    ) -> Self {
        Webhooks {
            deliverer: Arc::new(Deliverer::new(
                store.clone(),
                options.delivery,
                metrics.clone(),
            )),
            store,
            access,
            host: options.registry_host,
            intake: OnceLock::new(),
            metrics,
        }
    }

    /// Start the intake task and the deliverer (once).
    pub fn start(self: &Arc<Self>) {
        let (intake, mut rx) = mpsc::channel(INTAKE_CAPACITY);
        if self.intake.set(intake).is_err() {
            return; // started already
        }
        tokio::spawn(self.deliverer.clone().run());
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let Some(this) = this.upgrade() else { return };
                if let Err(e) = this.queue(&event).await {
                    tracing::warn!(error = %e, "queueing webhook deliveries");
                }
            }
        });
    }

    /// The deliveries an event makes: one per target of every enabled policy of
    /// the event's project that wants its type.
    async fn queue(&self, event: &Event) -> Result<()> {
        let Some(notice) = Notice::from_event(event, &self.host, now()) else {
            return Ok(());
        };
        let project = match self.access.project(&notice.project).await {
            Ok(p) => p,
            Err(_) => return Ok(()),
        };
        let mut new = Vec::new();
        for stored in self.store.webhooks(project.id).await? {
            let policy = parse_stored(&stored)?;
            if !policy.wants(notice.event_type) {
                continue;
            }
            let source = format!("/projects/{}/webhook/policies/{}", project.id, policy.id);
            for target in &policy.targets {
                new.push(NewDelivery {
                    policy_id: policy.id,
                    event_type: notice.event_type.to_string(),
                    target: target.address.clone(),
                    payload: notice.render(
                        &target.payload_format,
                        &source,
                        &uuid::Uuid::new_v4().to_string(),
                    ),
                });
            }
        }
        if !new.is_empty() {
            self.store.queue_deliveries(&new).await?;
            self.deliverer.wake.notify_one();
        }
        Ok(())
    }

    pub async fn list(&self, who: &Principal, project: &str) -> Result<Vec<WebhookPolicy>> {
        let p = self
            .access
            .project_for(who, project, Action::ReadWebhooks)
            .await?;
        self.store
            .webhooks(p.id)
            .await?
            .iter()
            .map(|s| parse_stored(s).map(shown))
            .collect()
    }

    pub async fn get(&self, who: &Principal, project: &str, id: i64) -> Result<WebhookPolicy> {
        let (_, policy) = self.policy(who, project, id, Action::ReadWebhooks).await?;
        Ok(shown(policy))
    }

    /// The project (if `who` may do `action` there) and its policy `id`, secret included.
    async fn policy(
        &self,
        who: &Principal,
        project: &str,
        id: i64,
        action: Action,
    ) -> Result<(crate::metadata::identity::Project, WebhookPolicy)> {
        let p = self.access.project_for(who, project, action).await?;
        let stored = self
            .store
            .webhook(p.id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let policy = parse_stored(&stored)?;
        Ok((p, policy))
    }

    pub async fn create(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        mut policy: WebhookPolicy,
    ) -> Result<i64> {
        let p = self
            .access
            .project_for(who, project, Action::ManageWebhooks)
            .await?;
        policy.check()?;
        policy.name = policy.name.trim().to_string();
        policy.creator = who.name().to_string();
        let id = self
            .store
            .create_webhook(p.id, &policy.name, &body(&policy)?)
            .await?
            .ok_or_else(|| name_taken(&p.name, &policy.name))?;
        self.access.audit(
            who,
            "create",
            "webhook_policy",
            &format!("{}/{id}", p.name),
            ip,
        );
        Ok(id)
    }

    /// Replace a policy. A body without `secret` keeps the stored secret (the API
    /// never shows it, so a client editing what it read would otherwise drop it).
    pub async fn update(
        &self,
        who: &Principal,
        ip: Option<&str>,
        project: &str,
        id: i64,
        mut policy: WebhookPolicy,
    ) -> Result<()> {
        let (p, old) = self
            .policy(who, project, id, Action::ManageWebhooks)
            .await?;
        policy.check()?;
        policy.name = policy.name.trim().to_string();
        policy.creator = old.creator;
        if policy.secret.is_none() {
            policy.secret = old.secret;
        }
        if !self
            .store
            .update_webhook(p.id, id, &policy.name, &body(&policy)?)
            .await?
        {
            return Err(name_taken(&p.name, &policy.name));
        }
        self.access.audit(
            who,
            "update",
            "webhook_policy",
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
            .project_for(who, project, Action::ManageWebhooks)
            .await?;
        if !self.store.delete_webhook(p.id, id).await? {
            return Err(not_found(id));
        }
        self.access.audit(
            who,
            "delete",
            "webhook_policy",
            &format!("{}/{id}", p.name),
            ip,
        );
        Ok(())
    }

    /// A policy's deliveries, newest first, and their total.
    pub async fn deliveries(
        &self,
        who: &Principal,
        project: &str,
        id: i64,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Delivery>, u64)> {
        self.get(who, project, id).await?;
        let list = self.store.deliveries(id, offset, limit).await?;
        Ok((list, self.store.count_deliveries(id).await?))
    }

    pub async fn delivery(
        &self,
        who: &Principal,
        project: &str,
        id: i64,
        delivery: i64,
    ) -> Result<Delivery> {
        self.get(who, project, id).await?;
        self.store
            .delivery(id, delivery)
            .await?
            .ok_or_else(|| RegistryError::not_found(format!("execution {delivery} not found")))
    }

    /// Whether the caller may see the project's webhook settings (`…/webhook/events`).
    pub async fn may_read(&self, who: &Principal, project: &str) -> Result<()> {
        self.access
            .project_for(who, project, Action::ReadWebhooks)
            .await
            .map(drop)
    }
}

#[async_trait::async_trait]
impl Subscriber for Webhooks {
    async fn on_event(&self, event: &Event) {
        let Some(intake) = self.intake.get() else {
            return; // not started: see `intake`
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = intake.try_send(event.clone()) {
            Metrics::outcome(&self.metrics.webhook_deliveries, "dropped");
            tracing::warn!("webhook intake full: an event was not delivered");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::digest::Digest;
    use crate::names::RepoName;
    use crate::service::events::Event;
    use crate::service::metrics::OutcomeLabel;
    use crate::service::{Options, Services, Stores};

    /// A registry opened but never started (as `wharf dev populate` opens one)
    /// has no intake task: its pushes must not fill a queue nobody drains. They
    /// did, and from the 1,025th push on each was dropped with a warning.
    #[tokio::test]
    async fn events_of_a_registry_never_started_are_not_queued() {
        let (_dir, meta, blobs) = crate::service::test_stores().await;
        let services = Services::new(Stores::from_backend(meta, blobs), Options::default());
        let event = Event::ArtifactPushed {
            repository: RepoName::parse("library/app").unwrap(),
            digest: Digest::sha256_of(b"manifest"),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            artifact_type: None,
            has_subject: false,
            tag: Some("v1".into()),
        };
        for _ in 0..2 * super::INTAKE_CAPACITY {
            services.distribution.events().publish(&event).await;
        }
        let dropped = services
            .metrics
            .webhook_deliveries
            .get_or_create(&OutcomeLabel {
                outcome: "dropped".into(),
            })
            .get();
        assert_eq!(dropped, 0);
    }
}
