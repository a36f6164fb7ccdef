//! Hearing what other replicas changed: each announced change drops the cache
//! that holds it (credential checks, the directory's settings). Caches not
//! covered here expire on a short timer instead (docs/design.md lists each).

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::metadata::ChangeFeed;
use crate::metadata::changes::{Change, Heard};

use super::access::Access;
use super::directory::Directory;

/// Listen on `feed` for as long as the services live; nothing when the
/// database has no other process to hear from (SQLite).
pub(super) fn watch(feed: Arc<dyn ChangeFeed>, access: Weak<Access>, directory: Weak<Directory>) {
    tokio::spawn(async move {
        let mut listener = match feed.listen().await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "listening for other replicas' changes failed; their changes are seen when caches expire");
                return;
            }
        };
        loop {
            let heard = listener.next().await;
            let (Some(access), Some(directory)) = (access.upgrade(), directory.upgrade()) else {
                return;
            };
            match heard {
                Ok(Heard::Change(Change::Credentials)) => access.forget_credentials_here(),
                Ok(Heard::Change(Change::Configurations)) => reload(&access, &directory).await,
                Ok(Heard::Gap) => {
                    tracing::warn!(
                        "lost the database's change notifications; dropping what is cached"
                    );
                    reload(&access, &directory).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for other replicas' changes");
                    reload(&access, &directory).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

async fn reload(access: &Access, directory: &Directory) {
    if let Err(e) = directory.reload().await {
        tracing::warn!(error = %e, "reading the authentication settings another replica changed");
    }
    access.forget_credentials_here();
}
