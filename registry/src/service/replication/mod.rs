//! Replication (issue 14): registry endpoints, and (to come) replication
//! policies and their executions on the lifecycle job queue.

pub mod policies;
pub mod registries;
pub mod secret;

pub use policies::{Filter, Policies, RegistryRef, ReplicationPolicy, Trigger, TriggerSettings};
pub use registries::{
    Endpoint, Registries, Registry, RegistryCredential, RegistryPing, RegistryType, RegistryUpdate,
    SECRET_MASK,
};
pub use secret::{SecretKey, SecretKeyError};
