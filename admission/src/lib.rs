//! wharf-admission: the Kubernetes validating and mutating admission webhook
//! (`wharf admission serve`). Its own crate so that the Kubernetes types (kube-core,
//! k8s-openapi) stay out of `wharf-policy`, which the registry links; images are decided
//! by `wharf-policy`'s `Evaluator` through the [`ImageGate`] boundary.
//!
//! ```text
//! server.rs      HTTPS endpoints /validate, /mutate, /healthz (rustls + ring)
//! review.rs      AdmissionReview v1 in → decision → AdmissionReview out (mode, failure policy, budget)
//! images.rs      every image a workload pulls, with the JSON pointer to its field
//! resolve.rs     tag → digest against the image's registry (wharf-oci's client)
//! cache.rs       the digest cache: TTL, one request per tag however many reviews wait for it
//! patch.rs       JSONPatch pinning each image to the digest it was checked at
//! exclude.rs     excluded namespaces and image globs
//! gate.rs        `ImageGate`: the boundary the policy evaluator implements
//! policy_gate.rs the `Evaluator` as an `ImageGate`
//! registries.rs  `--allow-registry`: a gate that needs no policy file
//! ```

pub mod cache;
pub mod exclude;
pub mod gate;
pub mod images;
pub mod patch;
pub mod policy_gate;
pub mod registries;
pub mod resolve;
pub mod review;
pub mod server;

#[cfg(test)]
mod review_tests;

pub use gate::{AllGates, GateError, GateVerdict, ImageGate, ImageRef};
pub use registries::AllowedRegistries;
pub use resolve::{Resolver, ResolverOptions};
pub use review::{FailurePolicy, Mode, Webhook, WebhookConfig};
