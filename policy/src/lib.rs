//! wharf-policy: one policy evaluator for three gates — the CI gate (`wharf policy check`),
//! the Kubernetes admission webhook (the `wharf-admission` crate) and the registry's own
//! pull gate. No Kubernetes types here: the registry links this crate.
//!
//! The pieces, in the order data flows through them:
//! - [`model`]: the `ImagePolicy` documents (`apiVersion: wharf.dev/v1`) as serde types;
//! - [`load`]: YAML files (or policies built in Rust) validated into a [`PolicySet`], with
//!   errors that name the file, the line and column, the YAML path and what is wrong;
//! - [`facts`]: the JSON document of what is known about one image (signatures,
//!   attestations, SBOM, vulnerabilities), each fact with its source;
//! - [`collect`]: gathers those facts from any OCI registry (only what the matching
//!   policies need);
//! - [`evaluate`]: a pure function policies + facts + now → [`Decision`], built-in rules
//!   and Rego (through `regorus`);
//! - [`cache`]: decisions by policy-set version and image digest, bounded, with a TTL;
//! - [`Evaluator`]: the async façade the gates share (`Send + Sync`, put it in an `Arc`).
//!
//! Never depends on `wharf-registry`: it works against any registry.

pub mod cache;
pub mod collect;
mod error;
pub mod evaluate;
mod evaluator;
pub mod facts;
pub mod glob;
pub mod load;
pub mod model;
mod rego;
pub mod time;
mod validate;

pub use error::{Error, Invalid};
pub use evaluate::{Decision, RuleResult, evaluate};
pub use evaluator::{Evaluator, EvaluatorOptions, RegistryOptions};
pub use facts::Facts;
pub use load::PolicySet;
pub use model::ImagePolicy;
