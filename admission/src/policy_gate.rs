//! The policy evaluator as the webhook's gate: the same [`Evaluator`] (and its
//! decision cache) that `wharf policy check` uses decides about each image.

use async_trait::async_trait;

use super::gate::{GateError, GateVerdict, ImageGate, ImageRef};
use wharf_policy::{Decision, Evaluator};

/// One reason per failed rule, named as `policy/rule: message`.
pub fn verdict(decision: &Decision) -> GateVerdict {
    GateVerdict {
        allowed: decision.allowed,
        reasons: decision
            .failures()
            .map(|r| format!("{}/{}: {}", r.policy, r.rule, r.message))
            .collect(),
        warnings: Vec::new(),
    }
}

#[async_trait]
impl ImageGate for Evaluator {
    async fn check(&self, image: &ImageRef) -> Result<GateVerdict, GateError> {
        let decision = Evaluator::check(self, &image.to_string())
            .await
            .map_err(|e| GateError(e.to_string()))?;
        Ok(verdict(&decision))
    }
}
