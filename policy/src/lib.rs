//! wharf-policy: the policy model and evaluator, the CI gate, and the Kubernetes
//! admission webhook.
//!
//! Works as a client of any OCI registry; never depends on `wharf-registry`.

pub mod admission;
