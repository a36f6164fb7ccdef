//! Lifecycle: what happens to content over time, by rule. Tag immutability and
//! project quotas guard writes (installed in distribution as
//! [`WriteGuard`](super::distribution::WriteGuard)s); retention deletes what its
//! policy does not keep, through distribution.

pub mod immutability;
pub mod quota;
pub mod retention;
mod selectors;

pub use immutability::{Immutability, ImmutableRule};
pub use quota::Quotas;
pub use retention::{Retention, RetentionPolicy};
