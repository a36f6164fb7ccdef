//! Replication: registry endpoints, replication policies, and their executions
//! on the lifecycle job queue, done by the copy engine.

pub mod copy;
pub mod executions;
pub mod policies;
pub mod registries;
pub mod secret;

pub use copy::LocalProjects;
pub use executions::{Execution, Replication, ReplicationOptions, Task};
pub use policies::{Filter, Policies, RegistryRef, ReplicationPolicy, Trigger, TriggerSettings};
pub use registries::{
    Endpoint, Registries, Registry, RegistryCredential, RegistryPing, RegistryType, RegistryUpdate,
    SECRET_MASK,
};
pub use secret::{SecretKey, SecretKeyError};

/// What the tests of this service share: an administrator, the kind of an API
/// error, endpoints on a fresh database.
#[cfg(test)]
mod test_support {
    use std::sync::Arc;

    use super::{Registries, SecretKey};
    use crate::auth::Principal;
    use crate::error::{ApiErrorKind, RegistryError};
    use crate::metadata::SqliteMetadata;
    use crate::service::access::Access;

    pub fn admin() -> Principal {
        Principal::User {
            id: 1,
            name: "admin".into(),
            sysadmin: true,
        }
    }

    pub fn kind(e: &RegistryError) -> Option<ApiErrorKind> {
        match e {
            RegistryError::Api { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Authentication off; credentials sealed with a fixed key.
    pub async fn registries(
        dir: &std::path::Path,
    ) -> (Arc<SqliteMetadata>, Arc<Access>, Arc<Registries>) {
        let meta = Arc::new(SqliteMetadata::open(&dir.join("wharf.db")).await.unwrap());
        let access = Arc::new(Access::new(meta.clone(), None));
        let key = Arc::new(SecretKey::from_bytes(&[3; 32]));
        let registries = Arc::new(Registries::new(meta.clone(), access.clone(), Some(key)));
        (meta, access, registries)
    }
}
