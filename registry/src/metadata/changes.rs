//! Changes one process tells the others sharing its database about, so that
//! what they cache in memory is dropped at once instead of when it expires.
//!
//! PostgreSQL carries them with `NOTIFY`/`LISTEN` on one channel; an SQLite
//! database belongs to one process, which needs no telling. A notification is
//! a hint, not a record: a listener whose connection dropped may have missed
//! some and must drop everything it caches (see [`ChangeListener::next`]).

use async_trait::async_trait;

use super::Result;

/// What changed, as the notification's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Users, passwords, robots, memberships, roles, groups, CLI secrets:
    /// remembered credential checks may no longer hold.
    Credentials,
    /// `/configurations` (authentication mode, LDAP, OIDC).
    Configurations,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Credentials => "credentials",
            Change::Configurations => "configurations",
        }
    }

    pub fn parse(s: &str) -> Option<Change> {
        match s {
            "credentials" => Some(Change::Credentials),
            "configurations" => Some(Change::Configurations),
            _ => None,
        }
    }
}

/// What a listener heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    Change(Change),
    /// The connection was lost and is being re-established: changes announced
    /// meanwhile are not heard, so the caller drops everything it caches.
    Gap,
}

#[async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// Tell every process listening on this database (this one included).
    async fn announce(&self, change: Change) -> Result<()>;
    /// Changes announced from now on; `None` when no other process can share
    /// the database (nothing to listen to).
    async fn listen(&self) -> Result<Option<Box<dyn ChangeListener>>>;
}

#[async_trait]
pub trait ChangeListener: Send {
    /// The next change (payloads it does not know are skipped).
    async fn next(&mut self) -> Result<Heard>;
}
