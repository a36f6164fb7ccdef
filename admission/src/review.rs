//! One AdmissionReview in, one out: which images, resolved to what, allowed
//! or not by the gate, and what the mode and failure policy make of that.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::join_all;
use kube_core::admission::{
    AdmissionRequest, AdmissionResponse, AdmissionReview, META_API_VERSION_V1, META_KIND, Operation,
};
use kube_core::{DynamicObject, Status};
use tokio::time::Instant;

use super::exclude::Exclusions;
use super::gate::{GateVerdict, ImageGate, ImageRef};
use super::images::{WorkloadImage, WorkloadKind, extract};
use super::patch::pin_patch;
use super::resolve::{ResolveError, Resolver};

/// `enforce` denies violations; `audit` allows them with warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Audit,
}

/// What to do when an image could not be checked (registry down, deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Deny, saying what could not be checked.
    Fail,
    /// Allow, with a warning saying what was not checked.
    Ignore,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if *self == Mode::Enforce {
            "enforce"
        } else {
            "audit"
        })
    }
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub mode: Mode,
    pub failure_policy: FailurePolicy,
    /// Budget for one review, registry lookups and gate included. Keep it
    /// below the webhook's `timeoutSeconds` (API server default 10 s).
    pub timeout: Duration,
    pub exclusions: Exclusions,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            mode: Mode::Enforce,
            failure_policy: FailurePolicy::Fail,
            timeout: Duration::from_secs(8),
            exclusions: Exclusions::default(),
        }
    }
}

/// The request body could not be read as an AdmissionReview v1 (HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum BadReview {
    #[error("the body is not a valid AdmissionReview: {0}")]
    Malformed(String),
    #[error(
        "unsupported {kind} version {api_version:?}: this webhook speaks admission.k8s.io/v1 AdmissionReview"
    )]
    Version { api_version: String, kind: String },
    #[error("the AdmissionReview has no request")]
    NoRequest,
}

/// What became of one distinct image.
#[derive(Debug, Clone)]
enum Outcome {
    Excluded,
    Checked {
        digest: String,
        verdict: GateVerdict,
    },
    /// Denied before or without a digest (bad reference, forbidden registry, no such tag).
    Refused {
        reasons: Vec<String>,
    },
    /// Could not be checked; the failure policy decides.
    Failed {
        reason: String,
    },
}

pub struct Webhook {
    config: WebhookConfig,
    resolver: Resolver,
    gate: Option<Arc<dyn ImageGate>>,
}

/// The decision about one request, before it is shaped as a response.
#[derive(Debug, Default)]
struct Decision {
    allowed: bool,
    message: String,
    warnings: Vec<String>,
    /// (image, digest to pin it to) for the mutating endpoint.
    pins: Vec<(WorkloadImage, Option<String>)>,
    images: usize,
    /// Why nothing was checked, when nothing was.
    skipped: Option<&'static str>,
}

impl Decision {
    fn skip(why: &'static str) -> Self {
        Decision {
            allowed: true,
            skipped: Some(why),
            ..Default::default()
        }
    }
}

impl Webhook {
    /// `gate: None` checks only that every image resolves (exists).
    pub fn new(
        config: WebhookConfig,
        resolver: Resolver,
        gate: Option<Arc<dyn ImageGate>>,
    ) -> Self {
        Webhook {
            config,
            resolver,
            gate,
        }
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// A request body in, the response body out. `mutate` adds the pinning patch.
    pub async fn handle(&self, body: &[u8], mutate: bool) -> Result<Vec<u8>, BadReview> {
        self.handle_within(body, mutate, None).await
    }

    /// [`handle`](Self::handle) for an API server that waits at most
    /// `api_timeout` (it sends `?timeout=10s` on the URL): the budget shrinks
    /// to 90% of it when that is shorter than `--timeout`, so the answer is
    /// never later than the API server is willing to wait.
    pub async fn handle_within(
        &self,
        body: &[u8],
        mutate: bool,
        api_timeout: Option<Duration>,
    ) -> Result<Vec<u8>, BadReview> {
        let review: AdmissionReview<DynamicObject> =
            serde_json::from_slice(body).map_err(|e| BadReview::Malformed(e.to_string()))?;
        if review.types.api_version != META_API_VERSION_V1 || review.types.kind != META_KIND {
            return Err(BadReview::Version {
                api_version: review.types.api_version,
                kind: review.types.kind,
            });
        }
        let request: AdmissionRequest<DynamicObject> =
            review.try_into().map_err(|_| BadReview::NoRequest)?;
        let budget =
            api_timeout.map_or(self.config.timeout, |t| self.config.timeout.min(t * 9 / 10));
        let response = self.review_within(&request, mutate, budget).await;
        Ok(to_wire(response))
    }

    /// The response to one request, within the configured budget.
    pub async fn review(
        &self,
        req: &AdmissionRequest<DynamicObject>,
        mutate: bool,
    ) -> AdmissionResponse {
        self.review_within(req, mutate, self.config.timeout).await
    }

    async fn review_within(
        &self,
        req: &AdmissionRequest<DynamicObject>,
        mutate: bool,
        budget: Duration,
    ) -> AdmissionResponse {
        let started = Instant::now();
        let decision = self.decide(req, started + budget, budget).await;
        let name = req
            .object
            .as_ref()
            .or(req.old_object.as_ref())
            .and_then(|o| {
                o.metadata
                    .name
                    .clone()
                    .or_else(|| o.metadata.generate_name.as_ref().map(|g| format!("{g}*")))
            })
            .unwrap_or_else(|| req.name.clone());
        tracing::info!(
            uid = %req.uid,
            namespace = req.namespace.as_deref().unwrap_or(""),
            kind = %req.kind.kind,
            name = %name,
            operation = ?req.operation,
            allowed = decision.allowed,
            mode = %self.config.mode,
            images = decision.images,
            skipped = decision.skipped.unwrap_or(""),
            warnings = decision.warnings.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "admission decision"
        );
        if !decision.allowed {
            tracing::info!(uid = %req.uid, reason = %decision.message, "admission denied");
        }

        let mut response = AdmissionResponse::from(req);
        if !decision.allowed {
            response.allowed = false;
            response.result = Status::failure(&decision.message, "Forbidden").with_code(403);
        }
        if !decision.warnings.is_empty() {
            response.warnings = Some(decision.warnings);
        }
        if mutate && decision.allowed {
            let patch = pin_patch(decision.pins.iter().map(|(img, d)| (img, d.as_deref())));
            if !patch.0.is_empty() {
                response = match response.clone().with_patch(patch) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(uid = %req.uid, error = %e, "serialising the patch failed; answering without it");
                        response
                    }
                };
            }
        }
        response
    }

    async fn decide(
        &self,
        req: &AdmissionRequest<DynamicObject>,
        deadline: Instant,
        budget: Duration,
    ) -> Decision {
        if matches!(req.operation, Operation::Delete | Operation::Connect) {
            return Decision::skip("operation");
        }
        let Some(kind) = WorkloadKind::from_gvk(&req.kind.group, &req.kind.version, &req.kind.kind)
        else {
            return Decision::skip("kind");
        };
        if req
            .namespace
            .as_deref()
            .is_some_and(|ns| self.config.exclusions.namespace(ns))
        {
            return Decision::skip("namespace");
        }
        let Some(object) = &req.object else {
            return Decision::skip("no object");
        };
        let mut images = match extract(kind, &object.data) {
            Ok(images) => images,
            Err(e) => {
                return self.conclude(vec![e.to_string()], Vec::new(), Vec::new(), Vec::new(), 0);
            }
        };
        if images.is_empty() {
            return Decision::skip("no images");
        }
        // On UPDATE only images the old object did not run are checked: scaling
        // or relabelling a workload admitted earlier must not fail because a tag
        // was deleted, a registry is down or a policy changed since.
        if req.operation == Operation::Update
            && let Some(old) = req
                .old_object
                .as_ref()
                .and_then(|o| extract(kind, &o.data).ok())
        {
            images.retain(|i| !old.iter().any(|o| o.image == i.image));
            if images.is_empty() {
                return Decision::skip("images unchanged");
            }
        }

        let mut distinct: Vec<&str> = images.iter().map(|i| i.image.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let outcomes: HashMap<&str, Outcome> =
            join_all(distinct.into_iter().map(|image| async move {
                let outcome = tokio::time::timeout_at(deadline, self.check_image(image))
                    .await
                    .unwrap_or_else(|_| Outcome::Failed {
                        reason: format!("no answer within the {} ms budget", budget.as_millis()),
                    });
                (image, outcome)
            }))
            .await
            .into_iter()
            .collect();

        let (mut violations, mut failures, mut warnings, mut pins) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for img in &images {
            let who = format!("{} image \"{}\"", img.describe(), img.image);
            let mut digest = None;
            match &outcomes[img.image.as_str()] {
                Outcome::Excluded => {}
                Outcome::Checked { digest: d, verdict } => {
                    digest = Some(d.clone());
                    warnings.extend(verdict.warnings.iter().map(|w| format!("{who}: {w}")));
                    if !verdict.allowed {
                        if verdict.reasons.is_empty() {
                            violations.push(format!("{who}: denied by policy"));
                        }
                        violations.extend(verdict.reasons.iter().map(|r| format!("{who}: {r}")));
                    }
                }
                Outcome::Refused { reasons } => {
                    violations.extend(reasons.iter().map(|r| format!("{who}: {r}")))
                }
                Outcome::Failed { reason } => failures.push(format!("{who}: {reason}")),
            }
            pins.push((img.clone(), digest));
        }
        self.conclude(violations, failures, warnings, pins, images.len())
    }

    /// Applies the failure policy and the mode.
    fn conclude(
        &self,
        mut violations: Vec<String>,
        failures: Vec<String>,
        mut warnings: Vec<String>,
        pins: Vec<(WorkloadImage, Option<String>)>,
        images: usize,
    ) -> Decision {
        for f in failures {
            match self.config.failure_policy {
                FailurePolicy::Fail => {
                    violations.push(format!("{f} (could not be checked; failure policy: fail)"))
                }
                FailurePolicy::Ignore => warnings.push(format!(
                    "{f} (not checked; allowed by failure policy: ignore)"
                )),
            }
        }
        let mut decision = Decision {
            allowed: true,
            pins,
            images,
            ..Default::default()
        };
        if !violations.is_empty() {
            match self.config.mode {
                Mode::Enforce => {
                    decision.allowed = false;
                    decision.message = violations.join("; ");
                }
                Mode::Audit => warnings.extend(
                    violations
                        .into_iter()
                        .map(|v| format!("audit: would deny: {v}")),
                ),
            }
        }
        decision.warnings = warnings;
        decision
    }

    /// Exclusion, name check, tag resolution, then the gate, for one image.
    async fn check_image(&self, written: &str) -> Outcome {
        let parsed = ImageRef::parse(written);
        if self.config.exclusions.image(written, parsed.as_ref().ok()) {
            return Outcome::Excluded;
        }
        let image = match parsed {
            Ok(i) => i,
            Err(e) => {
                return Outcome::Refused {
                    reasons: vec![format!("not a valid image reference ({e})")],
                };
            }
        };
        if let Some(v) = self
            .gate
            .as_ref()
            .and_then(|g| g.check_name(&image))
            .filter(|v| !v.allowed)
        {
            return Outcome::Refused { reasons: v.reasons };
        }
        let digest = match self.resolver.resolve(&image).await {
            Ok((d, _)) => d,
            Err(ResolveError::NotFound(name)) => {
                return Outcome::Refused {
                    reasons: vec![format!(
                        "{name} does not exist in the registry (no such tag or repository)"
                    )],
                };
            }
            Err(e @ ResolveError::Unavailable { .. }) => {
                return Outcome::Failed {
                    reason: e.to_string(),
                };
            }
        };
        let verdict = match &self.gate {
            None => GateVerdict::allow(),
            Some(gate) => match gate.check(&image.with_digest(&digest)).await {
                Ok(v) => v,
                Err(e) => {
                    return Outcome::Failed {
                        reason: format!("policy check failed: {e}"),
                    };
                }
            },
        };
        Outcome::Checked { digest, verdict }
    }
}

/// The response review as JSON, with the patch base64-encoded as the API
/// server documents it (kube-core writes `Vec<u8>` as an array of numbers).
fn to_wire(response: AdmissionResponse) -> Vec<u8> {
    let patch = response.patch.clone();
    let mut value = serde_json::to_value(response.into_review()).expect("plain data serialises");
    if let (Some(p), Some(slot)) = (patch, value.pointer_mut("/response/patch")) {
        *slot = serde_json::Value::String(STANDARD.encode(p));
    }
    serde_json::to_vec(&value).expect("plain data serialises")
}
