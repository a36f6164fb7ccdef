//! The deliverer: works the durable queue of deliveries (rows in the webhook
//! store). A delivery is claimed (Running, one more attempt), sent with a
//! deadline, and finished as Success, Error (out of attempts) or Pending again
//! with a backoff. Deliveries run concurrently up to a bound, on their own
//! tasks: a slow or dead receiver holds one slot for at most the timeout and
//! never the push that caused the event. Rows left Running by a crash are
//! queued again at start.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use super::payload::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use super::policy::WebhookPolicy;
use crate::metadata::WebhookStore;
use crate::metadata::now;
use crate::metadata::webhooks::Delivery;
use crate::service::metrics::Metrics;

/// How deliveries are sent and retried.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Attempts before a delivery ends in Error (Harbor retries 3 times).
    pub max_attempts: i64,
    /// Wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// Deadline of one attempt (connect + send + response head).
    pub timeout: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            max_attempts: 3,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            concurrency: 8,
        }
    }
}

pub(super) struct Deliverer {
    store: Arc<dyn WebhookStore>,
    options: DeliveryOptions,
    /// Certificates checked / not checked (`skip_cert_verify`).
    client: reqwest::Client,
    insecure: reqwest::Client,
    pub(super) wake: Notify,
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

/// What one attempt came to.
struct Outcome {
    code: Option<i64>,
    ok: bool,
    line: String,
}

impl Deliverer {
    pub(super) fn new(
        store: Arc<dyn WebhookStore>,
        options: DeliveryOptions,
        metrics: Arc<Metrics>,
    ) -> Self {
        // reqwest is built without a default crypto provider; use ring, as wharf-oci does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let build = |insecure: bool| {
            reqwest::Client::builder()
                .timeout(options.timeout)
                .connect_timeout(options.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .danger_accept_invalid_certs(insecure)
                .user_agent(concat!("wharf-webhooks/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default()
        };
        Deliverer {
            client: build(false),
            insecure: build(true),
            slots: Arc::new(Semaphore::new(options.concurrency.max(1))),
            store,
            options,
            wake: Notify::new(),
            metrics,
        }
    }

    /// Work the queue until the process ends.
    pub(super) async fn run(self: Arc<Self>) {
        match self.store.requeue_running().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                n,
                "webhook deliveries interrupted by a restart queued again"
            ),
            Err(e) => tracing::warn!(error = %e, "requeueing webhook deliveries"),
        }
        loop {
            let free = self.slots.available_permits() as u32;
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match self.store.claim_deliveries(now(), free).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming webhook deliveries");
                        Vec::new()
                    }
                }
            };
            let busy = !claimed.is_empty();
            for delivery in claimed {
                let Ok(permit) = self.slots.clone().acquire_owned().await else {
                    return;
                };
                let this = self.clone();
                tokio::spawn(async move {
                    // Read when the attempt starts, so an edited target or secret applies to retries.
                    let policy = match this.store.webhook_by_id(delivery.policy_id).await {
                        Ok(p) => p.and_then(|p| super::parse_stored(&p).ok()),
                        Err(e) => {
                            tracing::warn!(error = %e, "reading a webhook policy");
                            None
                        }
                    };
                    this.attempt(delivery, policy).await;
                    drop(permit);
                    this.wake.notify_one();
                });
            }
            if !busy {
                // New deliveries wake us; retries come due on the clock.
                let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
            }
        }
    }

    async fn attempt(&self, d: Delivery, policy: Option<WebhookPolicy>) {
        let outcome = match &policy {
            Some(p) => self.send(&d, p).await,
            None => Outcome {
                code: None,
                ok: false,
                line: "the policy is gone".into(),
            },
        };
        let stamp = crate::service::time_rfc3339(now());
        let line = format!("{stamp} attempt {}: {}", d.attempts, outcome.line);
        let (status, next) = if outcome.ok {
            ("Success", now())
        } else if d.attempts >= self.options.max_attempts || policy.is_none() {
            ("Error", now())
        } else {
            let wait = self.options.backoff * 2u32.pow((d.attempts - 1).clamp(0, 16) as u32);
            ("Pending", now() + wait.as_secs().max(1) as i64)
        };
        let outcome_label = match status {
            "Success" => "success",
            "Error" => "error",
            _ => "retry",
        };
        Metrics::outcome(&self.metrics.webhook_deliveries, outcome_label);
        if let Err(e) = self
            .store
            .finish_attempt(d.id, status, outcome.code, next, &line)
            .await
        {
            tracing::warn!(delivery = d.id, error = %e, "recording a webhook attempt");
        }
    }

    async fn send(&self, d: &Delivery, p: &WebhookPolicy) -> Outcome {
        let Some(target) = p.targets.iter().find(|t| t.address == d.target) else {
            return Outcome {
                code: None,
                ok: false,
                line: format!("{} is no longer a target of the policy", d.target),
            };
        };
        let client = if target.skip_cert_verify {
            &self.insecure
        } else {
            &self.client
        };
        let content_type = if target.payload_format == "CloudEvents" {
            "application/cloudevents+json"
        } else {
            "application/json"
        };
        let mut req = client
            .post(&target.address)
            .header("Content-Type", content_type)
            .header(TIMESTAMP_HEADER, now().to_string())
            .body(d.payload.clone());
        if !target.auth_header.is_empty() {
            req = req.header("Authorization", &target.auth_header);
        }
        if let Some(secret) = &p.secret {
            req = req.header(SIGNATURE_HEADER, signature(secret, d.payload.as_bytes()));
        }
        match req.send().await {
            Ok(resp) => {
                let code = resp.status();
                Outcome {
                    code: Some(code.as_u16() as i64),
                    ok: code.is_success(),
                    line: format!("HTTP {}", code.as_u16()),
                }
            }
            Err(e) => Outcome {
                code: None,
                ok: false,
                line: if e.is_timeout() {
                    format!("no answer within {:?}", self.options.timeout)
                } else {
                    format!("{e}")
                },
            },
        }
    }
}
